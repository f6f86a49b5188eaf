"""Loading pipelines once and running them: the warm cache, progress and cancellation.

A worker keeps every pipeline it has loaded (weights read once, speed-ups such as compilation
paid once) for as long as memory allows: before loading another, the least recently used ones
are let go until the new one fits in what the device has free. Two models configured with the
same weights directory and settings share one pipeline.

One call of a pipeline is one :class:`Call`. Its step callback reports progress and checks for
cancellation; a cancelled render raises from the callback, so it stops at the next step with
nothing decoded (diffusers' own interrupt flag would skip the remaining steps but still run the
VAE over the latents, seconds of GPU time for a picture nobody wants).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import diffusers
import numpy as np
import torch

from kirin_api.engines.base import Frame, RenderControl
from kirin_api.engines.diffusers.acceleration import (
    Speedups,
    apply_speedups,
    batched_guidance,
    encode_prompts,
    set_cache_steps,
    transformers_of,
)
from kirin_api.engines.diffusers.options import DiffusersOptions, resolve_device
from kirin_api.engines.diffusers.weights import WeightsInfo

log = logging.getLogger("kirin_api.engines.diffusers")

# Components kept in float32 whatever the dtype: Wan's VAE and the CLIP image encoder lose
# visible quality in half precision for little gain (the Wan model cards load them so).
FLOAT32_COMPONENTS = ("vae", "image_encoder")


@dataclass
class LoadedPipeline:
    """A pipeline ready to run, and what was done to it."""

    pipe: Any  # a diffusers pipeline (diffusers has no type information)
    info: WeightsInfo
    device: torch.device
    applied: list[str]
    load_seconds: float


def load_pipeline(info: WeightsInfo, options: DiffusersOptions) -> LoadedPipeline:
    """Read ``info``'s weights onto the device with the model's speed-ups (no network)."""
    started = time.monotonic()
    device = resolve_device(options.device)
    dtype = getattr(torch, options.dtype)
    pipeline_class = getattr(diffusers, info.pipeline)
    dtypes = {"default": dtype, **dict.fromkeys(FLOAT32_COMPONENTS, torch.float32)}
    # Loading bars are for notebooks; the worker logs one line per load instead.
    diffusers.utils.logging.disable_progress_bar()
    pipe = pipeline_class.from_pretrained(str(info.path), dtype=dtypes, local_files_only=True)
    if options.flow_shift is not None:
        pipe.scheduler = _with_shift(pipe.scheduler, options.flow_shift)
    pipe.set_progress_bar_config(disable=True)
    applied = apply_speedups(pipe, options.speedups, device)
    seconds = time.monotonic() - started
    log.info("loaded %s (%s) in %.1fs: %s", info.path, info.pipeline, seconds, applied)
    return LoadedPipeline(pipe, info, device, applied, seconds)


def _with_shift(scheduler: Any, shift: float) -> Any:
    """The scheduler with Wan's flow shift (UniPC calls it flow_shift, FlowMatch shift)."""
    config = dict(scheduler.config)
    key = "flow_shift" if "flow_shift" in config else "shift"
    return type(scheduler).from_config(config, **{key: shift})


def _free_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


@dataclass
class PipelineCache:
    """Loaded pipelines by weights and settings, least recently used first."""

    loader: Callable[[WeightsInfo, DiffusersOptions], LoadedPipeline] = load_pipeline
    free_bytes: Callable[[torch.device], int] = _free_bytes
    _loaded: OrderedDict[tuple[Any, ...], LoadedPipeline] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, info: WeightsInfo, options: DiffusersOptions) -> LoadedPipeline:
        key = self._key(info, options)
        with self._lock:
            hit = self._loaded.get(key)
            if hit is not None:
                self._loaded.move_to_end(key)
                return hit
            self._make_room(info.size_bytes, resolve_device(options.device))
            loaded = self.loader(info, options)
            self._loaded[key] = loaded
            return loaded

    def __len__(self) -> int:
        return len(self._loaded)

    @staticmethod
    def _key(info: WeightsInfo, options: DiffusersOptions) -> tuple[Any, ...]:
        return (
            str(info.path.resolve()),
            options.dtype,
            str(resolve_device(options.device)),
            options.flow_shift,
            options.speedups,
        )

    def _make_room(self, needed: int, device: torch.device) -> None:
        while self._loaded and self.free_bytes(device) < needed:
            key, evicted = self._loaded.popitem(last=False)
            log.info("unloading %s to make room for %d MB", key[0], needed // 2**20)
            del evicted
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()


@dataclass
class Call:
    """One pipeline call: the prompt, the guidance, the size and the model's other inputs."""

    prompt: str
    negative_prompt: str
    guidance: float
    steps: int
    seed: int
    width: int
    height: int
    frames: int
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class CallResult:
    frames: list[Frame]
    seconds: float


def run_call(
    loaded: LoadedPipeline,
    call: Call,
    speedups: Speedups,
    control: RenderControl,
    progress: tuple[float, float] = (0.0, 1.0),
) -> CallResult:
    """Run ``call``: frames as RGB uint8; raises RenderCancelled when the task is cancelled.

    ``progress`` is the share of the task's progress this call covers (a multi-shot video makes
    one call per shot).
    """
    pipe = loaded.pipe
    low, high = progress
    control.check()

    def on_step_end(
        _pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]
    ) -> dict[str, Any]:
        control.report_progress(low + (high - low) * (step + 1) / call.steps)
        control.check()
        return tensors

    arguments: dict[str, Any] = {
        **call.inputs,
        "height": call.height,
        "width": call.width,
        "num_frames": call.frames,
        "num_inference_steps": call.steps,
        # A CPU generator gives the same noise on every device for the same seed.
        "generator": torch.Generator(device="cpu").manual_seed(call.seed),
        "output_type": "np",
        "callback_on_step_end": on_step_end,
    }
    started = time.monotonic()
    set_cache_steps(pipe, call.steps)
    with torch.inference_mode():
        if call.guidance > 1.0 and speedups.batch_cfg:
            positive, negative = encode_prompts(
                pipe, call.prompt, call.negative_prompt, loaded.device
            )
            scales = dict.fromkeys(transformers_of(pipe), call.guidance)
            with batched_guidance(scales, {"encoder_hidden_states": negative}):
                output = pipe(prompt_embeds=positive, guidance_scale=1.0, **arguments)
        else:
            output = pipe(
                prompt=call.prompt,
                negative_prompt=call.negative_prompt or None,
                guidance_scale=call.guidance,
                **arguments,
            )
    seconds = time.monotonic() - started
    return CallResult(_to_frames(output.frames[0]), seconds)


def _to_frames(video: Any) -> list[Frame]:
    """The pipeline's ``np`` output (frames, height, width, 3) in [0, 1] as uint8 frames."""
    array = np.asarray(video, dtype=np.float32)
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"unexpected pipeline output of shape {array.shape}")
    scaled = np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(frame) for frame in scaled]
