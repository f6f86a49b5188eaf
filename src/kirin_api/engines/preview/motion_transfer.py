"""kirin_v3_motion_control in the preview engine: the reference video's motion, on the image.

Not a generative model: the reference image is moved the way the reference video moves, so the
user sees their own picture following their own video (docs/preview-motion-control.md).

How a clip is made:

1. The reference video is measured once (:func:`.motion_analysis.analyse_video`): its global
   (camera) motion and, when one part of the picture moves on its own, that subject's motion and
   its region. The analysis is cached per job, so :func:`metadata` and :func:`frames` share it.
2. The image is prepared once: mirrored when ``character_orientation`` says so, graded by the
   prompt (a faint colour cast) and, in ``pro``, sharpened; magnified just enough (at most
   :data:`MAX_ZOOM`) that the global motion never shows an edge. A move too large for that
   headroom is scaled down as a whole (``motion_gain`` in the metadata), so its direction and
   rhythm are kept.
3. Each output frame, at 30 fps whatever the reference's rate, is one ``cv2.warpAffine`` of the
   prepared image by the global similarity interpolated at that time. When there is a subject,
   the image's region where the reference's subject was is cut out (the hole behind it filled
   once, by inpainting) and moved by the subject's own shift on top of the background.
4. A subject from ``element_list`` (its frontal image) is pasted where the subject is and moves
   with it.

Shifts are replayed in fractions of the frame (a subject crossing the reference's frame crosses
the output's), scale and rotation as they are.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.contract.job import RenderJob
from kirin_api.engines.base import AudioTrack, Frame
from kirin_api.engines.preview.motion_analysis import MotionTrack, analyse_video
from kirin_api.media.audio import read_audio
from kirin_api.media.images import load_rgb

__all__ = [
    "ELEMENT_HEIGHT",
    "MAX_ZOOM",
    "audio",
    "frames",
    "image_facing",
    "metadata",
]

MODEL = "kirin_v3_motion_control"
MAX_ZOOM = 1.25
"""The most the image is magnified to leave room for the global motion."""
ELEMENT_HEIGHT = 0.45
"""A subject's frontal image is pasted this tall, as a fraction of the output's height."""
# Where the image's detail sits, as a fraction of its width from the centre, before we call it
# facing a side (see image_facing).
FACING_THRESHOLD = 0.03
# The video's content must travel this fraction of the width over the clip to have a direction.
DIRECTION_THRESHOLD = 0.05
GRADE_STRENGTH = 0.04  # the prompt's colour cast: each channel's gain within 1 ± this
SHARPEN = {"std": 0.0, "pro": 0.6}  # unsharp-mask amount applied once to the image
_FEATHER = 0.015  # soft edge of the subject's cut-out, fraction of the short side

FloatArray = npt.NDArray[np.float64]
Mask = npt.NDArray[np.float32]


# ---------------------------------------------------------------------------------------------
# What the engine calls


def frames(job: RenderJob) -> Iterator[Frame]:
    """Exactly ``job.spec.frames`` RGB frames of the spec's size, rendered lazily."""
    # One OpenCV thread, as for the text model: the encoder pulling these frames keeps the other
    # core busy, and OpenCV's pool spin-waits between small calls, stealing from x264.
    cv2.setNumThreads(1)
    plan = _Plan.build(job)
    for index in range(job.spec.frames):
        yield plan.frame(index)


def audio(job: RenderJob) -> AudioTrack | None:
    """The reference video's sound, exactly the output's length, when the spec has sound.

    ``keep_original_sound: no`` or a silent reference gives None (the spec says so already;
    the parameter is checked again so that a hand-made spec cannot add sound the user refused).
    A track shorter than the video is padded with silence, a longer one is cut.
    """
    spec = job.spec
    if not spec.audio or job.params.get("keep_original_sound", "yes") != "yes":
        return None
    pcm = read_audio(job.inputs["video_url"], max_seconds=spec.duration)
    if pcm is None:
        return None
    wanted = round(spec.duration * pcm.sample_rate)
    samples = pcm.samples[:, :wanted]
    if samples.shape[1] < wanted:
        samples = np.pad(samples, ((0, 0), (0, wanted - samples.shape[1])))
    return AudioTrack(np.ascontiguousarray(samples, dtype=np.float32), pcm.sample_rate)


def metadata(job: RenderJob) -> dict[str, Any]:
    """What the render did, for the task's metadata (runs the cached motion analysis)."""
    choice = _choices(job)
    track = choice.track
    return {
        "renderer": "motion_transfer",
        "mode": choice.mode,
        "character_orientation": choice.orientation,
        "mirrored": choice.mirrored,
        "image_facing": choice.image_facing,
        "video_direction": track.horizontal_direction(DIRECTION_THRESHOLD),
        "subject_found": track.region is not None,
        "reference_frames_decoded": track.frames_decoded,
        "reference_frames_used": len(track.times),
        "element": bool(_element_path(job)),
        "seed": job.seed,
    }


# ---------------------------------------------------------------------------------------------
# Decisions taken before rendering


def image_facing(image: Frame) -> int:
    """Which side the image's character faces: +1 right, -1 left, 0 cannot tell.

    The preview's rule: the side of the picture that holds more detail (gradient energy) is the
    front, as a face and hands hold more detail than a back. The horizontal centroid of the
    gradient magnitude must sit more than :data:`FACING_THRESHOLD` of the width off the centre.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    scale = 256 / max(h, w)
    small = cv2.resize(
        gray, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA
    ).astype(np.float32)
    energy = np.hypot(cv2.Sobel(small, cv2.CV_32F, 1, 0), cv2.Sobel(small, cv2.CV_32F, 0, 1))
    column = energy.sum(axis=0)
    total = float(column.sum())
    if total <= 0:
        return 0
    xs = (np.arange(column.size) + 0.5) / column.size - 0.5
    centroid = float((column * xs).sum() / total)
    if abs(centroid) <= FACING_THRESHOLD:
        return 0
    return 1 if centroid > 0 else -1


@dataclass(frozen=True)
class _Choices:
    """The analysis and the decisions that follow from it (cached per job's inputs)."""

    track: MotionTrack
    mode: str
    orientation: str
    image_facing: int
    mirrored: bool


def _element_path(job: RenderJob) -> str | None:
    # A subject only counts with orientation video (the contract refuses it otherwise).
    if job.params.get("character_orientation") != "video":
        return None
    return job.inputs.get("element_list.0")


def _file_key(path: str) -> tuple[str, int, int]:
    stat = os.stat(path)
    return os.fspath(path), stat.st_mtime_ns, stat.st_size


def _choices(job: RenderJob) -> _Choices:
    mode = "pro" if job.params.get("mode") == "pro" else "std"
    orientation = "video" if job.params.get("character_orientation") == "video" else "image"
    return _cached_choices(
        _file_key(job.inputs["video_url"]),
        _file_key(job.inputs["image_url"]),
        job.spec.duration,
        job.spec.frames,
        mode,
        orientation,
    )


@functools.lru_cache(maxsize=8)
def _cached_choices(
    video: tuple[str, int, int],
    image: tuple[str, int, int],
    seconds: float,
    max_frames: int,
    mode: str,
    orientation: str,
) -> _Choices:
    # Keyed by path, mtime and size: the same files give the same (deterministic) analysis; a
    # file rewritten in place is analysed again. The values are small (a track and a mask at
    # analysis size), so a few are kept.
    track = analyse_video(video[0], seconds=seconds, max_frames=max_frames, mode=mode)
    facing = image_facing(_load_image(image[0]))
    direction = track.horizontal_direction(DIRECTION_THRESHOLD)
    # orientation video: the character faces the way the reference's moving content goes; the
    # image is mirrored when it clearly faces the other way. orientation image: never mirrored.
    mirrored = orientation == "video" and facing != 0 and direction != 0 and facing != direction
    return _Choices(track, mode, orientation, facing, mirrored)


def _load_image(path: str) -> Frame:
    return load_rgb(Path(path).read_bytes())


# ---------------------------------------------------------------------------------------------
# Pictures


def _cover(image: Frame, width: int, height: int) -> Frame:
    """Scale ``image`` to cover ``width`` x ``height`` and crop the middle (no bars)."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    resized = cv2.resize(
        image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    )
    top, left = (size[1] - height) // 2, (size[0] - width) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width], dtype=np.uint8)


def _grade(image: Frame, prompt: str, mode: str) -> Frame:
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


def _similarity(
    scale: float,
    angle: float,
    shift: tuple[float, float],
    src: tuple[float, float],
    dst: tuple[float, float],
) -> FloatArray:
    """2x3 matrix: turn by ``angle`` and scale about ``src``, which lands on ``dst + shift``."""
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    linear = np.array([[c, s], [-s, c]])  # cv2.getRotationMatrix2D's convention
    move = np.array(dst) + np.array(shift) - linear @ np.array(src)
    return np.hstack([linear, move[:, None]])


def _coverage_zoom(
    glob: FloatArray, width: int, height: int, gain: float
) -> tuple[float, FloatArray]:
    """The magnification needed to cover the frame through the whole ``glob`` track.

    ``glob`` is the global motion per output frame (shift in output pixels, log scale, angle);
    ``gain`` scales all of it. The shifts are re-centred (their range's middle subtracted) so
    that the headroom is spent on both sides. Returns the zoom and the per-frame shift used.
    """
    shift = glob[:, :2] * gain
    shift = shift - (shift.min(axis=0) + shift.max(axis=0)) / 2
    scale = np.exp(glob[:, 2] * gain)
    angle = glob[:, 3] * gain
    half = np.array([width / 2, height / 2])
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
    # Where each output corner comes from, relative to the image's centre: R^-1 (p - t) / s.
    rel = corners[None, :, :] - shift[:, None, :]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x = (cos * rel[..., 0] - sin * rel[..., 1]) / scale[:, None]
    y = (sin * rel[..., 0] + cos * rel[..., 1]) / scale[:, None]
    need = max(float(np.abs(x).max() / half[0]), float(np.abs(y).max() / half[1]), 1.0)
    return need, shift


def _fit_motion(glob: FloatArray, width: int, height: int) -> tuple[float, float, FloatArray]:
    """Zoom, gain and shifts so the image covers the frame: full motion if it fits, else less."""
    zoom, shift = _coverage_zoom(glob, width, height, 1.0)
    if zoom <= MAX_ZOOM:
        return zoom, 1.0, shift
    low, high = 0.0, 1.0
    for _ in range(20):  # the needed zoom grows with the gain: bisect for the cap
        mid = (low + high) / 2
        if _coverage_zoom(glob, width, height, mid)[0] <= MAX_ZOOM:
            low = mid
        else:
            high = mid
    zoom, shift = _coverage_zoom(glob, width, height, low)
    return zoom, low, shift


@dataclass
class _Layer:
    """The subject's cut-out: the image, its soft mask and where the mask is (canvas pixels)."""

    mask: Mask
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the mask's support on the canvas


@dataclass
class _Element:
    picture: Frame
    weight: Mask  # (h, w) alpha of the element, soft at its edge
    anchor: tuple[float, float]  # canvas point the element's centre follows


class _Plan:
    """Everything a frame needs, prepared once; :meth:`frame` is one warp (plus a cut-out)."""

    def __init__(
        self,
        width: int,
        height: int,
        canvas: Frame,
        background: Frame,
        matrices: list[FloatArray],
        subject: FloatArray,
        layer: _Layer | None,
        element: _Element | None,
    ) -> None:
        self.width, self.height = width, height
        self.canvas, self.background = canvas, background
        self.matrices, self.subject = matrices, subject
        self.layer, self.element = layer, element

    @classmethod
    def build(cls, job: RenderJob) -> _Plan:
        spec = job.spec
        width, height = spec.width, spec.height
        choice = _choices(job)
        track = choice.track
        image = _load_image(job.inputs["image_url"])
        if choice.mirrored:
            image = np.ascontiguousarray(image[:, ::-1])
        image = _grade(image, str(job.params.get("prompt") or ""), choice.mode)

        # The track at the output's times, shifts in output pixels (fractions of each side).
        seconds = np.arange(spec.frames, dtype=np.float64) / spec.fps
        glob, subj = track.at(seconds)
        sides = np.array([width, height], dtype=np.float64)
        glob[:, :2] *= sides
        subj = subj * sides
        zoom, gain, shift = _fit_motion(glob, width, height)

        canvas_w = 2 * int(np.ceil(width * zoom / 2))
        canvas_h = 2 * int(np.ceil(height * zoom / 2))
        canvas = _cover(image, canvas_w, canvas_h)
        centre_c = (canvas_w / 2, canvas_h / 2)
        centre_o = (width / 2, height / 2)
        matrices = [
            _similarity(
                float(np.exp(glob[i, 2] * gain)),
                float(glob[i, 3] * gain),
                (float(shift[i, 0]), float(shift[i, 1])),
                centre_c,
                centre_o,
            )
            for i in range(spec.frames)
        ]
        layer = None
        background = canvas
        if track.region is not None:
            layer = _subject_layer(track.region, matrices[0], width, height, canvas.shape)
            if layer is not None:
                background = _fill(canvas, layer.mask)
        else:
            subj[:] = 0.0
        element = None
        element_path = _element_path(job)
        if element_path:
            element = _make_element(_load_image(element_path), matrices[0], width, height, layer)
        return cls(width, height, canvas, background, matrices, subj, layer, element)

    def _subject_matrix(self, index: int) -> FloatArray:
        matrix = self.matrices[index].copy()
        matrix[:, 2] += self.subject[index]
        return matrix

    def frame(self, index: int) -> Frame:
        """Output frame ``index``."""
        size = (self.width, self.height)
        matrix = self.matrices[index]
        out = np.asarray(
            cv2.warpAffine(
                self.background,
                matrix,
                size,
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT,
            ),
            dtype=np.uint8,
        )
        follow = matrix
        if self.layer is not None:
            follow = self._subject_matrix(index)
            self._paste_subject(out, follow, self.layer)
        if self.element is not None:
            self._paste_element(out, follow, self.element)
        return out

    def _paste_subject(self, out: Frame, matrix: FloatArray, layer: _Layer) -> None:
        """Warp only the subject's box: the rest of the frame is the background's."""
        x0, y0, x1, y1 = layer.box
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], np.float64)
        moved = corners @ matrix.T
        left = max(int(np.floor(moved[:, 0].min())), 0)
        top = max(int(np.floor(moved[:, 1].min())), 0)
        right = min(int(np.ceil(moved[:, 0].max())) + 1, self.width)
        bottom = min(int(np.ceil(moved[:, 1].max())) + 1, self.height)
        if right <= left or bottom <= top:
            return  # the subject has left the frame
        local = matrix.copy()
        local[:, 2] -= (left, top)
        size = (right - left, bottom - top)
        picture = cv2.warpAffine(self.canvas, local, size, flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(layer.mask, local, size, flags=cv2.INTER_LINEAR)
        region = out[top:bottom, left:right]
        region[...] = cv2.blendLinear(picture, region, alpha, 1.0 - alpha)

    def _paste_element(self, out: Frame, matrix: FloatArray, element: _Element) -> None:
        """Paste the element, upright and unscaled, centred where its anchor went; kept inside."""
        h, w = element.picture.shape[:2]
        ax, ay = element.anchor
        cx = matrix[0, 0] * ax + matrix[0, 1] * ay + matrix[0, 2]
        cy = matrix[1, 0] * ax + matrix[1, 1] * ay + matrix[1, 2]
        left = int(np.clip(round(cx - w / 2), 0, max(self.width - w, 0)))
        top = int(np.clip(round(cy - h / 2), 0, max(self.height - h, 0)))
        region = out[top : top + h, left : left + w]
        weight = element.weight[: region.shape[0], : region.shape[1]]
        picture = element.picture[: region.shape[0], : region.shape[1]]
        region[...] = cv2.blendLinear(picture, region, weight, 1.0 - weight)


def _subject_layer(
    region: Mask, first: FloatArray, width: int, height: int, canvas_shape: tuple[int, ...]
) -> _Layer | None:
    """The reference's subject region, as a soft mask on the canvas (under output frame 0)."""
    on_output = cv2.resize(region, (width, height), interpolation=cv2.INTER_LINEAR)
    canvas_h, canvas_w = canvas_shape[:2]
    mask = cv2.warpAffine(
        on_output, first, (canvas_w, canvas_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    )
    # Grown by the feather before it is blurred: fully opaque over the whole region (frame 0
    # shows the image itself there), soft only outside it.
    sigma = max(1.0, _FEATHER * min(width, height))
    grow = 2 * round(2 * sigma) + 1
    solid = cv2.dilate((mask > 0.5).astype(np.uint8), np.ones((grow, grow), np.uint8))
    blurred = cv2.GaussianBlur(solid.astype(np.float32), (0, 0), sigma)
    soft: Mask = np.asarray(np.clip(blurred, 0.0, 1.0), dtype=np.float32)
    support = (soft > 0.01).astype(np.uint8)
    x, y, w, h = cv2.boundingRect(support)
    if w == 0 or h == 0:
        return None
    return _Layer(mask=soft, box=(x, y, x + w, y + h))


def _fill(canvas: Frame, mask: Mask) -> Frame:
    """The canvas with the subject's region painted over from its surroundings (once).

    Only the mask's opaque core is replaced, with a soft inner edge: at frame 0 the cut-out
    covers all of it, so the first frame is the image itself, and once the subject moves away
    no copy of it stays behind. Inpainting runs at a quarter of the size (a large hole is filled
    with smooth colour either way).
    """
    h, w = canvas.shape[:2]
    core = (mask > 0.98).astype(np.float32)
    small_size = (max(8, w // 4), max(8, h // 4))
    small = cv2.resize(canvas, small_size, interpolation=cv2.INTER_AREA)
    hole = (cv2.resize(core, small_size, interpolation=cv2.INTER_AREA) > 0.02).astype(np.uint8)
    hole = np.asarray(cv2.dilate(hole, np.ones((3, 3), np.uint8)), np.uint8)
    painted = cv2.inpaint(small, hole, 5, cv2.INPAINT_TELEA)
    filler = cv2.resize(painted, (w, h), interpolation=cv2.INTER_LINEAR)
    weight = (cv2.GaussianBlur(core, (0, 0), 1.5) * core).astype(np.float32)
    return np.asarray(cv2.blendLinear(filler, canvas, weight, 1.0 - weight), dtype=np.uint8)


def _make_element(
    picture: Frame, first: FloatArray, width: int, height: int, layer: _Layer | None
) -> _Element:
    """The subject's frontal image at :data:`ELEMENT_HEIGHT`, anchored on the subject or centre."""
    h, w = picture.shape[:2]
    target_h = max(2, round(height * ELEMENT_HEIGHT))
    target_w = max(2, min(round(w * target_h / h), round(width * 0.8)))
    sized = cv2.resize(
        picture,
        (target_w, target_h),
        interpolation=cv2.INTER_AREA if target_h < h else cv2.INTER_CUBIC,
    )
    # Feathered edge (a few pixels) so it sits in the picture; the inside stays exact.
    ramp = max(2, round(0.04 * min(target_w, target_h)))
    wx = np.clip(np.minimum(np.arange(target_w), np.arange(target_w)[::-1]) / ramp, 0, 1)
    wy = np.clip(np.minimum(np.arange(target_h), np.arange(target_h)[::-1]) / ramp, 0, 1)
    weight = (wy[:, None] * wx[None, :]).astype(np.float32)
    if layer is not None:
        x0, y0, x1, y1 = layer.box
        anchor = ((x0 + x1) / 2, (y0 + y1) / 2)
    else:
        # The canvas point under the output's centre at frame 0.
        inverse = cv2.invertAffineTransform(first)
        anchor = (
            float(inverse[0, 0] * width / 2 + inverse[0, 1] * height / 2 + inverse[0, 2]),
            float(inverse[1, 0] * width / 2 + inverse[1, 1] * height / 2 + inverse[1, 2]),
        )
    return _Element(np.asarray(sized, dtype=np.uint8), weight, anchor)
