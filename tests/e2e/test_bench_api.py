"""The API benchmark's smoke mode runs end to end (its figures are not judged here: a test is no
place for timings; see docs/benchmarks.md for the measured ones)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "api.py"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (Debian: apt-get install wrk)")
def test_the_api_bench_runs_in_smoke_mode() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for operation in ("get_one", "list", "post"):
        line = next(line for line in out.splitlines() if line.strip().startswith(operation))
        rates = [float(n) for n in re.findall(r"(\d+) req/s", line)]
        assert len(rates) == 2, line  # bare and kirin
        assert all(rate > 0 for rate in rates), line
        assert "kirin/bare" in line, line
        assert "errors" not in line, line
    assert re.search(r"rate limit .* cost", out), out
    assert re.search(r"sqlite: goals (met|NOT met)", out), out
