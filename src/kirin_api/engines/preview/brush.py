"""The motion brush of kirin_v1_i2v: ``static_mask`` (stays still) and ``dynamic_masks`` (move).

Trajectory convention (documented in docs/preview-image-models.md):

* points ``{x, y}`` are pixels of the *input image* with the origin at its bottom-left corner;
  they are converted to output pixels (origin top-left, y down) by
  ``u = x * W / W_in`` and ``v = (H_in - y) * H / H_in``;
* the path goes through every point in order: a Catmull-Rom spline (a straight line for two
  points), travelled at a speed proportional to arc length, eased (starts and ends at rest);
* the painted object is displaced by ``path(t) - path(0)``: if the first point is the object's
  centroid, the centroid follows the path; it reaches the last point on the last frame;
* on the way it is carried, not slid: it leans into its heading and stretches along the path
  (squashed across it) in proportion to its speed, a few degrees and percent at most, about
  its centroid; at rest (the first and last frames) it is exactly as painted;
* the hole it leaves is filled from its surroundings (``cv2.inpaint`` at a reduced size);
  objects are drawn in mask order (later ones on top), in screen space (the gentle camera move
  of the rest of the picture does not carry them);
* a static area is taken from the first frame in every frame (a soft edge just outside it), so
  nothing inside it moves, not even the grade; it is drawn over moving objects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.engines.base import Frame
from kirin_api.engines.preview.framing import ease
from kirin_api.engines.preview.stills import Alpha, load_mask

Points = npt.NDArray[np.float64]  # (n, 2) x, y in output pixels

INPAINT_SIDE = 320  # long side of the image the hole is inpainted on
SAMPLES_PER_SEGMENT = 24
STATIC_FEATHER = 2.0  # sigma (output pixels) of the static area's outer edge
LEAN_DEG = 6.0  # a moving object leans into its heading by up to this, at its top speed
STRETCH = 0.12  # and stretches along its path by up to this (squashed across as much)


def to_output(
    points: Sequence[dict[str, float]], image_size: tuple[int, int], out_size: tuple[int, int]
) -> Points:
    """Trajectory points (input-image pixels, origin bottom-left) in output pixels (top-left)."""
    (w_in, h_in), (w, h) = image_size, out_size
    xy = np.array([[float(p["x"]), float(p["y"])] for p in points], dtype=np.float64)
    return np.stack([xy[:, 0] * w / w_in, (h_in - xy[:, 1]) * h / h_in], axis=1)


def _catmull_rom(points: Points) -> Points:
    """Dense samples of a uniform Catmull-Rom spline through every point (ends duplicated)."""
    padded = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0.0, 1.0, SAMPLES_PER_SEGMENT, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    pieces = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        pieces.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                + (3 * p1 - p0 - 3 * p2 + p3) * t3
            )
        )
    pieces.append(points[-1:])
    return np.vstack(pieces)


@dataclass(frozen=True)
class Trajectory:
    """A path through output-pixel points, parameterised by arc length."""

    samples: Points
    lengths: npt.NDArray[np.float64]  # cumulative arc length at each sample

    @classmethod
    def through(cls, points: Points) -> Trajectory:
        """The smooth path through ``points`` (at least one)."""
        samples = _catmull_rom(points) if len(points) > 1 else points.copy()
        steps = np.hypot(*np.diff(samples, axis=0).T) if len(samples) > 1 else np.zeros(0)
        return cls(samples, np.concatenate([[0.0], np.cumsum(steps)]))

    def point(self, fraction: float) -> tuple[float, float]:
        """The point ``fraction`` (0..1) of the way along the path, by arc length."""
        total = float(self.lengths[-1])
        if total <= 0.0:
            return float(self.samples[0, 0]), float(self.samples[0, 1])
        s = min(1.0, max(0.0, fraction)) * total
        x = float(np.interp(s, self.lengths, self.samples[:, 0]))
        y = float(np.interp(s, self.lengths, self.samples[:, 1]))
        return x, y

    def at(self, t: float) -> tuple[float, float]:
        """The point at clip time ``t`` (0..1): eased, so the object starts and ends at rest."""
        return self.point(ease(t))


class MovingObject:
    """One dynamic-brush group: the painted pixels of the first frame, carried along a path."""

    def __init__(self, image: Frame, painted: npt.NDArray[np.bool_], path: Trajectory) -> None:
        self.path = path
        ys, xs = np.nonzero(painted)
        self.empty = xs.size == 0
        self.centroid = (0.0, 0.0)
        self._pad = 0
        self.path_length = 0.0
        if self.empty:
            self.origin = (0, 0)
            self._rgba = np.zeros((1, 1, 4), np.float32)
            return
        # Centroid in continuous pixel coordinates (pixel i spans [i, i + 1)).
        self.centroid = (float(xs.mean()) + 0.5, float(ys.mean()) + 0.5)
        top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        self.origin = (int(left), int(top))
        crop = image[top:bottom, left:right].astype(np.float32)
        alpha = painted[top:bottom, left:right].astype(np.float32)
        # Premultiplied RGBA, padded so that leaning and stretching have room.
        rgba = np.concatenate([crop * alpha[..., None], alpha[..., None]], axis=2)
        self._pad = 1 + round(0.2 * max(right - left, bottom - top))
        pad = self._pad
        self._rgba = np.pad(rgba, ((pad, pad), (pad, pad), (0, 0)))
        # How far the object travels (nothing to lean into when it stays put).
        self.path_length = float(path.lengths[-1])  # 0: a path that goes nowhere

    def offset(self, t: float) -> tuple[float, float]:
        """The displacement at clip time ``t``: ``path(t) - path(0)``."""
        x0, y0 = self.path.at(0.0)
        x, y = self.path.at(t)
        return x - x0, y - y0

    def pose(self, t: float) -> tuple[float, float]:
        """The lean (degrees, positive counter-clockwise on screen) and the stretch along the
        path (> 1; the object is squashed across it by as much) at clip time ``t``.

        Both grow with the object's speed: at rest (the clip's ends) it is exactly as painted;
        moving, it leans into its heading by up to :data:`LEAN_DEG` and stretches by up to
        :data:`STRETCH`, like a thing that is carried rather than slid.
        """
        vx, _ = self._heading(t)
        # The eased speed along the path, relative to its top: 4t(1 - t) for the smoothstep
        # easing, exactly 0 at both ends.
        k = 4.0 * t * (1.0 - t) if 0.0 < t < 1.0 and self.path_length > 0.0 else 0.0
        if k == 0.0:
            return 0.0, 1.0
        # Leaning into a horizontal heading: moving right tips the top to the right (clockwise).
        return -LEAN_DEG * k * vx, 1.0 + STRETCH * k

    def _heading(self, t: float) -> tuple[float, float]:
        """The path's unit direction at clip time ``t``."""
        u = min(max(t, 0.02), 0.98)
        x0, y0 = self.path.at(u - 0.02)
        x1, y1 = self.path.at(u + 0.02)
        norm = math.hypot(x1 - x0, y1 - y0)
        return ((x1 - x0) / norm, (y1 - y0) / norm) if norm > 1e-9 else (1.0, 0.0)

    def _transform(self, t: float) -> npt.NDArray[np.float64]:
        """2x3: the padded sprite's pixels to the frame's (lean, stretch, then travel)."""
        dx, dy = self.offset(t)
        lean, stretch = self.pose(t)
        cx, cy = self.centroid
        c, s = self._heading(t)
        along = np.array([[c, -s], [s, c]])  # the heading's frame -> the picture's
        squash = along @ np.diag([stretch, 1.0 / stretch]) @ along.T
        r = math.radians(lean)
        turn = np.array([[math.cos(r), math.sin(r)], [-math.sin(r), math.cos(r)]])
        linear = turn @ squash
        pad = self._pad
        # sprite pixel p sits at frame point p + origin - pad; turn and squash about the
        # centroid, then move by the path's offset.
        centre = np.array([cx, cy])
        start = np.array([self.origin[0] - pad, self.origin[1] - pad], np.float64)
        move = centre + np.array([dx, dy]) - linear @ centre + linear @ start
        return np.hstack([linear, move[:, None]])

    def draw(self, frame: Frame, t: float) -> None:
        """Paint the object at its place for time ``t`` onto ``frame`` (in place)."""
        if self.empty:
            return
        matrix = self._transform(t)
        sprite = self._rgba
        sh, sw = sprite.shape[:2]
        corners = np.array([[0, 0, 1], [sw, 0, 1], [0, sh, 1], [sw, sh, 1]], np.float64)
        placed = corners @ matrix.T
        h, w = frame.shape[:2]
        x0 = max(0, math.floor(placed[:, 0].min()))
        y0 = max(0, math.floor(placed[:, 1].min()))
        x1 = min(w, math.ceil(placed[:, 0].max()) + 1)
        y1 = min(h, math.ceil(placed[:, 1].max()) + 1)
        if x1 <= x0 or y1 <= y0:
            return  # moved out of the picture
        local = matrix.copy()
        local[:, 2] -= (x0, y0)
        piece = np.asarray(
            cv2.warpAffine(sprite, local, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR),
            np.float32,
        )
        region = frame[y0:y1, x0:x1].astype(np.float32)
        alpha = piece[..., 3:4]
        mixed = region * (1.0 - alpha) + piece[..., :3]
        frame[y0:y1, x0:x1] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def brushed_objects(
    picture: Frame,
    image_size: tuple[int, int],
    dynamic: Sequence[tuple[str, Sequence[dict[str, float]]]],
) -> tuple[list[MovingObject], npt.NDArray[np.bool_]]:
    """The dynamically brushed areas of ``picture`` (the image cover-fitted to the output) and
    the holes they leave. ``dynamic``: (mask path, trajectory points in the input image's pixels,
    origin bottom-left); ``image_size``: the input image's (width, height)."""
    height, width = picture.shape[:2]
    objects: list[MovingObject] = []
    holes = np.zeros((height, width), bool)
    for mask_path, points in dynamic:
        painted = load_mask(mask_path, width, height)
        path = Trajectory.through(to_output(points, image_size, (width, height)))
        objects.append(MovingObject(picture, painted, path))
        holes |= painted
    return objects, holes


def fill_holes(image: Frame, holes: npt.NDArray[np.bool_]) -> Frame:
    """``image`` with the ``holes`` filled from their surroundings (the rest unchanged)."""
    if not holes.any():
        return image
    h, w = holes.shape
    k = min(1.0, INPAINT_SIDE / max(h, w))
    sw, sh = max(8, round(w * k)), max(8, round(h * k))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    # Grow the hole a little so the object's own fringe colours are not copied into it.
    grown = cv2.dilate(holes.astype(np.uint8), np.ones((5, 5), np.uint8), iterations=2)
    small_hole = cv2.resize(grown, (sw, sh), interpolation=cv2.INTER_NEAREST)
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA)
    up = cv2.GaussianBlur(cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), 1.5)
    out: Frame = np.where(holes[..., None], up, image).astype(np.uint8)
    return out


def static_alpha(painted: npt.NDArray[np.bool_]) -> Alpha:
    """1 inside the static area, falling to 0 over a few pixels outside it (no hard seam)."""
    hard = painted.astype(np.float32)
    soft = cv2.GaussianBlur(hard, (0, 0), STATIC_FEATHER)
    return np.asarray(np.maximum(hard, np.minimum(1.0, 2.0 * soft)), dtype=np.float32)


class StillArea:
    """The static brush: composites the first frame's pixels back over every frame."""

    def __init__(self, first: Frame, painted: npt.NDArray[np.bool_]) -> None:
        alpha = static_alpha(painted)
        ys, xs = np.nonzero(alpha > 0.0)
        self.empty = xs.size == 0
        # Work only on the bounding box of the area: most masks cover a small part.
        self._box = (0, 0, 0, 0) if self.empty else (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1)
        top, bottom, left, right = self._box
        self._alpha = alpha[top:bottom, left:right, None]
        self._still = first[top:bottom, left:right].astype(np.float32) * self._alpha

    def draw(self, frame: Frame) -> None:
        """Put the still pixels back onto ``frame`` (in place)."""
        if self.empty:
            return
        top, bottom, left, right = self._box
        region = frame[top:bottom, left:right].astype(np.float32)
        mixed = region * (1.0 - self._alpha) + self._still
        frame[top:bottom, left:right] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
