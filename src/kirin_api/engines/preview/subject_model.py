"""The reference's moving subject, found against a background model (for :mod:`.motion_analysis`).

Flow alone places a plain, untextured figure poorly: inside it the flow has nothing to hold on
to, so its measured shift lags and the region voted from it smears along the path. Here the
kept frames are aligned on the first one by the global motion, their per-pixel median is the
background (the subject, moving, is elsewhere in most of them), and the subject is what differs
from it: in the first frame, its region; in every frame, its centroid, whose travel is the
subject's shift. Used when it finds one solid figure that keeps its size along the clip;
otherwise the flow's answer stands.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float64]
SAMPLES = 24  # frames the median is taken over, spread over the clip
DIFFERENCE = 14.0  # grey levels off the background that count as subject
_MIN_AREA, _MAX_AREA = 0.004, 0.5  # the subject's share of the frame
_MIN_TRAVEL = 0.02  # the subject must travel this share of the width at some point
_SIZE_RATIO = 2.5  # a frame's subject area must stay within this factor of the first frame's


@dataclass(frozen=True)
class SubjectModel:
    region: npt.NDArray[np.float32]  # (h, w) 0/1 at analysis size, the first frame
    offsets: FloatArray  # (K, 2) the subject's shift from the first frame, analysis pixels


def _aligned(frame: Gray, to_first: FloatArray, size: tuple[int, int]) -> npt.NDArray[np.float32]:
    """``frame`` on the first frame's grid; NaN where it has no pixel."""
    warped = cv2.warpAffine(
        frame.astype(np.float32),
        to_first[:2],
        size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=np.nan,
    )
    return np.asarray(warped, np.float32)


def _figure(diff: npt.NDArray[np.float32], threshold: float) -> Gray:
    raw = (diff > threshold).astype(np.uint8)
    shut = cv2.morphologyEx(raw, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    clean = cv2.morphologyEx(shut, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(clean, connectivity=8)
    if count <= 1:
        return np.zeros(diff.shape, np.uint8)
    biggest = int(np.argmax(stats[1:, cv2.CC_STAT_AREA])) + 1
    piece = (labels == biggest).astype(np.uint8)
    # Fill its holes: the outer contour, filled.
    contours, _ = cv2.findContours(piece, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out: Gray = np.zeros_like(piece)
    cv2.drawContours(out, contours, -1, 1, -1)
    return out


def find_subject(frames: list[Gray], cumulative: list[FloatArray]) -> SubjectModel | None:
    """The subject against the median background; ``cumulative[k]`` maps frame 0 to frame k."""
    count = len(frames)
    if count < 8:
        return None
    height, width = frames[0].shape
    size = (width, height)
    to_first: list[FloatArray] = [np.asarray(np.linalg.inv(m), np.float64) for m in cumulative]
    picks = np.unique(np.linspace(0, count - 1, min(count, SAMPLES)).round().astype(int))
    stack = np.stack([_aligned(frames[k], to_first[k], size) for k in picks])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN where no frame saw a pixel
        background = np.nanmedian(stack, axis=0)
    background = np.where(np.isnan(background), frames[0].astype(np.float32), background)
    first = _figure(np.abs(frames[0].astype(np.float32) - background), DIFFERENCE)
    area = float(first.mean())
    if not _MIN_AREA <= area <= _MAX_AREA:
        return None
    ys, xs = np.nonzero(first)
    origin = np.array([xs.mean(), ys.mean()])
    offsets = np.zeros((count, 2))
    for k in range(1, count):
        aligned = _aligned(frames[k], to_first[k], size)
        diff = np.abs(np.nan_to_num(aligned - background, nan=0.0))
        piece = _figure(diff.astype(np.float32), DIFFERENCE)
        share = float(piece.mean())
        if not area / _SIZE_RATIO <= share <= area * _SIZE_RATIO:
            return None  # the figure splits, merges or vanishes: not one steady subject
        ys, xs = np.nonzero(piece)
        offsets[k] = np.array([xs.mean(), ys.mean()]) - origin
    if float(np.hypot(offsets[:, 0], offsets[:, 1]).max()) < _MIN_TRAVEL * width:
        # It hardly moves: what differs is the alignment's error at sharp edges (a pan over a
        # patterned picture), or a subject too still to need cutting out.
        return None
    return SubjectModel(first.astype(np.float32), offsets)
