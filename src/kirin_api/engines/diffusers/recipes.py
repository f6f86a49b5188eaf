"""One recipe per model: how a Kirin request becomes Wan pipeline calls and then the video.

Which pipeline does what (docs/gpu-engine.md has the table):

* ``kirin_v1_t2v``: WanPipeline (or a VACE pipeline with nothing to keep); ``camera_control``
  is filmed by the virtual camera over a plate generated with margin (:mod:`.plate`);
* ``kirin_v1_i2v``: WanImageToVideoPipeline, ``image_tail`` as its ``last_image``; the motion
  brush on WanVACEPipeline (:func:`.conditioning.brush`); a VACE main model does all three;
* ``kirin_v1_6_multi_i2v``: WanVACEPipeline with the pictures as ``reference_images``;
* ``kirin_v3_i2v``: one call per shot, each starting on the previous shot's last frame, cut
  together at the shot boundaries; subjects (``element_list``) as VACE reference images;
  ``mode: pro`` at ``pro_size`` where configured, else generated at ``size`` and upscaled;
* ``kirin_v3_motion_control``: WanVACEPipeline following the reference video's edges with the
  character as reference image; the reference's sound kept as the preview engine keeps it.

What no configured model can do fails the task with the model's ``...094`` code and says what is
missing: sound (no Wan model makes any), VACE-only controls without VACE weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from kirin_api.contract.errors import TaskErrorKind, TaskFailure
from kirin_api.contract.job import RenderJob
from kirin_api.engines.base import AudioTrack, Frame
from kirin_api.engines.diffusers import conditioning
from kirin_api.engines.diffusers.options import DiffusersOptions, generation_size, snap_up
from kirin_api.engines.diffusers.pipelines import Call, CallResult
from kirin_api.engines.diffusers.plate import film, plan_plate
from kirin_api.engines.diffusers.weights import WeightsInfo
from kirin_api.engines.preview import motion_transfer
from kirin_api.engines.preview.camera import path_for
from kirin_api.engines.preview.shots import shot_spans
from kirin_api.engines.preview.stills import cover, load_image
from kirin_api.media.frames import resample_clip

T2V = "WanPipeline"
I2V = "WanImageToVideoPipeline"
VACE = "WanVACEPipeline"
ANIMATE = "WanAnimatePipeline"

# The pipelines each model's main weights may be.
MAIN_PIPELINES: dict[str, tuple[str, ...]] = {
    "kirin_v1_t2v": (T2V, VACE),
    "kirin_v1_i2v": (I2V, VACE),
    "kirin_v1_6_multi_i2v": (VACE,),
    "kirin_v3_i2v": (I2V, VACE),
    "kirin_v3_motion_control": (VACE,),
}
WHY_NOT = {
    ANIMATE: "WanAnimatePipeline needs pose and face videos made by pose and face detectors "
    "(Wan-Animate's preprocessing), which this build does not ship; configure a "
    "WanVACEPipeline directory instead (motion follows the reference video's edges)",
}


@dataclass(frozen=True)
class ModelSetup:
    """A model's options and its checked weights."""

    model: str
    options: DiffusersOptions
    main: WeightsInfo
    vace: WeightsInfo | None = None

    def vace_for(self, what: str) -> str:
        """Which weights run VACE work ("main" or "vace"); 094 where none can."""
        if self.main.pipeline == VACE:
            return "main"
        if self.vace is not None:
            return "vace"
        raise TaskFailure(
            TaskErrorKind.RESOURCE_INSUFFICIENT,
            f"{what} needs a WanVACEPipeline on this server: {self.model} runs on "
            f"{self.main.pipeline} ({self.main.path}) and no vace_weights are configured",
        )


Runner = Callable[[str, Call, tuple[float, float]], CallResult]
"""Runs a call on the "main" or "vace" weights over a share of the progress."""


@dataclass
class Rendered:
    frames: Iterator[Frame]
    audio: AudioTrack | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def render(job: RenderJob, setup: ModelSetup, run: Runner) -> Rendered:
    recipes = {
        "kirin_v1_t2v": _t2v,
        "kirin_v1_i2v": _i2v,
        "kirin_v1_6_multi_i2v": _multi_i2v,
        "kirin_v3_i2v": _v3_i2v,
        "kirin_v3_motion_control": _motion_control,
    }
    return recipes[job.model](job, setup, run)


# --- shared pieces --------------------------------------------------------------------------


def _call(
    job: RenderJob,
    options: DiffusersOptions,
    prompt: str,
    size: tuple[int, int],
    frames: int,
    *,
    seed_salt: int = 0,
    **inputs: Any,
) -> Call:
    params = job.params
    negative = str(params.get("negative_prompt") or options.negative_prompt)
    return Call(
        prompt=prompt,
        negative_prompt=negative,
        guidance=options.guidance(params.get("cfg_scale")),
        steps=options.steps_for(params.get("mode")),
        seed=(job.seed + options.seed_offset + seed_salt) % 2**63,
        width=size[0],
        height=size[1],
        frames=frames,
        inputs=inputs,
    )


def _vace_call(
    job: RenderJob,
    options: DiffusersOptions,
    prompt: str,
    size: tuple[int, int],
    frames: int,
    **inputs: Any,
) -> Call:
    """A VACE call: the control's strength from the options."""
    return _call(
        job, options, prompt, size, frames, conditioning_scale=options.conditioning_scale, **inputs
    )


def _size(job: RenderJob, options: DiffusersOptions) -> tuple[int, int]:
    base = options.base_size(job.params.get("mode"))
    return generation_size(base, job.spec.width / job.spec.height)


def _fit(job: RenderJob, clip: list[Frame]) -> Iterator[Frame]:
    """The clip at the contract's size, 30 fps and exact frame count."""
    spec = job.spec
    sharp = job.params.get("mode") == "pro"
    return resample_clip(clip, spec.frames, spec.width, spec.height, sharp=sharp)


def _metadata(job: RenderJob, setup: ModelSetup, size: tuple[int, int]) -> dict[str, Any]:
    options = setup.options
    upscaled = job.params.get("mode") == "pro" and options.pro_size is None
    return {
        "model": str(setup.main.path.name),
        "pipeline": setup.main.pipeline,
        "generated_size": f"{size[0]}x{size[1]}",
        "upscaled": upscaled,
        "steps": options.steps_for(job.params.get("mode")),
        "guidance": round(options.guidance(job.params.get("cfg_scale")), 3),
        "seed": job.seed,
    }


def _picture(path: str, size: tuple[int, int]) -> Image.Image:
    return Image.fromarray(cover(load_image(path), size[0], size[1], sharp=True))


# --- kirin_v1_t2v ---------------------------------------------------------------------------


def _t2v(job: RenderJob, setup: ModelSetup, run: Runner) -> Rendered:
    options, spec = setup.options, job.spec
    size = _size(job, options)
    frames = options.frames_for(spec.duration)
    prompt = str(job.params.get("prompt") or "")
    metadata = _metadata(job, setup, size)
    camera = job.params.get("camera_control")
    path = path_for(camera, 0) if camera else None
    if path is None or not path.segments:
        result = run("main", _call(job, options, prompt, size, frames), (0.0, 1.0))
        metadata["generate_seconds"] = round(result.seconds, 3)
        return Rendered(_fit(job, result.frames), metadata=metadata)
    shot = plan_plate(path, spec.width, spec.height, options.max_plate)
    # Rounded up to the VAE's multiples: never less margin than the move needs.
    plate = (snap_up(size[0] * shot.plate_scale), snap_up(size[1] * shot.plate_scale))
    result = run("main", _call(job, options, prompt, plate, frames), (0.0, 1.0))
    metadata.update(
        generated_size=f"{plate[0]}x{plate[1]}",
        generate_seconds=round(result.seconds, 3),
        camera={
            "move": path.label,
            "plate_scale": round(shot.plate_scale, 3),
            "view_zoom": round(shot.view_zoom, 3),
        },
    )
    return Rendered(film(result.frames, shot, spec.width, spec.height, spec.frames), None, metadata)


# --- kirin_v1_i2v ---------------------------------------------------------------------------


def _dynamic(job: RenderJob) -> list[tuple[str, list[dict[str, float]]]]:
    return [
        (job.inputs[f"dynamic_masks.{i}.mask"], list(group.get("trajectories") or []))
        for i, group in enumerate(job.params.get("dynamic_masks") or [])
        if f"dynamic_masks.{i}.mask" in job.inputs
    ]


def _i2v(job: RenderJob, setup: ModelSetup, run: Runner) -> Rendered:
    options, spec, inputs = setup.options, job.spec, job.inputs
    size = _size(job, options)
    frames = options.frames_for(spec.duration)
    prompt = str(job.params.get("prompt") or "")
    metadata = _metadata(job, setup, size)
    static, dynamic = inputs.get("static_mask"), _dynamic(job)
    if static or dynamic:
        role = setup.vace_for("the motion brush (static_mask, dynamic_masks)")
        control = conditioning.brush(inputs["image"], static, dynamic, frames, *size)
        call = _vace_call(
            job,
            options,
            prompt,
            size,
            frames,
            **control.inputs.kwargs(),
        )
        result = run(role, call, (0.0, 1.0))
        clip = result.frames
        if static:
            clip = conditioning.pin_still_area(clip, inputs["image"], static)
        metadata.update(
            pipeline=VACE if role == "vace" else setup.main.pipeline,
            static_mask=bool(static),
            dynamic_masks=control.objects,
            generate_seconds=round(result.seconds, 3),
        )
        return Rendered(_fit(job, clip), metadata=metadata)
    result = _keyframed(
        job, setup, run, prompt, size, frames, inputs.get("image"), inputs.get("image_tail")
    )
    metadata.update(last_frame="image_tail" in inputs, generate_seconds=round(result.seconds, 3))
    return Rendered(_fit(job, result.frames), metadata=metadata)


def _keyframed(
    job: RenderJob,
    setup: ModelSetup,
    run: Runner,
    prompt: str,
    size: tuple[int, int],
    frames: int,
    first: str | Frame | None,
    last: str | Frame | None,
    *,
    references: list[Image.Image] | None = None,
    progress: tuple[float, float] = (0.0, 1.0),
    seed_salt: int = 0,
) -> CallResult:
    """A clip from a first and/or last frame (paths or frames): image-to-video where the main
    weights are that and nothing needs VACE, else VACE with the frames kept."""
    options = setup.options
    first_frame = load_image(first) if isinstance(first, str) else first
    last_frame = load_image(last) if isinstance(last, str) else last
    if (
        setup.main.pipeline == I2V
        and first_frame is not None
        and not references
        and _i2v_takes(setup.main, last=last_frame is not None)
    ):
        image = Image.fromarray(cover(first_frame, *size, sharp=True))
        extra: dict[str, Any] = {"image": image}
        if last_frame is not None:
            extra["last_image"] = Image.fromarray(cover(last_frame, *size, sharp=True))
        call = _call(job, options, prompt, size, frames, seed_salt=seed_salt, **extra)
        return run("main", call, progress)
    if references:
        what = "subjects (element_list)"
    elif first_frame is None:
        what = "a shot without a first frame"
    else:
        what = f"this {'first+last' if last_frame is not None else 'first'}-frame shot"
    role = setup.vace_for(what)
    vace = conditioning.keyframes(first_frame, last_frame, frames, *size)
    vace.reference_images = references
    call = _vace_call(
        job,
        options,
        prompt,
        size,
        frames,
        seed_salt=seed_salt,
        **vace.kwargs(),
    )
    return run(role, call, progress)


def _i2v_takes(info: WeightsInfo, *, last: bool) -> bool:
    """Whether image-to-video weights take a first frame with (or without) a last frame.

    Wan 2.1 I2V encodes one image with CLIP, FLF2V exactly two (its transformer's
    ``pos_embed_seq_len`` is set), Wan 2.2 uses no image encoder and takes either.
    """
    config = info.transformer_config
    if config.get("image_dim") is None:
        return True
    return last == bool(config.get("pos_embed_seq_len"))


# --- kirin_v1_6_multi_i2v -------------------------------------------------------------------


def _multi_i2v(job: RenderJob, setup: ModelSetup, run: Runner) -> Rendered:
    options, spec = setup.options, job.spec
    size = _size(job, options)
    frames = options.frames_for(spec.duration)
    keys = sorted(
        (k for k in job.inputs if k.startswith("image_list.")), key=lambda k: int(k.split(".")[1])
    )
    references = [_picture(job.inputs[k], size) for k in keys]
    role = setup.vace_for("reference images (image_list)")
    call = _vace_call(
        job,
        options,
        str(job.params.get("prompt") or ""),
        size,
        frames,
        reference_images=references,
    )
    result = run(role, call, (0.0, 1.0))
    metadata = _metadata(job, setup, size)
    metadata.update(references=len(references), generate_seconds=round(result.seconds, 3))
    return Rendered(_fit(job, result.frames), metadata=metadata)


# --- kirin_v3_i2v ---------------------------------------------------------------------------


def _v3_i2v(job: RenderJob, setup: ModelSetup, run: Runner) -> Rendered:
    options, spec, inputs = setup.options, job.spec, job.inputs
    if spec.audio:
        raise TaskFailure(
            TaskErrorKind.RESOURCE_INSUFFICIENT,
            "sound: on needs a model that makes sound, and none is configured on this server "
            "(the Wan video models are silent); ask with sound: off",
        )
    size = _size(job, options)
    element_keys = [f"element_list.{i}" for i in range(len(job.params.get("element_list") or []))]
    references = [_picture(inputs[k], size) for k in element_keys if k in inputs] or None
    spans = shot_spans(job.params, spec.frames, spec.fps)
    previous: Frame | str | None = inputs.get("image")
    shots_out: list[Iterator[Frame]] = []
    seconds = 0.0
    for index, (start, end, prompt) in enumerate(spans):
        is_last = index == len(spans) - 1
        frames = options.frames_for((end - start) / spec.fps)
        result = _keyframed(
            job,
            setup,
            run,
            prompt,
            size,
            frames,
            previous,
            inputs.get("image_tail") if is_last else None,
            references=references,
            progress=(index / len(spans), (index + 1) / len(spans)),
            seed_salt=index,
        )
        seconds += result.seconds
        # The next shot starts where this one ends: the cut changes the prompt, not the world.
        previous = result.frames[-1]
        sharp = job.params.get("mode") == "pro"
        shots_out.append(
            resample_clip(result.frames, end - start, spec.width, spec.height, sharp=sharp)
        )
    metadata = _metadata(job, setup, size)
    metadata.update(
        shots=len(spans),
        shot_starts=[start for start, _, _ in spans],
        elements=len(references or []),
        generate_seconds=round(seconds, 3),
    )
    return Rendered((frame for shot in shots_out for frame in shot), metadata=metadata)


# --- kirin_v3_motion_control ----------------------------------------------------------------


def _motion_control(job: RenderJob, setup: ModelSetup, run: Runner) -> Rendered:
    options, spec, inputs = setup.options, job.spec, job.inputs
    size = _size(job, options)
    frames = options.frames_for(spec.duration)
    role = setup.vace_for("motion control")
    structure = conditioning.edges(inputs["video_url"], frames, *size)
    character = _picture(inputs["image_url"], size)
    follow_image = job.params.get("character_orientation") == "image"
    video = conditioning.pictures(structure)
    if follow_image:
        # The character as the picture shows it: the first frame is the image itself.
        video[0] = character
    masks = conditioning.frame_masks(frames, *size, kept=[0] if follow_image else [])
    call = _vace_call(
        job,
        options,
        str(job.params.get("prompt") or ""),
        size,
        frames,
        video=video,
        mask=masks,
        reference_images=[character],
    )
    result = run(role, call, (0.0, 1.0))
    metadata = _metadata(job, setup, size)
    metadata.update(
        control="reference edges",
        first_frame_is_image=follow_image,
        generate_seconds=round(result.seconds, 3),
    )
    return Rendered(_fit(job, result.frames), motion_transfer.audio(job), metadata)
