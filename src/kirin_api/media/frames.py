"""Fitting frames to the output: size (resize, cover-crop) and time (resample a clip).

Shared by the engines: the preview engine films stills with these, the diffusers engine brings
what a model generated (its own size and frame rate) to the contract's size, 30 fps and exact
frame count. Sizes follow OpenCV's order where a function takes ``width, height``; arrays are
``(height, width, 3)`` RGB uint8.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

RgbFrame = npt.NDArray[np.uint8]


def resized(image: RgbFrame, width: int, height: int, *, sharp: bool = False) -> RgbFrame:
    """``image`` resized to exactly ``width`` x ``height`` (area filter when shrinking)."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    shrinking = width * height < w * h
    interpolation = (
        cv2.INTER_AREA if shrinking else (cv2.INTER_CUBIC if sharp else cv2.INTER_LINEAR)
    )
    return np.ascontiguousarray(
        cv2.resize(image, (width, height), interpolation=interpolation), dtype=np.uint8
    )


def cover(image: RgbFrame, width: int, height: int, *, sharp: bool = False) -> RgbFrame:
    """Scale ``image`` to cover ``width`` x ``height`` and crop the middle (no bars).

    Where the aspect ratios already agree (up to even-side rounding) this is a plain resize
    that crops at most a pixel or two.
    """
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    # Crop in the source first, then resize: cheaper for big photos and no second resample.
    crop_w = min(w, max(1, round(width / scale)))
    crop_h = min(h, max(1, round(height / scale)))
    left, top = (w - crop_w) // 2, (h - crop_h) // 2
    return resized(image[top : top + crop_h, left : left + crop_w], width, height, sharp=sharp)


def clip_positions(count: int, source_frames: int) -> list[tuple[int, int, float]]:
    """For each of ``count`` output frames: the two source frames around it and the weight of
    the second, so that the first output frame is the first source frame and the last output
    frame the last (the clip is stretched or squeezed to fit exactly)."""
    if count <= 0 or source_frames <= 0:
        raise ValueError(f"need frames on both sides, got {count} from {source_frames}")
    positions = []
    last = source_frames - 1
    for index in range(count):
        x = index * last / (count - 1) if count > 1 else 0.0
        lo = min(int(x), last)
        hi = min(lo + 1, last)
        positions.append((lo, hi, x - lo))
    return positions


def mix(a: npt.NDArray[Any], b: npt.NDArray[Any], weight: float) -> RgbFrame:
    """``a`` and ``b`` (same shape) blended with ``weight`` of ``b``, as uint8; a weight within
    a thousandth of 0 or 1 gives that frame itself."""
    if weight > 1.0 - 1e-3:
        a, weight = b, 0.0
    if weight < 1e-3:
        mixed = a
    else:
        mixed = a.astype(np.float32) * (1.0 - weight) + b.astype(np.float32) * weight
    if mixed.dtype == np.uint8:
        return mixed
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def resample_clip(
    frames: Sequence[RgbFrame], count: int, width: int, height: int, *, sharp: bool = False
) -> Iterator[RgbFrame]:
    """``count`` frames of ``width`` x ``height`` spanning ``frames`` from first to last.

    Between source frames the two neighbours are blended linearly (a 16 fps clip shown at
    30 fps: no judder, a little softness in fast motion); each source frame is cover-fitted
    once, on first use.
    """
    fitted: dict[int, RgbFrame] = {}

    def fit(i: int) -> RgbFrame:
        if i not in fitted:
            if len(fitted) > 2:  # the positions only move forward: keep a few
                fitted.clear()
            fitted[i] = cover(frames[i], width, height, sharp=sharp)
        return fitted[i]

    for lo, hi, weight in clip_positions(count, len(frames)):
        yield mix(fit(lo), fit(hi), weight)
