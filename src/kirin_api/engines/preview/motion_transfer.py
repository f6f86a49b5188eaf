"""kirin_v3_motion_control in the preview engine: the reference video's motion, on the image.

Not a generative model: the reference image is moved the way the reference video moves, so the
user sees their own picture following their own video (docs/preview-motion-control.md).

How a clip is made:

1. The reference video is measured once (:func:`.motion_analysis.analyse_video`): its global
   (camera) motion and, when one part of the picture moves on its own, that subject's motion and
   its region. The analysis is cached per job, so :func:`metadata` and :func:`frames` share it.
2. The image is prepared once: mirrored when ``character_orientation`` says so, covered to
   the output's size, graded by the prompt (a faint colour cast) and, in ``pro``, sharpened.
   That is the first frame, exactly. Later frames follow the global motion, magnified just
   enough that no edge shows (growing from 1x, at most :data:`MAX_ZOOM`; see
   :mod:`.motion_fit`).
3. Each output frame, at 30 fps whatever the reference's rate, is one ``cv2.warpAffine`` of the
   prepared image by the global similarity interpolated at that time. When there is a subject,
   the character is cut out of the image where the reference's subject was (GrabCut refines
   the region to the image's own outline; the hole behind it is painted once from the
   background) and moved by the subject's own shift on top of the background
   (:mod:`.motion_layers`).
4. A subject from ``element_list`` (its frontal image) is cut out of its picture and pasted,
   with a contact shadow, where the subject is, moving with it.

Shifts are replayed in fractions of the frame (a subject crossing the reference's frame crosses
the output's), scale and rotation as they are.
"""

from __future__ import annotations

import functools
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
from kirin_api.engines.preview.motion_fit import (
    MAX_REACH,
    cover,
    extend,
    fit_motion,
    grade,
    matrices,
)
from kirin_api.engines.preview.motion_layers import (
    ELEMENT_HEIGHT,
    Element,
    SubjectLayer,
    fill_behind,
    make_element,
    subject_layer,
)
from kirin_api.media.audio import read_audio
from kirin_api.media.images import load_rgb

__all__ = [
    "ELEMENT_HEIGHT",
    "MAX_REACH",
    "audio",
    "frames",
    "image_facing",
    "metadata",
    "subject_masks",
]

MODEL = "kirin_v3_motion_control"
MIN_SUBJECT_TRAVEL_PX = 2.0
# Where the image's detail sits, as a fraction of its width from the centre, before we call it
# facing a side (see image_facing).
FACING_THRESHOLD = 0.03
# The video's content must travel this fraction of the width over the clip to have a direction.
DIRECTION_THRESHOLD = 0.05

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


class _Plan:
    """Everything a frame needs, prepared once; :meth:`frame` is one warp (plus a cut-out)."""

    def __init__(
        self,
        size: tuple[int, int],
        image: Frame,
        background: Frame,
        matrices: list[FloatArray],
        subject: FloatArray,
        layer: SubjectLayer | None,
        element: Element | None,
    ) -> None:
        self.width, self.height = size
        # ``image`` and ``background`` are canvases: the picture with its margin around it.
        self.image, self.background = image, background
        self.matrices, self.subject = matrices, subject
        self.layer, self.element = layer, element

    @classmethod
    def build(cls, job: RenderJob) -> _Plan:
        spec = job.spec
        width, height = spec.width, spec.height
        choice = _choices(job)
        track = choice.track
        picture = _load_image(job.inputs["image_url"])
        if choice.mirrored:
            picture = np.ascontiguousarray(picture[:, ::-1])
        # The first frame: the image covered to the output's size (and graded), exactly.
        image = grade(
            cover(picture, width, height), str(job.params.get("prompt") or ""), choice.mode
        )

        # The track at the output's times, shifts in output pixels (fractions of each side),
        # relative to the first frame.
        seconds = np.arange(spec.frames, dtype=np.float64) / spec.fps
        glob, subj = track.at(seconds)
        glob = glob - glob[:1]
        sides = np.array([width, height], dtype=np.float64)
        glob[:, :2] *= sides
        subj = (subj - subj[:1]) * sides
        reach, gain = fit_motion(glob, width, height)
        layer = None
        background = image
        # A subject that travels less than a couple of pixels needs no cut-out (and cutting one
        # out of a busy picture would only add a seam).
        travels = float(np.hypot(subj[:, 0], subj[:, 1]).max()) >= MIN_SUBJECT_TRAVEL_PX
        if track.region is not None and travels:
            layer = subject_layer(track.region, image)
            if layer is not None:
                background = fill_behind(image, layer.mask)
        if layer is None:
            subj[:] = 0.0
        element = None
        element_path = _element_path(job)
        if element_path:
            element = make_element(_load_image(element_path), width, height, layer)
        # Everything on the canvas: the picture with the margin the motion reaches into.
        canvas, margin = extend(image, reach)
        if background is not image:  # the filled picture in the same margin
            filled = canvas.copy()
            filled[margin[1] : margin[1] + height, margin[0] : margin[0] + width] = background
            background = filled
        else:
            background = canvas
        if layer is not None:
            layer = layer.moved(margin)
        if element is not None:
            element.anchor = (element.anchor[0] + margin[0], element.anchor[1] + margin[1])
        warps = matrices(glob, gain, width, height, margin)
        return cls((width, height), canvas, background, warps, subj, layer, element)

    def _subject_matrix(self, index: int) -> FloatArray:
        matrix = self.matrices[index].copy()
        matrix[:, 2] += self.subject[index]
        return matrix

    def subject_mask(self, index: int) -> Mask | None:
        """The character's soft mask (0..1) where it is in frame ``index``, if there is one."""
        if self.layer is None:
            return None
        size = (self.width, self.height)
        moved = cv2.warpAffine(self.layer.mask, self._subject_matrix(index), size)
        return np.asarray(moved, np.float32)

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

    def _paste_subject(self, out: Frame, matrix: FloatArray, layer: SubjectLayer) -> None:
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
        picture = cv2.warpAffine(self.image, local, size, flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(layer.mask, local, size, flags=cv2.INTER_LINEAR)
        region = out[top:bottom, left:right]
        region[...] = cv2.blendLinear(picture, region, alpha, 1.0 - alpha)

    def _paste_element(self, out: Frame, matrix: FloatArray, element: Element) -> None:
        """Paste the element's cut-out (and its shadow), upright, centred where its anchor
        went; kept inside the frame."""
        h, w = element.picture.shape[:2]
        ax, ay = element.anchor
        cx = matrix[0, 0] * ax + matrix[0, 1] * ay + matrix[0, 2]
        cy = matrix[1, 0] * ax + matrix[1, 1] * ay + matrix[1, 2]
        left = int(np.clip(round(cx - w / 2), 0, max(self.width - w, 0)))
        top = int(np.clip(round(cy - h / 2), 0, max(self.height - h, 0)))
        region = out[top : top + h, left : left + w]
        rh, rw = region.shape[:2]
        dark = np.zeros((rh, rw, 3), np.uint8)
        shadow = element.shadow[:rh, :rw]
        region[...] = cv2.blendLinear(dark, region, shadow, 1.0 - shadow)
        weight = element.weight[:rh, :rw]
        picture = element.picture[:rh, :rw]
        region[...] = cv2.blendLinear(picture, region, weight, 1.0 - weight)


def subject_masks(job: RenderJob, indices: list[int]) -> list[Mask | None]:
    """Where the character is (its soft cut-out mask) in the given frames of ``job``."""
    plan = _Plan.build(job)
    return [plan.subject_mask(i) for i in indices]
