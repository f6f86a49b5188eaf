"""Fitting the reference's global motion onto the image, for :mod:`.motion_transfer`.

The first frame is the image itself (covered to the output's size, graded): nothing is
magnified, ever. Later frames follow the reference's global motion exactly; where the view
goes past the picture's edge it sees a margin made of the picture mirrored and blurred (an
out-of-focus surround, :func:`extend`). A motion reaching further than :data:`MAX_REACH` is
scaled down as a whole (the gain), which keeps its direction and rhythm.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.engines.base import Frame

FloatArray = npt.NDArray[np.float64]
MAX_REACH = 1.5
"""How far past its edges the view may go, as a factor of the image's size (1.5: a quarter of
its width or height past each side); a larger motion is scaled down as a whole."""
GRADE_STRENGTH = 0.04  # the prompt's colour cast: each channel's gain within 1 ± this
SHARPEN = {"std": 0.0, "pro": 0.6}  # unsharp-mask amount applied once to the image


def cover(image: Frame, width: int, height: int) -> Frame:
    """Scale ``image`` to cover ``width`` x ``height`` and crop the middle (no bars)."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    resized = cv2.resize(
        image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    )
    top, left = (size[1] - height) // 2, (size[0] - width) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width], dtype=np.uint8)


def grade(image: Frame, prompt: str, mode: str) -> Frame:
    """A faint colour cast picked by the prompt's hash, and ``pro``'s sharpening; done once."""
    out = image
    if prompt:
        digest = hashlib.blake2b(prompt.encode(), digest_size=3).digest()
        gains = 1 + GRADE_STRENGTH * (np.frombuffer(digest, np.uint8) / 127.5 - 1)
        ramp = np.arange(256, dtype=np.float64)
        lut = np.clip(ramp[:, None] * gains[None, :], 0, 255).astype(np.uint8)
        out = np.asarray(cv2.LUT(out, lut.reshape(256, 1, 3)), dtype=np.uint8)
    amount = SHARPEN.get(mode, 0.0)
    if amount:
        blurred = cv2.GaussianBlur(out, (0, 0), 1.2)
        out = np.asarray(cv2.addWeighted(out, 1 + amount, blurred, -amount, 0), dtype=np.uint8)
    return out


def similarity(
    scale: float, angle: float, shift: tuple[float, float], centre: tuple[float, float]
) -> FloatArray:
    """2x3 matrix: turn by ``angle`` and scale about ``centre``, then move by ``shift``."""
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    linear = np.array([[c, s], [-s, c]])  # cv2.getRotationMatrix2D's convention
    move = np.array(centre) + np.array(shift) - linear @ np.array(centre)
    return np.hstack([linear, move[:, None]])


def _needs(glob: FloatArray, width: int, height: int, gain: float) -> FloatArray:
    """Per frame, the magnification that keeps the image over the whole frame.

    ``glob``: the global motion per output frame (shift in output pixels relative to frame 0,
    log scale, angle); ``gain`` scales all of it. An output corner ``p`` shows the image point
    ``R^-1 (p - t) / s`` from the centre; it must stay within the image's half sizes.
    """
    shift = glob[:, :2] * gain
    scale = np.exp(glob[:, 2] * gain)
    angle = glob[:, 3] * gain
    half = np.array([width / 2, height / 2])
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
    rel = corners[None, :, :] - shift[:, None, :]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x = (cos * rel[..., 0] - sin * rel[..., 1]) / scale[:, None]
    y = (sin * rel[..., 0] + cos * rel[..., 1]) / scale[:, None]
    need = np.maximum(np.abs(x).max(axis=1) / half[0], np.abs(y).max(axis=1) / half[1])
    out: FloatArray = np.maximum(need, 1.0)
    return out


def fit_motion(glob: FloatArray, width: int, height: int) -> tuple[float, float]:
    """How far past its edges the image is seen (a factor of its size, 1 = never) and the gain.

    A motion whose view would reach further than :data:`MAX_REACH` is scaled down as a whole.
    """
    gain = 1.0
    need = _needs(glob, width, height, gain)
    if need.max() > MAX_REACH:
        low, high = 0.0, 1.0
        for _ in range(20):  # the reach grows with the gain: bisect for the cap
            mid = (low + high) / 2
            if _needs(glob, width, height, mid).max() <= MAX_REACH:
                low = mid
            else:
                high = mid
        gain = low
        need = _needs(glob, width, height, gain)
    return float(need.max()), gain


def extend(image: Frame, reach: float) -> tuple[Frame, tuple[int, int]]:
    """``image`` with a margin for a view reaching ``reach`` times its size; the margin's size.

    The margin is the image mirrored at its edges and blurred more the further out it goes, so
    it reads as the out-of-focus surroundings of the picture rather than as a copy of it.
    """
    height, width = image.shape[:2]
    pad_x = int(np.ceil((reach - 1.0) * width / 2)) + 2
    pad_y = int(np.ceil((reach - 1.0) * height / 2)) + 2
    mirrored = cv2.copyMakeBorder(image, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_REFLECT)
    sigma = max(2.0, 0.02 * max(width, height))
    # A wide blur, done at an eighth of the size (it is a blur: nothing is lost).
    big_h, big_w = mirrored.shape[:2]
    k = max(1, int(sigma // 3))
    small = cv2.resize(
        mirrored, (max(1, big_w // k), max(1, big_h // k)), interpolation=cv2.INTER_AREA
    )
    blurred = cv2.resize(
        cv2.GaussianBlur(small, (0, 0), sigma / k), (big_w, big_h), interpolation=cv2.INTER_LINEAR
    )
    ys = np.arange(mirrored.shape[0], dtype=np.float32)
    xs = np.arange(mirrored.shape[1], dtype=np.float32)
    out_y = np.maximum(np.maximum(pad_y - ys, ys - (pad_y + height - 1)), 0.0)
    out_x = np.maximum(np.maximum(pad_x - xs, xs - (pad_x + width - 1)), 0.0)
    # 0 inside the picture, rising to 1 a blur's width outside it.
    ramp = np.clip(np.maximum(out_y[:, None], out_x[None, :]) / (2.0 * sigma), 0.0, 1.0)
    weight = ramp.astype(np.float32)
    canvas = cv2.blendLinear(blurred, mirrored, weight, 1.0 - weight)
    canvas[pad_y : pad_y + height, pad_x : pad_x + width] = image  # the picture itself, exact
    return np.ascontiguousarray(canvas, dtype=np.uint8), (pad_x, pad_y)


def matrices(
    glob: FloatArray, gain: float, width: int, height: int, margin: tuple[int, int]
) -> list[FloatArray]:
    """The canvas-to-frame warp of every frame (frame 0's shows the picture itself)."""
    centre = (width / 2, height / 2)
    out = []
    for i in range(len(glob)):
        m = similarity(
            float(np.exp(glob[i, 2] * gain)),
            float(glob[i, 3] * gain),
            (float(glob[i, 0] * gain), float(glob[i, 1] * gain)),
            centre,
        )
        m[:, 2] -= m[:, :2] @ np.array(margin, dtype=np.float64)  # canvas -> picture first
        out.append(m)
    return out
