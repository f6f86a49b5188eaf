"""Draw one frame of a :class:`~.scene.Scene` from a :class:`~.camera.CameraPose`.

Each plane is a ``cv2.warpPerspective`` of its texture through the plane's homography,
composited far to near with the premultiplied "over" operator in OpenCV's saturating uint8
arithmetic. Sprites are warped into their bounding box only. Layers wrap along x
(``BORDER_WRAP``): their textures are seamless there, and tall enough along y for every view of
the clip (see ``scene.view_rows``).

What keeps a 720p frame at a few milliseconds (the result is the same picture as warping every
plane over the whole frame and blending it everywhere):

* **Rows, not frames.** Per frame, each layer's homography tells which output rows can see any of
  its non-transparent texture rows, and which see only its fully opaque ones (the scenery's
  alpha only grows downwards from the skyline, see :func:`_texture_rows`). Rows that see nothing
  are skipped, fully opaque rows are warped straight into the canvas (``over`` with alpha 255 is
  a copy) and only the rows in between are warped into a scratch band and blended.
* **Occlusion.** Rows that a nearer layer covers opaquely are not drawn for the planes behind it
  (the sky, farther layers, sprites entirely behind it).
* **Fast path of the warp.** OpenCV's bilinear remap runs its vector path only where the source
  point lies inside the texture; wrapped pixels go through a per-pixel path about 4x slower. So
  the renderer warps from two copies of each texture side by side, its coordinates shifted by
  whole periods so that the view (narrower than one period) lies inside them: the same pixels as
  wrapping the single texture, without the seam.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.engines.preview.camera import CameraPose, Lens, Matrix, plane_homography
from kirin_api.engines.preview.scene import Layer, Scene, Sprite
from kirin_api.engines.preview.textures import Rgba

_FLAGS = cv2.INTER_LINEAR
# Slack (texels) on the row tests: OpenCV rounds source coordinates to 1/32 texel, and bilinear
# filtering reads the row below the sample point as well.
_SLACK = 0.1
STRIP = 320  # width of the vertical strips the frame is cut into (pixels, about)

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class _TextureRows:
    """Where a layer texture's content is, column by column (both arrays have one per column)."""

    first: npt.NDArray[np.intp]  # rows above this one are fully transparent
    solid: npt.NDArray[np.intp]  # this row and every row below it are fully opaque


def _texture_rows(texture: Rgba) -> _TextureRows:
    alpha = np.ascontiguousarray(texture[..., 3])
    height = alpha.shape[0]
    touched = alpha > 0
    first = np.where(touched.any(axis=0), touched.argmax(axis=0), height)
    partial = alpha[::-1] < 255  # bottom up
    solid = np.where(partial.any(axis=0), height - partial.argmax(axis=0), 0)
    return _TextureRows(first=first, solid=solid)


@dataclass
class _Plan:
    """One layer in one frame: its homography and which output rows of each strip it shows."""

    layer: Layer
    homography: Matrix  # texture -> frame, with the texture shifted by whole periods along x
    visible: Mask  # (height, strips): rows that may show some of the layer
    opaque: Mask  # (height, strips): rows that show only fully opaque texels of the layer


def _translate(dx: float, dy: float) -> Matrix:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _bounds(mask: Mask) -> tuple[int, int]:
    """First and one-past-last true index of a non-empty mask."""
    idx = np.flatnonzero(mask)
    return int(idx[0]), int(idx[-1]) + 1


class Renderer:
    """Renders frames of one scene at one size; reuses its buffers between frames.

    The frame is cut into vertical strips (:data:`STRIP` pixels wide); row ranges are worked out
    per strip, so a strip where the skyline is low skips the layer's empty rows above it, and one
    where it is high does not draw the sky behind it.
    """

    def __init__(self, scene: Scene, lens: Lens) -> None:
        self.scene = scene
        self.lens = lens
        size = (lens.height, lens.width, 4)
        self._canvas = np.zeros(size, np.uint8)
        self._layer = np.zeros(size, np.uint8)
        self._scratch = np.zeros(size, np.uint8)
        self._alpha = np.zeros(size[:2], np.uint8)
        count = max(1, round(lens.width / STRIP))
        self._edges = [round(i * lens.width / count) for i in range(count + 1)]
        # The first and last pixel column of every strip, and every row.
        self._u = np.array(
            [u for a, b in itertools.pairwise(self._edges) for u in (a, b - 1)], np.float64
        )[None, :]
        self._v = np.arange(lens.height, dtype=np.float64)[:, None]
        layers = [scene.sky, *(item for item in scene.items if isinstance(item, Layer))]
        self._rows = {id(layer): _texture_rows(layer.texture) for layer in layers}
        self._tiled = {id(layer): np.concatenate([layer.texture] * 2, axis=1) for layer in layers}

    def render(
        self, pose: CameraPose, seconds: float
    ) -> np.ndarray[tuple[int, int, int], np.dtype[np.uint8]]:
        """The RGB frame (H, W, 3) seen from ``pose`` at clip time ``seconds`` (a new array)."""
        items = self.scene.items
        plans = [
            self._plan(item, pose, seconds) if isinstance(item, Layer) else None for item in items
        ]
        # Near to far: the rows (of each strip) each item has covered in front of it.
        covered = np.zeros((self.lens.height, len(self._edges) - 1), np.bool_)
        in_front: list[Mask] = [covered] * len(items)
        for i in range(len(items) - 1, -1, -1):
            in_front[i] = covered
            plan = plans[i]
            if plan is not None:
                covered = covered | plan.opaque
        sky = self.scene.sky
        if not covered.all():
            homography = self._periodic(sky, plane_homography(pose, self.lens, sky.plane(seconds)))
            tiled = self._tiled[id(sky)]
            for j, (u0, u1) in enumerate(itertools.pairwise(self._edges)):
                if not covered[:, j].all():
                    self._warp(tiled, homography, u0, u1, *_bounds(~covered[:, j]), self._canvas)
        for item, plan, front in zip(items, plans, in_front, strict=True):
            if plan is not None:
                self._draw_layer(plan, front)
            elif isinstance(item, Sprite):
                self._draw_sprite(item, pose, seconds, front)
        out: Rgba = cv2.cvtColor(  # type: ignore[assignment]
            self._canvas, cv2.COLOR_RGBA2RGB
        )
        return out

    def _periodic(self, layer: Layer, homography: Matrix) -> Matrix:
        """``homography`` for the tiled texture, shifted by whole periods to hold the view."""
        period = layer.texture.shape[1]
        w, h = self.lens.width - 1, self.lens.height - 1
        corners = np.linalg.inv(homography) @ np.array(
            [[0.0, w, 0.0, w], [0.0, 0.0, h, h], [1.0, 1.0, 1.0, 1.0]]
        )
        ahead = corners[2] > 1e-9
        if not ahead.any():
            return homography
        k = math.floor(float((corners[0][ahead] / corners[2][ahead]).min()) / period)
        if k == 0:
            return homography
        shifted: Matrix = homography @ _translate(k * period, 0.0)
        return shifted

    def _plan(self, layer: Layer, pose: CameraPose, seconds: float) -> _Plan:
        homography = plane_homography(pose, self.lens, layer.plane(seconds))
        homography = self._periodic(layer, homography)
        rows = self._rows[id(layer)]
        tex_h, period = layer.texture.shape[:2]
        # Texture coordinates (s, t) seen at the first and last column of every strip, on every
        # row: t is monotonic along a row wherever the plane is in front of the camera, so the
        # two ends bound a strip's row; s over the strip is bounded by its four corners.
        m = np.linalg.inv(homography)
        u, v = self._u, self._v
        den = m[2, 0] * u + m[2, 1] * v + m[2, 2]
        ahead_ends = den > 1e-9
        den = np.where(ahead_ends, den, 1.0)
        t = (m[1, 0] * u + m[1, 1] * v + m[1, 2]) / den
        s = (m[0, 0] * u + m[0, 1] * v + m[0, 2]) / den
        ahead = ahead_ends[:, 0::2] & ahead_ends[:, 1::2]
        t_min, t_max = np.minimum(t[:, 0::2], t[:, 1::2]), np.maximum(t[:, 0::2], t[:, 1::2])
        first = np.empty(ahead.shape[1], np.float64)
        solid = np.empty(ahead.shape[1], np.float64)
        for j in range(ahead.shape[1]):
            corners = s[[0, 0, -1, -1], [2 * j, 2 * j + 1, 2 * j, 2 * j + 1]]
            lo, hi = math.floor(float(corners.min())) - 1, math.ceil(float(corners.max())) + 2
            if hi - lo >= period or not ahead[[0, -1], j].all():
                first[j], solid[j] = rows.first.min(), rows.solid.max()
            else:
                columns = np.arange(lo, hi) % period
                first[j], solid[j] = rows.first[columns].min(), rows.solid[columns].max()
        visible = ~ahead | (t_max > first - 1.0 - _SLACK) | (t_min < 0.0)
        opaque = ahead & (t_min - _SLACK >= solid) & (t_max + 1.0 + _SLACK < tex_h - 1)
        return _Plan(layer, homography, visible, opaque)

    def _warp(
        self, texture: Rgba, homography: Matrix, u0: int, u1: int, r0: int, r1: int, dst: Rgba
    ) -> None:
        """Warp into ``dst[r0:r1, u0:u1]``."""
        cv2.warpPerspective(
            texture,
            _translate(-u0, -r0) @ homography,
            (u1 - u0, r1 - r0),
            dst=dst[r0:r1, u0:u1],
            flags=_FLAGS,
            borderMode=cv2.BORDER_WRAP,
        )

    def _draw_layer(self, plan: _Plan, covered: Mask) -> None:
        needs = plan.visible & ~covered
        texture, homography = self._tiled[id(plan.layer)], plan.homography
        for j, (u0, u1) in enumerate(itertools.pairwise(self._edges)):
            needed = needs[:, j]
            if not needed.any():
                continue
            n0, n1 = _bounds(needed)
            pieces = [(n0, n1)]
            direct = needed & plan.opaque[:, j]
            if direct.any():
                d0, d1 = _bounds(direct)
                if direct[d0:d1].all():
                    self._warp(texture, homography, u0, u1, d0, d1, self._canvas)
                    pieces = [(n0, d0), (d1, n1)]
            for r0, r1 in pieces:
                if r1 > r0:
                    self._warp(texture, homography, u0, u1, r0, r1, self._layer)
                    _over(
                        self._canvas[r0:r1, u0:u1],
                        self._layer[r0:r1, u0:u1],
                        self._scratch[r0:r1, u0:u1],
                        self._alpha[r0:r1, u0:u1],
                    )

    def _draw_sprite(self, sprite: Sprite, pose: CameraPose, seconds: float, covered: Mask) -> None:
        texture = sprite.texture(seconds)
        h, w = texture.shape[:2]
        plane = sprite.plane(seconds)
        homography = plane_homography(pose, self.lens, plane)
        corners = homography @ np.array([[0, w, 0, w], [0, 0, h, h], [1, 1, 1, 1]], np.float64)
        if np.any(corners[2] <= 1e-6):
            return  # behind (or beside) the camera
        xs, ys = corners[0] / corners[2], corners[1] / corners[2]
        x0, y0 = max(0, math.floor(xs.min())), max(0, math.floor(ys.min()))
        x1 = min(self.lens.width, math.ceil(xs.max()) + 1)
        y1 = min(self.lens.height, math.ceil(ys.max()) + 1)
        if x1 <= x0 or y1 <= y0:
            return  # outside the frame
        strips = slice(
            bisect.bisect_right(self._edges, x0) - 1, bisect.bisect_left(self._edges, x1)
        )
        if covered[y0:y1, strips].all():
            return  # behind opaque scenery
        shift: Matrix = _translate(-x0, -y0)
        patch: Rgba = cv2.warpPerspective(  # type: ignore[assignment]
            texture,
            shift @ homography,
            (x1 - x0, y1 - y0),
            flags=_FLAGS,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0, 0),
        )
        region = self._canvas[y0:y1, x0:x1]
        _over(region, patch, np.empty_like(patch), np.empty(patch.shape[:2], np.uint8))


def figure_mask(
    sprite: Sprite, mask: npt.NDArray[np.uint8], pose: CameraPose, lens: Lens, seconds: float
) -> npt.NDArray[np.uint8]:
    """``mask`` (one of a sprite's texture-sized coverage planes) as the frame sees it."""
    homography = plane_homography(pose, lens, sprite.plane(seconds))
    out: npt.NDArray[np.uint8] = cv2.warpPerspective(  # type: ignore[assignment]
        mask, homography, (lens.width, lens.height), flags=_FLAGS, borderValue=0
    )
    return out


def _over(canvas: Rgba, layer: Rgba, scratch: Rgba, alpha: npt.NDArray[np.uint8]) -> None:
    """``canvas = layer + canvas * (1 - layer.alpha)`` in place; ``layer`` is premultiplied."""
    cv2.extractChannel(layer, 3, dst=alpha)
    cv2.bitwise_not(alpha, dst=alpha)
    cv2.merge((alpha, alpha, alpha, alpha), dst=scratch)
    cv2.multiply(canvas, scratch, dst=scratch, scale=1.0 / 255.0)
    cv2.add(scratch, layer, dst=canvas)
