"""Procedural pictures for the preview scene: periodic noise, ridge lines, sprite drawings.

Everything is vectorised numpy plus OpenCV's resize/drawing; every random number comes from the
``numpy.random.Generator`` passed in. Scenery textures repeat seamlessly along x (so the renderer
can wrap them) and are premultiplied RGBA uint8 (so compositing is one multiply-add).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

Rgb = tuple[float, float, float]
FloatImage = npt.NDArray[np.float32]
Rgba = npt.NDArray[np.uint8]


def periodic_noise(
    rng: np.random.Generator, height: int, width: int, cell: int, octaves: int = 3
) -> FloatImage:
    """Smooth value noise in about [-1, 1], seamless along x; ``width`` is a multiple of ``cell``.

    Each octave is a random grid upsampled by an integer factor after padding it with its own
    wrapped columns, so the seam at x = 0 / x = width has no jump.
    """
    out = np.zeros((height, width), np.float32)
    amplitude, total = 1.0, 0.0
    step = cell
    for _ in range(octaves):
        step = max(1, step)
        while width % step:
            step -= 1
        cols = width // step
        rows = height // step + 4
        grid = rng.standard_normal((rows, cols)).astype(np.float32)
        grid = np.concatenate([grid[:, -2:], grid, grid[:, :2]], axis=1)
        big = cv2.resize(grid, ((cols + 4) * step, rows * step), interpolation=cv2.INTER_CUBIC)
        cv2.scaleAdd(big[step : step + height, 2 * step : 2 * step + width], amplitude, out, out)
        total += amplitude
        amplitude *= 0.5
        step //= 2
    out *= 1.0 / total
    return out


def ridge(
    rng: np.random.Generator, xs: npt.NDArray[np.float64], period: float, roughness: float
) -> npt.NDArray[np.float64]:
    """A periodic skyline offset (normalised units, about +-1) at ``xs``.

    A sum of sines with integer numbers of cycles per period (hence seamless); ``roughness``
    (0..1) keeps more high-frequency terms: jagged mountains versus rolling hills.
    """
    y = np.zeros_like(xs)
    norm = 0.0
    for k in range(1, 24):
        amp = k ** -(2.0 - roughness) * rng.uniform(0.5, 1.0)
        y += amp * np.sin(2.0 * math.pi * k * xs / period + rng.uniform(0, 2 * math.pi))
        norm += amp
    return y / norm * 2.0


def to_rgba(color: npt.NDArray[np.float32], alpha: npt.NDArray[np.float32]) -> Rgba:
    """Straight colour (h, w, 3) in 0..1 and alpha (h, w) in 0..1 -> premultiplied RGBA uint8."""
    a = np.clip(alpha, 0.0, 1.0, dtype=np.float32) * np.float32(255.0)
    # OpenCV's float -> uint8 conversions round to nearest: four passes instead of numpy's ten.
    rgb = cv2.multiply(
        np.clip(color, 0.0, 1.0, dtype=np.float32), cv2.merge((a, a, a)), dtype=cv2.CV_8U
    )
    rgba: Rgba = cv2.merge((*cv2.split(rgb), cv2.convertScaleAbs(a)))
    return rgba


def premultiply(rgba: Rgba) -> Rgba:
    """Straight-alpha RGBA uint8 -> premultiplied RGBA uint8."""
    out = rgba.astype(np.uint16)
    out[..., :3] = (out[..., :3] * out[..., 3:4] + 127) // 255
    return np.ascontiguousarray(out.astype(np.uint8))


def _c255(c: Rgb, alpha: float = 1.0) -> tuple[int, int, int, int]:
    return (int(c[0] * 255), int(c[1] * 255), int(c[2] * 255), int(alpha * 255))


def draw_bird(color: Rgb, size: int, flap: float) -> Rgba:
    """A "V" bird; ``flap`` in [-1, 1] raises or lowers the wings."""
    img = np.zeros((size, size, 4), np.uint8)
    c, half = size / 2.0, size * 0.45
    lift = flap * size * 0.25
    pts = np.array(
        [
            [c - half, c - lift],
            [c - half * 0.3, c - size * 0.05],
            [c, c + size * 0.08],
            [c + half * 0.3, c - size * 0.05],
            [c + half, c - lift],
        ],
        np.float64,
    )
    thickness = max(1, size // 12)
    cv2.polylines(
        img, [np.round(pts * 16).astype(np.int32)], False, _c255(color), thickness, cv2.LINE_AA, 4
    )
    return premultiply(img)


def draw_balloon(color: Rgb, size: int) -> Rgba:
    """A round balloon with a string, on a (2*size, size) canvas."""
    img = np.zeros((size * 2, size, 4), np.uint8)
    r = int(size * 0.42)
    centre = (size // 2, r + 2)
    cv2.line(img, (size // 2, 2 * r), (size // 2, size * 2 - 2), (60, 60, 60, 255), 1, cv2.LINE_AA)
    cv2.circle(img, centre, r, _c255(color), -1, cv2.LINE_AA)
    hi = (centre[0] - r // 3, centre[1] - r // 3)
    cv2.circle(img, hi, max(1, r // 4), (255, 255, 255, 255), -1, cv2.LINE_AA)
    return premultiply(img)


def draw_glow(color: Rgb, size: int, core: float = 0.35) -> Rgba:
    """A glowing disc (sun, moon, lantern): solid core fading out to the edge."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = np.hypot(xx - (size - 1) / 2.0, yy - (size - 1) / 2.0) / (size / 2.0)
    alpha = np.where(r < core, 1.0, np.clip(1.0 - (r - core) / (1.0 - core), 0.0, 1.0) ** 2.5)
    colour = np.broadcast_to(np.array(color, np.float32), (size, size, 3))
    return to_rgba(colour.astype(np.float32), alpha.astype(np.float32))


def draw_boat(color: Rgb, size: int) -> Rgba:
    """A small sailing boat on a (size, size) canvas."""
    img = np.zeros((size, size, 4), np.uint8)
    s = size
    hull = np.array([[0.1 * s, 0.72 * s], [0.9 * s, 0.72 * s], [0.75 * s, 0.9 * s]])
    hull = np.concatenate([hull, [[0.25 * s, 0.9 * s]]])
    sail = np.array([[0.5 * s, 0.08 * s], [0.5 * s, 0.68 * s], [0.82 * s, 0.68 * s]])
    cv2.fillPoly(img, [np.round(hull * 16).astype(np.int32)], (50, 35, 30, 255), cv2.LINE_AA, 4)
    cv2.fillPoly(img, [np.round(sail * 16).astype(np.int32)], _c255(color), cv2.LINE_AA, 4)
    return premultiply(img)
