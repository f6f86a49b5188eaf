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
from kirin_api.media.frames import cover, resized
from kirin_api.media.images import load_rgb

__all__ = ["Alpha", "blend", "contain_size", "cover", "load_image", "load_mask", "resized"]

Alpha = npt.NDArray[np.float32]
"""Per-pixel weight in [0, 1], shape (height, width)."""


def load_image(path: str) -> Frame:
    """An input image as RGB uint8, upright (EXIF applied), in its own pixels."""
    return load_rgb(Path(path).read_bytes())


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
