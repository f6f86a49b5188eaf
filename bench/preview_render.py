"""Preview engine speed: render+encode a 5 s 720p clip versus encoding precomputed frames.

Run: ``.venv/bin/python bench/preview_render.py``. The baseline encodes the engine's own frames,
rendered beforehand, with the same encoder settings (x264 speed depends on the content); the goal
is render+encode <= 1.5 x encode alone.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from kirin_api.contract.job import OutputSpec, RenderJob
from kirin_api.engines.base import RenderControl
from kirin_api.engines.preview import PreviewEngine
from kirin_api.media.encode import X264_CRF, X264_PRESET, VideoTarget, encode_mp4

SPEC = OutputSpec(width=1280, height=720, fps=30, frames=150)
CASES: dict[str, dict[str, Any]] = {
    "default camera": {"prompt": "a forest at sunset with birds", "camera_control": None},
    "camera_control pan": {
        "prompt": "snowy mountains under a blue sky",
        "camera_control": {"type": "simple", "config": {"pan": 6}},
    },
}


def main() -> None:
    engine = PreviewEngine()
    print(
        f"x264 preset={X264_PRESET} crf={X264_CRF}, {SPEC.width}x{SPEC.height}, "
        f"{SPEC.frames} frames"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, params in CASES.items():
            job = RenderJob("bench", "kirin_v1_t2v", params, SPEC, seed=1)
            t0 = time.perf_counter()
            frames = list(engine.render(job, RenderControl()).frames)
            render_s = time.perf_counter() - t0
            kw: dict[str, Any] = {
                "width": SPEC.width,
                "height": SPEC.height,
                "fps": SPEC.fps,
                "total_frames": SPEC.frames,
            }
            t0 = time.perf_counter()
            encode_mp4(iter(frames), [VideoTarget(Path(tmp) / "base.mp4")], **kw)
            encode_s = time.perf_counter() - t0
            del frames
            t0 = time.perf_counter()
            encode_mp4(
                engine.render(job, RenderControl()).frames,
                [VideoTarget(Path(tmp) / "full.mp4")],
                **kw,
            )
            full_s = time.perf_counter() - t0
            print(
                f"{name:20s} render only {render_s:5.2f}s  encode only {encode_s:5.2f}s  "
                f"render+encode {full_s:5.2f}s  ratio {full_s / encode_s:4.2f} (goal <= 1.5)  "
                f"real-time factor {full_s / SPEC.duration:4.2f}"
            )


if __name__ == "__main__":
    main()
