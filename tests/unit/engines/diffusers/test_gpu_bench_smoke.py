"""bench/gpu_engine.py still runs: its --tiny mode, on whatever device this is, prints every row."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

ROOT = Path(__file__).resolve().parents[4]


@pytest.mark.slow
def test_the_gpu_benchmark_runs_in_tiny_mode() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_engine.py"), "--tiny", "--device", "cpu"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "% bf16 peak" in out
    number = r"\d+\.\d+"
    for row in ("stock", "ours", "ours+cache"):
        pattern = rf"^{re.escape(row)} +{number} +{number} +{number} +- +\S+% +{number}x$"
        assert re.search(pattern, out, re.MULTILINE), f"no {row} row in:\n{out}"
    assert re.search(r"^stock .* 1\.00x$", out, re.MULTILINE)
    # The ours rows went through apply_speedups and batched guidance.
    assert "ours: bf16, attention:native, cfg:batched" in out
    assert "cache:first_block(0.05)" in out
