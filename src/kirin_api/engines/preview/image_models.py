"""The preview of the image-driven models: kirin_v1_i2v, kirin_v3_i2v, kirin_v1_6_multi_i2v.

Not a generative model: it films the user's own pictures with a 2D camera (:mod:`.framing`),
morphs into an end image (:mod:`.morph`), moves painted areas (:mod:`.brush`), cuts between shots
(:mod:`.shots`), grades colours from the words (:mod:`.grade`) and stands reference and subject
pictures in the scene as cut-out figures (:mod:`.stage`), so every parameter shows in the
video. What each parameter does is in docs/preview-image-models.md.

Entry points for the engine: :func:`frames`, :func:`audio` and :func:`metadata`. Everything is
deterministic: the same job gives the same frames (randomness only from ``job.seed`` and the
prompts' hashes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from kirin_api.contract.job import RenderJob
from kirin_api.engines.base import AudioTrack, Frame
from kirin_api.engines.preview.brush import (
    MovingObject,
    StillArea,
    brushed_objects,
    fill_holes,
)
from kirin_api.engines.preview.framing import view
from kirin_api.engines.preview.grade import text_key
from kirin_api.engines.preview.morph import Morph
from kirin_api.engines.preview.shots import Shot, plan_shots, shot_spans
from kirin_api.engines.preview.stage import StandIn, stand_ins
from kirin_api.engines.preview.stills import cover, load_image, load_mask
from kirin_api.engines.preview.text_shot import backdrop
from kirin_api.media.audio import tone_bed

MODELS = frozenset({"kirin_v1_i2v", "kirin_v3_i2v", "kirin_v1_6_multi_i2v"})
BRUSH_CAMERA = 0.5  # camera move strength while the motion brush is used: the brush leads
COLLAGE_CAMERA = 0.5  # the scene behind the references moves gently
REFERENCE_TALLNESS = 0.6  # a reference figure's height at most, fraction of the frame's
ELEMENT_TALLNESS = 0.4  # an element subject's
CARD_FADE_S = 0.5  # subject cards fade in/out over this where an end frame is pinned
MASTER_MAX = 1.6  # multi-shot close-ups film a picture up to this much larger than the frame


@dataclass
class _Plan:
    """Everything fixed for the clip; :meth:`frame` renders one frame from it."""

    width: int
    height: int
    frames: int
    fps: int
    sharp: bool
    source: Callable[[float], Frame]
    shots: list[Shot]
    objects: list[MovingObject] = field(default_factory=list)
    still: StillArea | None = None
    figures: list[StandIn] = field(default_factory=list)  # drawn before the grade
    cards: list[StandIn] = field(default_factory=list)  # element subjects, after it
    cards_fade_in: bool = False
    cards_fade_out: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    def clip_time(self, index: int) -> float:
        """Frame ``index`` in normalised clip time (0 first frame, 1 last)."""
        return index / (self.frames - 1) if self.frames > 1 else 0.0

    def shot_of(self, index: int) -> Shot:
        """The shot frame ``index`` belongs to."""
        for shot in self.shots:
            if shot.start <= index < shot.end:
                return shot
        return self.shots[-1]

    def card_opacity(self, index: int) -> float:
        """Opacity of the element subjects on frame ``index``."""
        fade = max(1, round(CARD_FADE_S * self.fps))
        opacity = 1.0
        if self.cards_fade_in:
            opacity = min(opacity, index / fade)
        if self.cards_fade_out:
            opacity = min(opacity, (self.frames - 1 - index) / fade)
        return max(0.0, opacity)

    def frame(self, index: int) -> Frame:
        """Frame ``index``: film the source, move painted objects, grade, pin, add cards."""
        tau = self.clip_time(index)
        shot = self.shot_of(index)
        t = shot.local_time(index)
        picture = self.source(tau)
        frame = view(picture, shot.path.at(t), self.width, self.height, sharp=self.sharp)
        if frame is picture:
            frame = frame.copy()  # the drawing below is in place
        for obj in self.objects:
            obj.draw(frame, tau)
        seconds = index / self.fps
        for figure in self.figures:
            figure.draw(frame, seconds)
        frame = shot.grade.apply(frame, shot.grade_weight(t))
        if self.still is not None:
            self.still.draw(frame)
        if self.cards:
            opacity = self.card_opacity(index)
            for card in self.cards:
                card.draw(frame, seconds, opacity)
        return np.ascontiguousarray(frame, dtype=np.uint8)


def _cfg(params: dict[str, Any]) -> float | None:
    value = params.get("cfg_scale")
    return None if value is None else float(value)


def _still_source(picture: Frame) -> Callable[[float], Frame]:
    return lambda tau: picture


def _master(path: str, width: int, height: int, *, sharp: bool, room: float) -> Frame:
    """The image cover-fit at up to ``room`` times the frame size (never upscaled for that)."""
    image = load_image(path)
    h, w = image.shape[:2]
    k = max(1.0, min(room, w / width, h / height))
    return cover(image, round(width * k), round(height * k), sharp=sharp)


def _i2v_plan(job: RenderJob) -> _Plan:
    """kirin_v1_i2v and kirin_v3_i2v: film the image / travel to the tail / brush / shots."""
    spec, params, inputs = job.spec, job.params, job.inputs
    width, height = spec.width, spec.height
    sharp = params.get("mode") == "pro"
    has_image, has_tail = "image" in inputs, "image_tail" in inputs
    if not has_image and not has_tail:
        raise ValueError(f"{job.model} needs 'image' or 'image_tail' among the inputs")
    spans = shot_spans(params, spec.frames, spec.fps)
    has_static = "static_mask" in inputs
    dynamic = [
        (inputs[f"dynamic_masks.{i}.mask"], group.get("trajectories") or [])
        for i, group in enumerate(params.get("dynamic_masks") or [])
        if f"dynamic_masks.{i}.mask" in inputs
    ]
    brushed = has_image and not has_tail and (has_static or bool(dynamic))
    shots = plan_shots(
        spans,
        seed=job.seed,
        pinned_start=has_image,
        pinned_end=has_tail,
        negative_prompt=params.get("negative_prompt"),
        cfg_scale=_cfg(params),
        strength=BRUSH_CAMERA if brushed else 1.0,
    )
    info: dict[str, Any] = {
        "shots": len(shots),
        "shot_starts": [s.start for s in shots],
        "camera": [s.path.label for s in shots],
        "framing": [s.framing for s in shots],
        "grade": [s.grade.label for s in shots],
    }
    mode = "pro" if sharp else "std"
    if has_image and has_tail:
        first = cover(load_image(inputs["image"]), width, height, sharp=sharp)
        last = cover(load_image(inputs["image_tail"]), width, height, sharp=sharp)
        morph = Morph(first, last, mode)
        info["transition"] = "morph"
        return _Plan(width, height, spec.frames, spec.fps, sharp, morph.at, shots, info=info)
    room = MASTER_MAX if len(shots) > 1 else 1.0
    key = "image" if has_image else "image_tail"
    if not brushed:
        picture = _master(inputs[key], width, height, sharp=sharp, room=room)
        return _Plan(
            width, height, spec.frames, spec.fps, sharp, _still_source(picture), shots, info=info
        )
    # Motion brush (kirin_v1_i2v, one shot): film the image with the moving areas cut out and
    # their holes filled, draw each area at its place on the path, pin the static area.
    image = load_image(inputs["image"])
    image_size = (image.shape[1], image.shape[0])
    picture = cover(image, width, height, sharp=sharp)
    objects, holes = brushed_objects(picture, image_size, dynamic)
    still = (
        StillArea(picture, load_mask(inputs["static_mask"], width, height)) if has_static else None
    )
    info.update(static_mask=has_static, dynamic_masks=len(objects))
    return _Plan(
        width,
        height,
        spec.frames,
        spec.fps,
        sharp,
        _still_source(fill_holes(picture, holes)),
        shots,
        objects=objects,
        still=still,
        info=info,
    )


def _element_cards(job: RenderJob, plan: _Plan) -> None:
    """``element_list`` subjects: cut out of their frontal images, standing in the picture."""
    paths = [
        job.inputs[f"element_list.{i}"]
        for i in range(len(job.params.get("element_list") or []))
        if f"element_list.{i}" in job.inputs
    ]
    if not paths:
        return
    plan.cards = stand_ins(
        [load_image(p) for p in paths],
        plan.width,
        plan.height,
        tallness=ELEMENT_TALLNESS,
        prompt=str(job.params.get("prompt") or ""),
        duration=plan.frames / plan.fps,
        sharp=plan.sharp,
    )
    plan.cards_fade_in = "image" in job.inputs
    plan.cards_fade_out = "image_tail" in job.inputs
    plan.info["elements"] = [list(card.box(0.0)) for card in plan.cards]
    plan.info["elements_cut_out"] = [card.cut for card in plan.cards]


def _multi_plan(job: RenderJob) -> _Plan:
    """kirin_v1_6_multi_i2v: every reference a figure standing in one scene, gently filmed.

    The scene is the text model's scenery for the prompt (without its own subjects), as a
    still; the references are cut out of their pictures and stand side by side on its ground.
    """
    spec, params, inputs = job.spec, job.params, job.inputs
    sharp = params.get("mode") == "pro"
    count = len(params.get("image_list") or [])
    keys = [
        f"image_list.{i}.image" for i in range(max(count, 4)) if f"image_list.{i}.image" in inputs
    ]
    if not keys:
        raise ValueError("kirin_v1_6_multi_i2v needs image_list.N.image among the inputs")
    prompt = str(params.get("prompt") or "")
    scene = backdrop(prompt, params.get("negative_prompt"), spec.width, spec.height, job.seed)
    figures = stand_ins(
        [load_image(inputs[k]) for k in keys],
        spec.width,
        spec.height,
        tallness=REFERENCE_TALLNESS,
        prompt=prompt,
        duration=spec.duration,
        sharp=sharp,
    )
    shots = plan_shots(
        [(0, spec.frames, prompt)],
        seed=job.seed,
        pinned_start=True,  # the first frame is the clean composition; the grade ramps in
        pinned_end=False,
        negative_prompt=params.get("negative_prompt"),
        cfg_scale=_cfg(params),
        strength=COLLAGE_CAMERA,
    )
    info: dict[str, Any] = {
        "shots": 1,
        "camera": [shots[0].path.label],
        "grade": [shots[0].grade.label],
        "references": [list(f.box(0.0)) for f in figures],
        "references_cut_out": [f.cut for f in figures],
    }
    return _Plan(
        spec.width,
        spec.height,
        spec.frames,
        spec.fps,
        sharp,
        _still_source(scene),
        shots,
        figures=figures,
        info=info,
    )


def _build(job: RenderJob) -> _Plan:
    if job.model not in MODELS:
        raise ValueError(f"not an image model: {job.model!r}")
    if job.model == "kirin_v1_6_multi_i2v":
        return _multi_plan(job)
    plan = _i2v_plan(job)
    if job.model == "kirin_v3_i2v":
        _element_cards(job, plan)
    return plan


# The engine asks for metadata and then frames of the same job (on another thread): the last plan
# is kept so the inputs are loaded and the flow measured once. Plans are read-only once built.
_cache_lock = threading.Lock()
_cached: tuple[RenderJob, _Plan] | None = None


def _plan(job: RenderJob) -> _Plan:
    global _cached
    with _cache_lock:
        if _cached is not None and _cached[0] is job:
            return _cached[1]
    plan = _build(job)
    with _cache_lock:
        _cached = (job, plan)
    return plan


def _forget(job: RenderJob) -> None:
    global _cached
    with _cache_lock:
        if _cached is not None and _cached[0] is job:
            _cached = None


def frames(job: RenderJob) -> Iterator[Frame]:
    """Exactly ``job.spec.frames`` RGB frames of the spec's size, rendered one by one."""
    # One OpenCV thread, as the t2v renderer: the encoder consuming these frames needs the other
    # cores, and OpenCV's pool spin-waits between the many small calls made per frame.
    cv2.setNumThreads(1)
    plan = _plan(job)
    _forget(job)  # this generator holds the plan now; do not keep it alive after the clip
    for index in range(job.spec.frames):
        yield plan.frame(index)


def audio(job: RenderJob) -> AudioTrack | None:
    """The sound of the clip: a generated chord per shot (kirin_v3_i2v ``sound: on``), or None.

    Each shot's chord comes from its prompt's hash and the seed, and changes exactly at the cuts.
    """
    spec = job.spec
    if not spec.audio:
        return None
    spans = shot_spans(job.params, spec.frames, spec.fps)
    seeds = [text_key(prompt) ^ (job.seed & (2**64 - 1)) for _, _, prompt in spans]
    cuts = [start / spec.fps for start, _, _ in spans[1:]]
    pcm = tone_bed(spec.duration, seeds, cuts)
    return AudioTrack(pcm.samples, pcm.sample_rate)


def metadata(job: RenderJob) -> dict[str, Any]:
    """What the render does, for the task's metadata (JSON values only).

    It loads the inputs (and, with a tail, measures the flow); the plan is kept for the
    :func:`frames` call on the same job object that usually follows.
    """
    plan = _plan(job)
    return {"renderer": "image", "model": job.model, **plan.info}
