"""Draw one frame of a :class:`~.scene.Scene` from a :class:`~.camera.CameraPose`.

Each plane is one ``cv2.warpPerspective`` of its texture through the plane's homography (about
1 ms for a 720p RGBA frame, against ~30 ms for the same gather in numpy), composited far to near
with the premultiplied "over" operator in OpenCV's saturating uint8 arithmetic. Sprites are
warped into their bounding box only. Layers wrap along x (``BORDER_WRAP``): their textures are
seamless there, and tall enough along y for every view of the clip (see ``scene.view_rows``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from kirin_api.engines.preview.camera import CameraPose, Lens, Matrix, plane_homography
from kirin_api.engines.preview.scene import Layer, Scene, Sprite
from kirin_api.engines.preview.textures import Rgba

_FLAGS = cv2.INTER_LINEAR


class Renderer:
    """Renders frames of one scene at one size; reuses its buffers between frames."""

    def __init__(self, scene: Scene, lens: Lens) -> None:
        self.scene = scene
        self.lens = lens
        size = (lens.height, lens.width, 4)
        self._canvas = np.zeros(size, np.uint8)
        self._layer = np.zeros(size, np.uint8)
        self._inverse = np.zeros(size, np.uint8)

    def render(
        self, pose: CameraPose, seconds: float
    ) -> np.ndarray[tuple[int, int, int], np.dtype[np.uint8]]:
        """The RGB frame (H, W, 3) seen from ``pose`` at clip time ``seconds`` (a new array)."""
        dsize = (self.lens.width, self.lens.height)
        sky = self.scene.sky
        cv2.warpPerspective(
            sky.texture,
            plane_homography(pose, self.lens, sky.plane(seconds)),
            dsize,
            dst=self._canvas,
            flags=_FLAGS,
            borderMode=cv2.BORDER_WRAP,
        )
        for item in self.scene.items:
            if isinstance(item, Layer):
                self._draw_layer(item, pose, seconds)
            else:
                self._draw_sprite(item, pose, seconds)
        out: Rgba = cv2.cvtColor(  # type: ignore[assignment]
            self._canvas, cv2.COLOR_RGBA2RGB
        )
        return out

    def _draw_layer(self, layer: Layer, pose: CameraPose, seconds: float) -> None:
        cv2.warpPerspective(
            layer.texture,
            plane_homography(pose, self.lens, layer.plane(seconds)),
            (self.lens.width, self.lens.height),
            dst=self._layer,
            flags=_FLAGS,
            borderMode=cv2.BORDER_WRAP,
        )
        _over(self._canvas, self._layer, self._inverse)

    def _draw_sprite(self, sprite: Sprite, pose: CameraPose, seconds: float) -> None:
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
        shift: Matrix = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]])
        patch: Rgba = cv2.warpPerspective(  # type: ignore[assignment]
            texture,
            shift @ homography,
            (x1 - x0, y1 - y0),
            flags=_FLAGS,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0, 0),
        )
        region = self._canvas[y0:y1, x0:x1]
        _over(region, patch, np.empty_like(patch))


def _over(canvas: Rgba, layer: Rgba, scratch: Rgba) -> None:
    """``canvas = layer + canvas * (1 - layer.alpha)`` in place; ``layer`` is premultiplied."""
    inverse = cv2.bitwise_not(layer[..., 3])
    cv2.merge((inverse, inverse, inverse, inverse), dst=scratch)
    cv2.multiply(canvas, scratch, dst=scratch, scale=1.0 / 255.0)
    cv2.add(scratch, layer, dst=canvas)
