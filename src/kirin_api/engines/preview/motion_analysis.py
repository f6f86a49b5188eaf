"""Motion of a reference video, measured for :mod:`.motion_transfer` (kirin_v3_motion_control).

The reference video is decoded once, bounded, at a small size (its long side
:data:`ANALYSIS_SIDE` px, grey), keeping at most one frame per output frame (1/30 s apart). For
each pair of consecutive kept frames, dense optical flow (Farnebäck) is computed and split in two:

* the **global** motion: a similarity (shift, scale, rotation) fitted to the flow by RANSAC
  (``cv2.estimateAffinePartial2D``), i.e. what the whole picture (the camera) did;
* the **subject** motion: what is left once the global motion is taken out. Pixels whose residual
  flow is larger than :data:`SUBJECT_PX` are the moving region (the character); its median
  residual is the subject's shift for that pair.

Both are accumulated over the clip into a :class:`MotionTrack`: per kept frame, the cumulative
global similarity relative to the first frame, and the subject's cumulative shift relative to the
background. Shifts are stored as fractions of the reference's width and height, so they can be
replayed on an output of any size and aspect ratio. The subject's region *at the first frame*
(every pair's moving mask, shifted back by the subject's shift so far, averaged) says which part
of the picture the subject is; when a background model finds one solid moving figure
(:mod:`.subject_model`, better for plain, untextured figures), its outline and travel are used
instead.

Everything here is deterministic: Farnebäck is, and OpenCV's RANSAC seeds its own generator with
a constant on every call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import av
import av.error
import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.engines.preview.subject_model import find_subject

__all__ = [
    "ANALYSIS_SIDE",
    "SUBJECT_PX",
    "MotionError",
    "MotionTrack",
    "analyse_video",
]

ANALYSIS_SIDE = {"std": 192, "pro": 256}
"""Long side, in pixels, at which the reference is analysed (``pro`` looks closer)."""
SUBJECT_PX = 0.6
"""Residual flow (analysis pixels per frame) above which a pixel belongs to the moving subject."""
# A subject is a region, not the whole picture and not noise: between these fractions of it.
_SUBJECT_MIN_AREA = 0.004
_SUBJECT_MAX_AREA = 0.6
# Pixels of the moving region at frame 0 must be moving in at least this share of the pairs
# where a subject was seen, once each pair's mask is shifted back to frame 0.
_REGION_SHARE = 0.25
# Flow vectors sampled for the global fit: every _STEP-th pixel, away from the borders where
# content enters or leaves the picture and the flow is unreliable.
_STEP = 4
_BORDER = 0.08
_RANSAC_PX = 1.0
# Global motion below this per pair (analysis pixels; scale ratio and radians) is no motion.
_STILL_PX = 0.12
_STILL_RATIO = 0.0015
_DECODE_SLACK = 8  # decoded (not kept) frames allowed per output frame: up to 240 fps sources
_AV_ERRORS: tuple[type[BaseException], ...] = (av.error.FFmpegError, OSError, ValueError)

Gray = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float64]


class MotionError(Exception):
    """The reference video could not be decoded for motion analysis."""


@dataclass(frozen=True)
class MotionTrack:
    """The reference video's motion, cumulative from its first frame.

    Attributes:
        times: seconds from the first kept frame, shape (K,), increasing.
        global_motion: (K, 4): shift x, shift y (fractions of the reference's width and height:
            how far the frame's centre moved), log scale, angle (radians, as
            ``cv2.getRotationMatrix2D``'s sign: positive turns the content counter-clockwise).
        subject: (K, 2): the subject's shift relative to the background, fractions of width and
            height; zeros when no subject moves.
        region: the subject's region at the first frame, float32 (h, w) in 0..1 at analysis size,
            or None when no subject was found.
        analysis_size: (width, height) of the analysis frames.
        frames_decoded: frames decoded from the reference (kept or not).
    """

    times: FloatArray
    global_motion: FloatArray
    subject: FloatArray
    region: npt.NDArray[np.float32] | None
    analysis_size: tuple[int, int]
    frames_decoded: int

    def at(self, seconds: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Global motion (N, 4) and subject shift (N, 2) at ``seconds``, linearly interpolated.

        Times before the first or after the last kept frame hold the end values, so an output a
        frame longer than what was decoded stays still rather than jumping.
        """
        glob = np.stack(
            [np.interp(seconds, self.times, self.global_motion[:, j]) for j in range(4)], axis=1
        )
        subj = np.stack(
            [np.interp(seconds, self.times, self.subject[:, j]) for j in range(2)], axis=1
        )
        return glob, subj

    def horizontal_direction(self, threshold: float = 0.05) -> int:
        """Which way the reference's moving content goes overall: +1 right, -1 left, 0 neither.

        The subject's own shift decides when there is a subject (a static camera filming a
        person, as the seed asks); otherwise the whole picture's. Less than ``threshold`` of
        the width over the clip counts as no direction.
        """
        if self.region is not None:
            total = float(self.subject[-1, 0] + self.global_motion[-1, 0])
        else:
            total = float(self.global_motion[-1, 0])
        if abs(total) < threshold:
            return 0
        return 1 if total > 0 else -1


def _analysis_size(width: int, height: int, side: int) -> tuple[int, int]:
    scale = side / max(width, height)
    return max(16, round(width * scale / 2) * 2), max(16, round(height * scale / 2) * 2)


def _upright(gray: Gray, rotation: int) -> Gray:
    """Turn a decoded frame as players do for its display matrix (FFmpeg's autorotate rule)."""
    turn = (-rotation) % 360  # FFmpeg: theta = -display rotation; 90 means turn clockwise
    if turn == 90:
        return np.ascontiguousarray(cv2.rotate(gray, cv2.ROTATE_90_CLOCKWISE))
    if turn == 180:
        return np.ascontiguousarray(cv2.rotate(gray, cv2.ROTATE_180))
    if turn == 270:
        return np.ascontiguousarray(cv2.rotate(gray, cv2.ROTATE_90_COUNTERCLOCKWISE))
    return gray


def decode_small(
    path: str | os.PathLike[str], *, seconds: float, max_frames: int, side: int
) -> tuple[list[Gray], list[float], int]:
    """Grey frames of ``path``, long side ``side``, at least 1/30 s apart, covering ``seconds``.

    Bounded three ways: decoding stops after ``seconds`` of video, after ``max_frames`` kept
    frames, and after ``max_frames * 8`` decoded ones. Only the mov/mp4 demuxer is used (intake
    already proved the file is MP4/MOV; this keeps FFmpeg from probing it as anything else).

    Returns:
        The frames, their times (seconds from the first one) and the count of decoded frames.
    """
    frames: list[Gray] = []
    times: list[float] = []
    decoded = 0
    spacing = 1.0 / 30 - 1e-3
    try:
        with av.open(os.fspath(path), format="mov") as container:
            if not container.streams.video:
                raise MotionError(f"{os.fspath(path)!r} has no video stream")
            stream: Any = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame threads: decoding is most of the analysis
            rate = float(stream.average_rate or 30)
            first: float | None = None
            for frame in container.decode(stream):
                decoded += 1
                stamp = frame.time if frame.time is not None else decoded / rate
                if first is None:
                    first = float(stamp)
                at = float(stamp) - first
                if at > seconds + 0.5 / 30 or decoded > max_frames * _DECODE_SLACK:
                    break
                if times and at < times[-1] + spacing:
                    continue  # faster than 30 fps: one frame per output frame is enough
                rotation = round(float(getattr(frame, "rotation", 0) or 0))
                if rotation % 180 == 90:
                    w, h = _analysis_size(frame.height, frame.width, side)
                    w, h = h, w  # scale the stored frame; it is turned upright below
                else:
                    w, h = _analysis_size(frame.width, frame.height, side)
                small = frame.reformat(width=w, height=h, format="gray", interpolation="AREA")
                frames.append(_upright(np.asarray(small.to_ndarray(), dtype=np.uint8), rotation))
                times.append(at)
                if len(frames) >= max_frames:
                    break
    except _AV_ERRORS as exc:
        raise MotionError(f"cannot decode {os.fspath(path)!r}: {exc}") from exc
    if not frames:
        raise MotionError(f"{os.fspath(path)!r} has no decodable frames")
    return frames, times, decoded


@dataclass
class _PairMotion:
    matrix: FloatArray  # 3x3 similarity, frame k-1 -> frame k (analysis pixels)
    subject_shift: tuple[float, float]  # median residual flow of the moving region
    mask: Gray | None  # the moving region on frame k-1's grid, or None


class _Estimator:
    """Per-pair motion on frames of one size; the sampling grids are built once."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        self.xs, self.ys = xs, ys
        bx, by = round(width * _BORDER), round(height * _BORDER)
        sy, sx = np.mgrid[by : height - by : _STEP, bx : width - bx : _STEP]
        self.sample_y, self.sample_x = sy.ravel(), sx.ravel()
        self.sample_src = np.stack([self.sample_x, self.sample_y], axis=1).astype(np.float32)
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.halo = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
        # Content entering or leaving at the edges has no match in the other frame: its flow
        # is a guess, never a subject.
        self.inner = np.zeros((height, width), np.uint8)
        self.inner[by : height - by, bx : width - bx] = 1
        # DIS at its "medium" preset: as accurate as Farnebäck here at a fifth of the time.
        self.flow: Any = cv2.DISOpticalFlow_create(  # type: ignore[attr-defined]  # not in stubs
            cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
        )

    def _fit(self, vectors: FloatArray, keep: npt.NDArray[np.bool_] | None) -> FloatArray:
        """3x3 similarity fitted by RANSAC to the sampled flow (only ``keep`` samples if given)."""
        src = self.sample_src if keep is None else self.sample_src[keep]
        moved = vectors if keep is None else vectors[keep]
        matrix = None
        if len(src) >= 8:
            matrix, _ = cv2.estimateAffinePartial2D(
                src,
                src + moved,
                method=cv2.RANSAC,
                ransacReprojThreshold=_RANSAC_PX,
                maxIters=500,
                confidence=0.995,
                refineIters=10,
            )
        if matrix is None:  # degenerate (flat picture): the median shift is the best we have
            dx, dy = np.median(moved, axis=0) if len(moved) else (0.0, 0.0)
            matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
        return np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])

    def _residual(self, flow: Any, full: FloatArray) -> tuple[Any, Any]:
        m = full.astype(np.float32)
        rx = flow[..., 0] - (m[0, 0] * self.xs + m[0, 1] * self.ys + m[0, 2] - self.xs)
        ry = flow[..., 1] - (m[1, 0] * self.xs + m[1, 1] * self.ys + m[1, 2] - self.ys)
        return rx, ry

    def pair(self, a: Gray, b: Gray) -> _PairMotion:
        flow = self.flow.calc(a, b, None)
        vectors = flow[self.sample_y, self.sample_x]
        full = self._fit(vectors, None)
        rx, ry = self._residual(flow, full)
        moving = ((rx * rx + ry * ry) > SUBJECT_PX * SUBJECT_PX).astype(np.uint8) & self.inner
        moving = np.asarray(cv2.morphologyEx(moving, cv2.MORPH_OPEN, self.kernel), np.uint8)
        if moving.any():
            # Fit again away from the mover: the flow field smears a moving subject into its
            # surroundings, and those near-inliers bias the least-squares refinement by a
            # fraction of a pixel per frame, which would add up to a drifting background.
            near = cv2.dilate(moving, self.halo)[self.sample_y, self.sample_x].astype(bool)
            full = self._fit(vectors, ~near)
            rx, ry = self._residual(flow, full)
        full = _snap(full, (self.width / 2, self.height / 2))
        area = float(moving.mean())
        if not _SUBJECT_MIN_AREA <= area <= _SUBJECT_MAX_AREA:
            return _PairMotion(full, (0.0, 0.0), None)
        inside = moving.astype(bool)
        mx, my = rx[inside], ry[inside]
        # The core of the subject moves the whole way; its smeared rim less: use the stronger half.
        strength = mx * mx + my * my
        core = strength >= np.median(strength)
        shift = (float(np.median(mx[core])), float(np.median(my[core])))
        return _PairMotion(full, shift, moving)


def _snap(matrix: FloatArray, centre: tuple[float, float]) -> FloatArray:
    """Identity for a pair whose global motion is below what the flow can tell from noise.

    A still camera must give a still background: without this, the flow's noise (a few
    hundredths of a pixel per frame) would add up over hundreds of frames.
    """
    shift_x, shift_y, log_scale, angle = _decompose(matrix, centre)
    if (
        np.hypot(shift_x, shift_y) < _STILL_PX
        and abs(log_scale) < _STILL_RATIO
        and abs(angle) < _STILL_RATIO
    ):
        return np.eye(3)
    return matrix


def _decompose(
    matrix: FloatArray, centre: tuple[float, float]
) -> tuple[float, float, float, float]:
    """(shift x, shift y, log scale, angle) of a similarity, its shift measured at ``centre``."""
    cx, cy = centre
    a, b = matrix[0, 0], matrix[1, 0]
    moved_x = matrix[0, 0] * cx + matrix[0, 1] * cy + matrix[0, 2]
    moved_y = matrix[1, 0] * cx + matrix[1, 1] * cy + matrix[1, 2]
    scale = max(float(np.hypot(a, b)), 1e-6)
    # cv2's matrices turn by -angle in y-down pixels for a positive getRotationMatrix2D angle.
    return float(moved_x - cx), float(moved_y - cy), float(np.log(scale)), float(-np.arctan2(b, a))


def analyse_video(
    path: str | os.PathLike[str], *, seconds: float, max_frames: int, mode: str = "std"
) -> MotionTrack:
    """Measure the global and subject motion of the reference video at ``path``.

    Args:
        seconds: how much of the video to look at (the output's duration).
        max_frames: at most this many frames are kept (the output's frame count).
        mode: ``std`` or ``pro`` (analysis size, :data:`ANALYSIS_SIDE`).
    """
    side = ANALYSIS_SIDE.get(mode, ANALYSIS_SIDE["std"])
    frames, times, decoded = decode_small(path, seconds=seconds, max_frames=max_frames, side=side)
    height, width = frames[0].shape
    centre = (width / 2, height / 2)
    count = len(frames)
    global_motion = np.zeros((count, 4))
    subject = np.zeros((count, 2))
    region_sum = np.zeros((height, width), np.float32)
    region_pairs = 0
    estimator = _Estimator(width, height)
    cumulative = np.eye(3)
    cumulatives = [cumulative]
    offset = np.zeros(2)
    for k in range(1, count):
        pair = estimator.pair(frames[k - 1], frames[k])
        cumulative = pair.matrix @ cumulative
        cumulatives.append(cumulative)
        shift_x, shift_y, log_scale, angle = _decompose(cumulative, centre)
        global_motion[k] = (shift_x / width, shift_y / height, log_scale, angle)
        if pair.mask is not None:
            # The mask lies on frame k-1, where the subject had moved `offset` from frame 0:
            # shift it back so every pair votes for the same region of the first frame.
            back = np.array([[1, 0, -offset[0]], [0, 1, -offset[1]]], dtype=np.float32)
            region_sum += cv2.warpAffine(pair.mask.astype(np.float32), back, (width, height))
            region_pairs += 1
            offset = offset + pair.subject_shift
        subject[k] = (offset[0] / width, offset[1] / height)
    region: npt.NDArray[np.float32] | None = None
    model = find_subject(frames, cumulatives) if region_pairs else None
    if model is not None:
        # One solid figure against the background: its outline and travel, measured directly.
        region = model.region
        subject = model.offsets / np.array([width, height], dtype=np.float64)
    elif region_pairs:
        votes = region_sum / region_pairs
        solid = (votes >= _REGION_SHARE).astype(np.uint8)
        solid = np.asarray(
            cv2.morphologyEx(solid, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)), np.uint8
        )
        if solid.mean() >= _SUBJECT_MIN_AREA:
            region = solid.astype(np.float32)
    if region is None:
        subject[:] = 0.0  # scattered noise is no subject: the picture moves as one
    return MotionTrack(
        times=np.asarray(times, dtype=np.float64),
        global_motion=global_motion,
        subject=subject,
        region=region,
        analysis_size=(width, height),
        frames_decoded=decoded,
    )
