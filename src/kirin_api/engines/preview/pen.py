"""Vector drawing for the preview's figures: shapes in unit coordinates, then shading.

A :class:`Pen` draws anti-aliased filled shapes (ellipses, polygons, thick limbs) into two planes
at once: coverage (the silhouette's alpha) and tone (a multiplier on the figure's colour, for
darker wheels, lighter windows, stripes). Coordinates are in units of the canvas height, y down,
the ground at ``y = GROUND``. :func:`shade` turns the planes into a lit, premultiplied RGBA
picture: a bevel from the silhouette's own shape facing the scene's light, a little darker
towards the ground, and a thin darker outline, like a clean vector illustration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.engines.preview.textures import Rgba, to_rgba

Rgb = tuple[float, float, float]
GROUND = 0.94  # where feet and wheels touch, as a fraction of the canvas height
_SHIFT = 4  # OpenCV's sub-pixel bits for the drawing calls
Point = tuple[float, float]


class Pen:
    """Draws into a ``height`` x ``round(height * aspect)`` canvas."""

    def __init__(self, height: int, aspect: float) -> None:
        self.h = height
        self.w = max(8, round(height * aspect))
        self.alpha = np.zeros((self.h, self.w), np.uint8)
        self.tone = np.zeros((self.h, self.w), np.uint8)

    def _p(self, x: float, y: float) -> tuple[int, int]:
        k = self.h * (1 << _SHIFT)
        return round(x * k), round(y * k)

    def poly(self, points: Sequence[Point], tone: float = 1.0) -> None:
        pts = np.array([self._p(x, y) for x, y in points], np.int32)
        cv2.fillPoly(self.alpha, [pts], 255, cv2.LINE_AA, _SHIFT)
        cv2.fillPoly(self.tone, [pts], _t(tone), cv2.LINE_AA, _SHIFT)

    def ellipse(
        self, cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, tone: float = 1.0
    ) -> None:
        centre = self._p(cx, cy)
        axes = self._p(max(rx, 0.002), max(ry, 0.002))
        for plane, value in ((self.alpha, 255), (self.tone, _t(tone))):
            cv2.ellipse(plane, centre, axes, angle, 0, 360, value, -1, cv2.LINE_AA, _SHIFT)

    def limb(self, a: Point, b: Point, width: float, tone: float = 1.0) -> None:
        """A thick segment with round ends (legs, arms, necks, tails)."""
        r = width / 2.0
        dx, dy = b[0] - a[0], b[1] - a[1]
        n = math.hypot(dx, dy) or 1e-6
        ox, oy = -dy / n * r, dx / n * r
        self.poly([(a[0] + ox, a[1] + oy), (b[0] + ox, b[1] + oy), (b[0] - ox, b[1] - oy),
                   (a[0] - ox, a[1] - oy)], tone)  # fmt: skip
        self.ellipse(a[0], a[1], r, r, tone=tone)
        self.ellipse(b[0], b[1], r, r, tone=tone)

    def leg(self, hip: Point, length: float, angle: float, width: float, tone: float) -> None:
        """A two-part leg from ``hip``, swung by ``angle`` (radians; positive forward)."""
        knee = (hip[0] + math.sin(angle) * length * 0.5, hip[1] + math.cos(angle) * length * 0.5)
        bend = angle - abs(angle) * 0.6 - 0.1
        foot = (knee[0] + math.sin(bend) * length * 0.5, knee[1] + math.cos(bend) * length * 0.5)
        self.limb(hip, knee, width, tone)
        self.limb(knee, foot, width * 0.8, tone)


def _t(tone: float) -> int:
    return int(max(1, min(255, round(tone * 200))))  # 200 = tone 1: leaves room for highlights


def _blurred(alpha: npt.NDArray[np.float32], sigma: float) -> npt.NDArray[np.float32]:
    """A wide Gaussian blur, done at a reduced size (the bevel it makes is smooth anyway)."""
    k = max(1, int(sigma // 2))
    if k == 1:
        return np.asarray(cv2.GaussianBlur(alpha, (0, 0), sigma), np.float32)
    h, w = alpha.shape
    small = cv2.resize(alpha, (max(1, w // k), max(1, h // k)), interpolation=cv2.INTER_AREA)
    soft = cv2.GaussianBlur(small, (0, 0), sigma / k)
    return np.asarray(cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)


Box = tuple[int, int, int, int]  # rows r0:r1, columns c0:c1


def shade(
    pen: Pen, colour: Rgb, light: Rgb, light_x: float, box: Box | None = None
) -> tuple[Rgba, npt.NDArray[np.uint8]]:
    """The lit figure (premultiplied RGBA) and its coverage mask (uint8, 0..255).

    ``light`` is the scene's light colour (times its strength), ``light_x`` in [-1, 1] which
    side the light comes from; ``box`` crops the canvas first (it should leave the figure a
    margin of a few percent of the canvas height for the bevel's blur).
    """
    r0, r1, c0, c1 = box or (0, pen.h, 0, pen.w)
    coverage = pen.alpha[r0:r1, c0:c1]
    alpha = coverage.astype(np.float32) * np.float32(1.0 / 255.0)
    tone = pen.tone[r0:r1, c0:c1].astype(np.float32) * np.float32(1.0 / 200.0)
    sigma = max(1.0, pen.h / 30.0)
    soft = _blurred(alpha, sigma)
    gx = cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
    # The bevel's normal points out of the silhouette (against the coverage gradient); the
    # light comes from above and from ``light_x``'s side.
    lx, ly = -light_x * 0.6, 0.8
    facing = (gx * np.float32(lx) + gy * np.float32(ly)) * np.float32(sigma * 1.5)
    rows = np.linspace(1.08, 0.82, pen.h, dtype=np.float32)[r0:r1, None]
    lit = np.clip(np.float32(0.92) + facing, 0.45, 1.35) * rows
    edge = cv2.morphologyEx(coverage, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    lit *= np.float32(1.0) - edge.astype(np.float32) * np.float32(0.35 / 255.0)
    base = np.array(colour, np.float32) * np.array(light, np.float32)
    rgb = (tone * lit)[..., None] * base
    # Very dark colours still show their form: a faint sheen in the light's colour.
    rgb += (np.clip(facing, 0.0, 1.0) * np.float32(0.12))[..., None] * np.array(light, np.float32)
    return to_rgba(rgb.astype(np.float32), alpha), np.ascontiguousarray(coverage)


def with_shadow(picture: Rgba, strength: float, ground: float) -> Rgba:
    """``picture`` with a soft contact shadow on the ground row ``ground`` (behind the figure)."""
    h, w = picture.shape[:2]
    shadow: npt.NDArray[np.uint8] = np.zeros((h, w), np.uint8)
    cols = np.flatnonzero(picture[..., 3].max(axis=0) > 0)
    if cols.size == 0:
        return picture
    cx, half = (cols[0] + cols[-1]) / 2.0, (cols[-1] - cols[0]) / 2.0 + 2
    centre = (round(cx * 16), round(ground * 16))
    axes = (round(half * 1.05 * 16), round(max(2.0, h * 0.035) * 16))
    cv2.ellipse(shadow, centre, axes, 0, 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)
    soft = cv2.GaussianBlur(shadow, (0, 0), max(1.0, h / 60.0))
    a = (soft.astype(np.float32) * np.float32(strength)).astype(np.uint8)
    under = np.zeros_like(picture)
    under[..., 3] = a  # black, premultiplied
    out = picture.copy()
    keep = 255 - picture[..., 3]
    out[..., 3] = picture[..., 3] + (under[..., 3].astype(np.uint16) * keep // 255).astype(np.uint8)
    return out
