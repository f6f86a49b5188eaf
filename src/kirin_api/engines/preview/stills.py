"""Still pictures for the image-driven preview models: load, fit to a size, read masks.

Sizes follow OpenCV's order where a function takes ``width, height``; arrays are
``(height, width, channels)``. Every input has already been checked by intake.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.engines.base import Frame
from kirin_api.media.images import load_rgb

Alpha = npt.NDArray[np.float32]
"""Per-pixel weight in [0, 1], shape (height, width)."""


def load_image(path: str) -> Frame:
    """An input image as RGB uint8, upright (EXIF applied), in its own pixels."""
    return load_rgb(Path(path).read_bytes())


def resized(image: Frame, width: int, height: int, *, sharp: bool = False) -> Frame:
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


def cover(image: Frame, width: int, height: int, *, sharp: bool = False) -> Frame:
    """Scale ``image`` to cover ``width`` x ``height`` and crop the middle (no bars).

    For the i2v models the output already has the image's aspect ratio (up to even-side
    rounding), so this is a plain resize that crops at most a pixel or two.
    """
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    # Crop in the source first, then resize: cheaper for big photos and no second resample.
    crop_w = min(w, max(1, round(width / scale)))
    crop_h = min(h, max(1, round(height / scale)))
    left, top = (w - crop_w) // 2, (h - crop_h) // 2
    return resized(image[top : top + crop_h, left : left + crop_w], width, height, sharp=sharp)


def contain_size(image: Frame, width: int, height: int) -> tuple[int, int]:
    """The largest ``(w, h)`` with ``image``'s aspect ratio that fits in ``width`` x ``height``."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def load_mask(path: str, width: int, height: int) -> npt.NDArray[np.bool_]:
    """The painted area of a mask image scaled to ``width`` x ``height``: True where painted.

    API.md "Masks": light pixels (above half) are painted. Masks may come at another resolution
    than the image (same aspect ratio), so they are scaled to the output before thresholding.
    """
    grey = cv2.cvtColor(load_image(path), cv2.COLOR_RGB2GRAY)
    scaled = cv2.resize(grey, (width, height), interpolation=cv2.INTER_LINEAR)
    painted: npt.NDArray[np.bool_] = np.asarray(scaled) > 127
    return painted


def blend(base: Frame, top: Frame, alpha: Alpha) -> Frame:
    """``top`` over ``base`` with per-pixel ``alpha`` (same shapes), vectorised in float32."""
    a = alpha[..., None]
    mixed = base.astype(np.float32) * (1.0 - a) + top.astype(np.float32) * a
    out: Frame = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return out
