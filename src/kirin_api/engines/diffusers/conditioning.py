"""What the VACE model is shown: a control video and a mask per frame, built from the request.

WanVACEPipeline takes ``video`` (frames to keep or to follow), ``mask`` (white: generate this
pixel; black: keep it from ``video``) and ``reference_images`` (subjects and references it should
bring in). The brushes, the first/last frames and a motion reference are all said in those terms:

* first and last frame: the pictures at frame 0 and the last frame, kept (black mask); every
  frame between is grey and generated (VACE's own convention for frames to fill);
* motion brush: the first frame kept; every later frame shows the picture with each dynamically
  brushed area carried along its trajectory (the preview engine's brush: same path, same
  convention for the points) over the hole it leaves, so the model sees where things go; the
  statically brushed area is kept (black) in every frame and pinned again on the output;
* motion reference (kirin_v3_motion_control): the reference video's edges, frame by frame, the
  structure the model follows, with the character as a reference image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from kirin_api.engines.base import Frame
from kirin_api.engines.preview.brush import (
    StillArea,
    brushed_objects,
    fill_holes,
)
from kirin_api.engines.preview.stills import cover, load_image, load_mask
from kirin_api.media.probe import probe_video, read_frames

GREY = 127  # VACE's value for "nothing here yet" in the control video
EDGE_FLOOR = 16.0  # gradient below which nothing counts as an edge (flat picture, noise)
Mask = npt.NDArray[np.bool_]


@dataclass
class VaceInputs:
    """The ``video`` / ``mask`` / ``reference_images`` arguments of one VACE call."""

    video: list[Image.Image] | None = None
    mask: list[Image.Image] | None = None
    reference_images: list[Image.Image] | None = None

    def kwargs(self) -> dict[str, Any]:
        given = {
            "video": self.video,
            "mask": self.mask,
            "reference_images": self.reference_images,
        }
        return {key: value for key, value in given.items() if value is not None}


def _mask_image(generate: Mask) -> Image.Image:
    return Image.fromarray(np.where(generate, 255, 0).astype(np.uint8)).convert("RGB")


def _grey(width: int, height: int) -> Frame:
    return np.full((height, width, 3), GREY, np.uint8)


def pictures(frames: Sequence[Frame]) -> list[Image.Image]:
    return [Image.fromarray(frame) for frame in frames]


def keyframes(
    first: Frame | None, last: Frame | None, count: int, width: int, height: int
) -> VaceInputs:
    """Keep ``first`` at frame 0 and ``last`` at the last frame (either may be None)."""
    video = [_grey(width, height) for _ in range(count)]
    kept = []
    for index, picture in ((0, first), (count - 1, last)):
        if picture is not None:
            video[index] = cover(picture, width, height, sharp=True)
            kept.append(index)
    return VaceInputs(pictures(video), frame_masks(count, width, height, kept))


def frame_masks(count: int, width: int, height: int, kept: Sequence[int] = ()) -> list[Image.Image]:
    """Masks that keep the frames at ``kept`` whole (black) and generate every other (white)."""
    keep = _mask_image(np.zeros((height, width), bool))
    generate = _mask_image(np.ones((height, width), bool))
    return [keep if index in kept else generate for index in range(count)]


@dataclass
class BrushControl:
    """The motion brush as VACE inputs, and the still area to pin on the output."""

    inputs: VaceInputs
    still_mask: str | None  # path of the static mask, pinned on the output at its size
    objects: int


def brush(
    image_path: str,
    static_mask: str | None,
    dynamic: Sequence[tuple[str, Sequence[dict[str, float]]]],
    count: int,
    width: int,
    height: int,
) -> BrushControl:
    """``dynamic``: (mask path, trajectory points in image pixels, origin bottom-left)."""
    image = load_image(image_path)
    image_size = (image.shape[1], image.shape[0])
    picture = cover(image, width, height, sharp=True)
    objects, holes = brushed_objects(picture, image_size, dynamic)
    background = fill_holes(picture, holes)
    still = load_mask(static_mask, width, height) if static_mask else None
    video, masks = [], []
    for index in range(count):
        tau = index / (count - 1) if count > 1 else 0.0
        if index == 0:
            video.append(picture)
            masks.append(_mask_image(np.zeros((height, width), bool)))
            continue
        frame = background.copy()
        for obj in objects:
            obj.draw(frame, tau)
        generate = np.ones((height, width), bool)
        if still is not None:
            frame[still] = picture[still]
            generate &= ~still
        video.append(frame)
        masks.append(_mask_image(generate))
    return BrushControl(VaceInputs(pictures(video), masks), static_mask, len(objects))


def pin_still_area(frames: Sequence[Frame], image_path: str, static_mask: str) -> list[Frame]:
    """The statically brushed area taken from the image in every frame (at the frames' size):
    the model keeps it nearly still, this makes it exactly still."""
    height, width = frames[0].shape[:2]
    picture = cover(load_image(image_path), width, height, sharp=True)
    area = StillArea(picture, load_mask(static_mask, width, height))
    pinned = []
    for frame in frames:
        copy = frame.copy()
        area.draw(copy)
        pinned.append(copy)
    return pinned


def edges(reference: str, count: int, width: int, height: int) -> list[Frame]:
    """The reference video's structure at ``count`` evenly spread frames: white edges on black,
    cover-fitted to the generation size."""
    info = probe_video(reference)
    last = max(info.frames - 1, 0)
    indices = [round(i * last / (count - 1)) if count > 1 else 0 for i in range(count)]
    out = []
    for frame in read_frames(reference, indices):
        grey = cv2.cvtColor(cover(frame, width, height), cv2.COLOR_RGB2GRAY)
        grey = cv2.GaussianBlur(grey, (5, 5), 1.2)
        # Thresholds from the frame's own gradients: a dim or low-contrast video still shows
        # its strongest tenth of edges, a busy one not every texture.
        gradient = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0)) + np.abs(
            cv2.Sobel(grey, cv2.CV_32F, 0, 1)
        )
        high = max(EDGE_FLOOR, float(np.percentile(gradient, 90)))
        lines = cv2.Canny(grey, high / 2.0, high)
        lines = cv2.dilate(lines, np.ones((2, 2), np.uint8))
        out.append(np.ascontiguousarray(np.repeat(lines[..., None], 3, axis=2), dtype=np.uint8))
    return out
