"""The moving parts of a motion-control clip: the character's cut-out and an element's figure.

* The **character**: the reference video's moving region says roughly where it is in the image
  (frame 0 shows the image as it is); GrabCut (:func:`.cutout.from_seed`) finds its outline in
  the image's own colours, so the cut-out holds all of it and none is left behind when it moves.
  The hole behind it is painted from the background around it, from beyond a margin, so that no
  colour of the figure is smeared into it.
* An **element** (``element_list``'s frontal image): cut out of its picture (GrabCut from the
  borders), pasted where the character is with a soft contact shadow, moving with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.engines.base import Frame
from kirin_api.engines.preview import cutout

Mask = npt.NDArray[np.float32]
FloatArray = npt.NDArray[np.float64]
ELEMENT_HEIGHT = 0.45
"""A subject's frontal image is pasted this tall, as a fraction of the output's height."""
FEATHER = 0.012  # soft edge of the character's cut-out, fraction of the short side
SHADOW = 0.45  # darkness of the element's contact shadow


@dataclass
class SubjectLayer:
    """The character's cut-out: its soft mask on the image and the mask's box."""

    mask: Mask
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the mask's support

    def moved(self, margin: tuple[int, int]) -> SubjectLayer:
        """The same cut-out on a canvas with ``margin`` (x, y) pixels added around the image."""
        mx, my = margin
        mask = cv2.copyMakeBorder(self.mask, my, my, mx, mx, cv2.BORDER_CONSTANT, value=0.0)
        x0, y0, x1, y1 = self.box
        return SubjectLayer(np.asarray(mask, np.float32), (x0 + mx, y0 + my, x1 + mx, y1 + my))


@dataclass
class Element:
    picture: Frame
    weight: Mask  # (h, w) alpha of the cut-out figure, soft at its edge
    shadow: Mask  # (h, w) darkening under it (an ellipse at its feet)
    anchor: tuple[float, float]  # image point the element's centre follows


def subject_layer(region: Mask, image: Frame) -> SubjectLayer | None:
    """The character's cut-out on ``image`` (the frame-0 picture), seeded by ``region``."""
    height, width = image.shape[:2]
    rough: Mask = np.asarray(
        cv2.resize(region, (width, height), interpolation=cv2.INTER_LINEAR), np.float32
    )
    refined = cutout.from_seed(image, rough)
    figure = (refined if refined is not None else rough) > 0.5
    # Grown by the feather before it is blurred: fully opaque over the whole figure (frame 0
    # shows the image itself there), soft only outside it.
    sigma = max(1.0, FEATHER * min(width, height))
    # The opaque core must hold the figure and a margin past its anti-aliased rim, after the
    # blur has eaten about two sigmas of the grown shape.
    grow = 2 * round(3.5 * sigma) + 1
    solid = cv2.dilate(figure.astype(np.uint8), np.ones((grow, grow), np.uint8))
    blurred = cv2.GaussianBlur(solid.astype(np.float32), (0, 0), sigma)
    soft: Mask = np.asarray(np.clip(blurred, 0.0, 1.0), dtype=np.float32)
    soft[soft > 0.99] = 1.0  # an exact core: where the fill goes, frame 0 shows only the image
    x, y, w, h = cv2.boundingRect((soft > 0.01).astype(np.uint8))
    if w == 0 or h == 0:
        return None
    return SubjectLayer(mask=soft, box=(x, y, x + w, y + h))


def fill_behind(image: Frame, mask: Mask) -> Frame:
    """``image`` with the character's cut-out painted over from its surroundings (once).

    Only the mask's opaque core is replaced (with a soft inner edge): frame 0 pastes the
    cut-out over all of it, so the first frame is the image itself. The core holds the figure
    and a margin past its rim, so no pixel of it stays behind when it moves, and the inpainting
    reads only background. It runs at a quarter of the size (a large hole fills with smooth
    colour either way).
    """
    h, w = image.shape[:2]
    core = (mask >= 1.0).astype(np.float32)
    small_size = (max(8, w // 4), max(8, h // 4))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    hole = (cv2.resize(core, small_size, interpolation=cv2.INTER_AREA) > 0.02).astype(np.uint8)
    hole = np.asarray(cv2.dilate(hole, np.ones((3, 3), np.uint8)), np.uint8)
    painted = cv2.inpaint(small, hole, 5, cv2.INPAINT_TELEA)
    filler = cv2.resize(painted, (w, h), interpolation=cv2.INTER_LINEAR)
    weight = (cv2.GaussianBlur(core, (0, 0), 1.5) * core).astype(np.float32)
    return np.asarray(cv2.blendLinear(filler, image, weight, 1.0 - weight), dtype=np.uint8)


def make_element(picture: Frame, width: int, height: int, layer: SubjectLayer | None) -> Element:
    """The element's figure, :data:`ELEMENT_HEIGHT` of the frame tall, on the character."""
    h, w = picture.shape[:2]
    target_h = max(2, round(height * ELEMENT_HEIGHT))
    target_w = max(2, min(round(w * target_h / h), round(width * 0.8)))
    sized = np.asarray(
        cv2.resize(
            picture,
            (target_w, target_h),
            interpolation=cv2.INTER_AREA if target_h < h else cv2.INTER_CUBIC,
        ),
        np.uint8,
    )
    weight = cutout.from_borders(sized)
    if weight is None:  # nothing stands out from its borders: the whole picture, feathered
        ramp = max(2, round(0.04 * min(target_w, target_h)))
        wx = np.clip(np.minimum(np.arange(target_w), np.arange(target_w)[::-1]) / ramp, 0, 1)
        wy = np.clip(np.minimum(np.arange(target_h), np.arange(target_h)[::-1]) / ramp, 0, 1)
        weight = (wy[:, None] * wx[None, :]).astype(np.float32)
    if layer is not None:
        x0, y0, x1, y1 = layer.box
        anchor = ((x0 + x1) / 2, (y0 + y1) / 2)
    else:
        anchor = (width / 2, height / 2)
    return Element(sized, weight, contact_shadow(weight), anchor)


def contact_shadow(weight: Mask) -> Mask:
    """A soft ellipse under the figure's lowest rows, as wide as the figure there."""
    h, w = weight.shape
    rows = np.flatnonzero(weight.max(axis=1) > 0.5)
    cols = np.flatnonzero(weight.max(axis=0) > 0.5)
    shadow = np.zeros((h, w), np.float32)
    if rows.size == 0:
        return shadow
    bottom = int(rows.max())
    cx, half = (cols.min() + cols.max()) / 2.0, (cols.max() - cols.min()) / 2.0
    axes = (max(2, round(half * 0.9)), max(2, round(h * 0.04)))
    cv2.ellipse(shadow, (round(cx), bottom), axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    soft = cv2.GaussianBlur(shadow, (0, 0), max(1.0, h / 50.0))
    out: Mask = np.asarray(soft * np.float32(SHADOW), np.float32)
    return out
