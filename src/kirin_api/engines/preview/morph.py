"""From one picture to another: a flow-guided morph, used where a clip ends on ``image_tail``.

Dense optical flow (Farneback) is measured both ways between the two pictures at a reduced size.
Frame ``t`` warps the first picture ``t`` of the way along its flow and the second ``1 - t`` of
the way back along its own, and cross-dissolves them (eased). Where the flow is unreliable
(the warped pictures disagree: unrelated images, occlusions) it is faded out, so the morph falls
back to a plain cross-dissolve there instead of smearing. ``t = 0`` is exactly the first
picture and ``t = 1`` exactly the second.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.engines.base import Frame
from kirin_api.engines.preview.framing import ease

Flow = npt.NDArray[np.float32]

FLOW_SIDE = {"std": 320, "pro": 480}  # long side of the images the flow is measured on
TRUST = 30.0  # grey-level disagreement (0..255) at which a flow vector counts half
MIN_FLOW = 0.25  # pixels (of the flow image): below this everywhere, nothing is warped


def _grey(image: Frame, width: int, height: int) -> npt.NDArray[np.uint8]:
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def _flow(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> Flow:
    """Flow from ``a`` to ``b``: ``a[y, x] ~ b[y + f_y, x + f_x]``."""
    flow = cv2.calcOpticalFlowFarneback(
        a, b, np.zeros((*a.shape, 2), np.float32), 0.5, 4, 21, 3, 7, 1.5, 0
    )
    return np.asarray(flow, dtype=np.float32)


def _trusted(flow: Flow, a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> Flow:
    """``flow`` scaled down where ``b`` pulled back along it does not look like ``a``."""
    h, w = a.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    pulled = cv2.remap(
        b, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    error = cv2.GaussianBlur(np.abs(pulled.astype(np.float32) - a.astype(np.float32)), (0, 0), 3)
    trust = np.float32(1.0) / (np.float32(1.0) + np.square(np.asarray(error, np.float32) / TRUST))
    smooth = cv2.GaussianBlur(flow * trust[..., None], (0, 0), 2)
    return np.asarray(smooth, dtype=np.float32)


class Morph:
    """Frames between ``first`` and ``last`` (same size, RGB uint8)."""

    def __init__(self, first: Frame, last: Frame, mode: str = "std") -> None:
        if first.shape != last.shape:
            raise ValueError("morph ends must have the same size")
        self.first, self.last = first, last
        h, w = first.shape[:2]
        k = min(1.0, FLOW_SIDE.get(mode, 320) / max(h, w))
        sw, sh = max(16, round(w * k)), max(16, round(h * k))
        ga, gb = _grey(first, sw, sh), _grey(last, sw, sh)
        forward = _trusted(_flow(ga, gb), ga, gb)
        backward = _trusted(_flow(gb, ga), gb, ga)
        # Full-size flow as separate contiguous planes: the per-frame maps are then one
        # cv2.scaleAdd each (a single pass, no numpy temporaries).
        self._forward = self._planes(forward, w, h, w / sw, h / sh)
        self._backward = self._planes(backward, w, h, w / sw, h / sh)
        # Unrelated pictures leave (almost) no trusted flow: then warping is wasted work and the
        # morph is a cross-dissolve.
        self.warps = max(float(np.abs(forward).max()), float(np.abs(backward).max())) > MIN_FLOW
        self._gx, self._gy = np.meshgrid(
            np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
        )

    @staticmethod
    def _planes(flow: Flow, w: int, h: int, kx: float, ky: float) -> tuple[Flow, Flow]:
        big = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
        fx = np.ascontiguousarray(big[..., 0] * np.float32(kx), dtype=np.float32)
        fy = np.ascontiguousarray(big[..., 1] * np.float32(ky), dtype=np.float32)
        return fx, fy

    def _pull(self, image: Frame, flow: tuple[Flow, Flow], amount: float) -> Frame:
        # Backward warp: the content at p came from p - amount * flow(p) (the flow at p stands
        # in for the flow at the source point: fine for the smooth flows kept by _trusted).
        map_x = cv2.scaleAdd(flow[0], -amount, self._gx)
        map_y = cv2.scaleAdd(flow[1], -amount, self._gy)
        out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return np.asarray(out, dtype=np.uint8)

    def at(self, t: float) -> Frame:
        """The picture ``t`` (0..1) of the way from the first to the last."""
        if t <= 0.0:
            return self.first
        if t >= 1.0:
            return self.last
        a, b = self.first, self.last
        if self.warps:
            a = self._pull(a, self._forward, t)
            b = self._pull(b, self._backward, 1.0 - t)
        w = ease(t)
        return np.asarray(cv2.addWeighted(a, 1.0 - w, b, w, 0.0), dtype=np.uint8)
