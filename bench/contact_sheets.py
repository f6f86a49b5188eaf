"""Contact sheets of the preview engine: the first, middle and last frame of a few requests.

Run: ``.venv/bin/python bench/contact_sheets.py [OUT_DIR]`` (default ``docs/images/preview``).
Writes one PNG per case (three frames side by side, 384x216 each, 288x216 for 4:3 inputs)
and prints its path; the pictures in docs/preview-engine.md are made by this script. Inputs
(subject pictures, a reference video) are drawn here, so the sheets are the same on every
machine with the same library versions.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py would shadow the standard library's ``queue`` (see preview_render.py).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import tempfile  # noqa: E402
from fractions import Fraction  # noqa: E402
from typing import Any  # noqa: E402

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from kirin_api.contract.job import OutputSpec, RenderJob  # noqa: E402
from kirin_api.engines.base import RenderControl  # noqa: E402
from kirin_api.engines.preview import PreviewEngine  # noqa: E402

SIZE = (384, 216)
SPEC = OutputSpec(width=SIZE[0], height=SIZE[1], fps=30, frames=150)
FOUR_THREE = OutputSpec(width=288, height=216, fps=30, frames=150)


def simple(axis: str, value: float) -> dict[str, Any]:
    return {"type": "simple", "config": {axis: value}}


def figure(path: Path, colour: tuple[int, int, int], square: bool = False) -> str:
    picture = np.empty((400, 300, 3), np.uint8)
    picture[:] = (238, 240, 244)
    if square:
        cv2.rectangle(picture, (70, 130), (230, 385), colour, -1)
        cv2.circle(picture, (150, 80), 50, (235, 195, 150), -1, cv2.LINE_AA)
    else:
        cv2.ellipse(picture, (150, 260), (80, 120), 0, 0, 360, colour, -1, cv2.LINE_AA)
        cv2.circle(picture, (150, 90), 55, colour, -1, cv2.LINE_AA)
    cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    return str(path)


def striped(x: int) -> np.ndarray:
    stripes = ((np.arange(400) // 12) % 2).astype(bool)
    row = np.where(stripes[:, None], (40, 120, 200), (230, 230, 210)).astype(np.uint8)
    scene = np.ascontiguousarray(np.broadcast_to(row[None], (300, 400, 3)))
    cv2.ellipse(scene, (x, 170), (30, 70), 0, 0, 360, (220, 30, 30), -1, cv2.LINE_AA)
    cv2.circle(scene, (x, 85), 22, (220, 30, 30), -1, cv2.LINE_AA)
    return scene


def walking_reference(path: Path) -> str:
    with av.open(str(path), "w", format="mp4") as out:
        stream: Any = out.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height, stream.pix_fmt = 400, 300, "yuv420p"
        for i in range(150):
            frame = av.VideoFrame.from_ndarray(striped(80 + round(240 * i / 150)), "rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return str(path)


def cases(tmp: Path) -> list[tuple[str, RenderJob]]:
    def t2v(prompt: str, camera: dict[str, Any] | None) -> RenderJob:
        params = {"prompt": prompt, "camera_control": camera}
        return RenderJob("sheet", "kirin_v1_t2v", params, SPEC, seed=7)

    refs = {
        "image_list.0.image": figure(tmp / "a.png", (200, 40, 40)),
        "image_list.1.image": figure(tmp / "b.png", (40, 70, 200), square=True),
    }
    multi = {"prompt": "two friends walking at sunset", "image_list": [{}, {}]}
    cv2.imwrite(str(tmp / "still.png"), cv2.cvtColor(striped(80), cv2.COLOR_RGB2BGR))
    motion_inputs = {
        "image_url": str(tmp / "still.png"),
        "video_url": walking_reference(tmp / "w.mp4"),
    }
    motion = {"character_orientation": "image", "keep_original_sound": "no", "mode": "std"}
    return [
        ("t2v-fox-truck-right", t2v("a red fox running through snow", simple("horizontal", 6))),
        ("t2v-horse-pan-left", t2v("a white horse galloping on a beach", simple("pan", -6))),
        (
            "t2v-car-zoom-in",
            t2v("a blue car driving through the city at night", simple("zoom", -6)),
        ),
        ("t2v-dog-and-cat", t2v("a dog and a cat on the hills", None)),
        ("t2v-bird-aerial", t2v("aerial shot of a yellow bird flying over a forest", None)),
        ("multi-i2v-two-figures", RenderJob("sheet", "kirin_v1_6_multi_i2v", multi, SPEC, 7, refs)),
        (
            "motion-control-figure",
            # The contract gives motion control the image's aspect ratio (4:3 here).
            RenderJob("sheet", "kirin_v3_motion_control", motion, FOUR_THREE, 7, motion_inputs),
        ),
    ]


def main() -> None:
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images/preview")
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = PreviewEngine()
    with tempfile.TemporaryDirectory() as tmp:
        for name, job in cases(Path(tmp)):
            frames = list(engine.render(job, RenderControl()).frames)
            picks = [frames[0], frames[len(frames) // 2], frames[-1]]
            sheet = np.concatenate(picks, axis=1)
            path = out_dir / f"{name}.png"
            cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
            print(path)


if __name__ == "__main__":
    main()
