"""The diffusers engine: Wan models from local weights, behind the same seam as the preview.

Built by :func:`build_engine` from the models the engines file gives to ``engine = "diffusers"``.
At startup every model's options are parsed (a malformed option stops the worker: the file is
wrong) and its weights checked (:mod:`.weights`); a model whose weights are missing or broken is
reported once and left out, so this worker does not claim it, while the others run. Weights are
loaded on first use, or at startup with ``preload = true``, and stay warm
(:class:`.pipelines.PipelineCache`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from kirin_api.contract.errors import TaskErrorKind, TaskFailure
from kirin_api.contract.job import RenderJob
from kirin_api.engines.base import RenderControl, RenderOutput
from kirin_api.engines.diffusers import recipes
from kirin_api.engines.diffusers.options import DiffusersOptions, parse_options
from kirin_api.engines.diffusers.pipelines import Call, CallResult, PipelineCache, run_call
from kirin_api.engines.diffusers.recipes import MAIN_PIPELINES, VACE, WHY_NOT, ModelSetup
from kirin_api.engines.diffusers.weights import WeightsError, WeightsInfo, inspect_weights

log = logging.getLogger("kirin_api.engines.diffusers")


class DiffusersEngine:
    """Renders the models in ``setups`` with their Wan pipelines."""

    name = "diffusers"

    def __init__(self, setups: Mapping[str, ModelSetup], cache: PipelineCache | None = None):
        self._setups = dict(setups)
        self._cache = cache if cache is not None else PipelineCache()

    def supports(self, model: str) -> bool:
        return model in self._setups

    def preload(self) -> dict[str, str]:
        """Load the weights of every model configured with ``preload = true`` now; a model
        whose weights fail to load is dropped, and returned with the reason."""
        failed: dict[str, str] = {}
        for model, setup in list(self._setups.items()):
            if not setup.options.preload:
                continue
            try:
                for info in (setup.main, setup.vace):
                    if info is not None:
                        self._cache.get(info, setup.options)
            except Exception as exc:  # whatever diffusers raises on weights it cannot load
                failed[model] = f"loading {setup.main.path} failed: {exc}"
                del self._setups[model]
        return failed

    def render(self, job: RenderJob, control: RenderControl) -> RenderOutput:
        """Generate the whole clip (diffusion makes every frame at once), then hand the frames
        over, fitted to the contract, as they are encoded."""
        setup = self._setups.get(job.model)
        if setup is None:
            raise ValueError(f"the diffusers engine is not configured for {job.model!r}")
        timings = _Timings()

        def run(role: str, call: Call, progress: tuple[float, float]) -> CallResult:
            info = setup.main if role == "main" else setup.vace
            if info is None:
                raise ValueError(f"{job.model}: no {role} weights")
            started = time.monotonic()
            loaded = self._cache.get(info, setup.options)
            timings.load_seconds += time.monotonic() - started
            timings.speedups = loaded.applied
            timings.device = str(loaded.device)
            return run_call(loaded, call, setup.options.speedups, control, progress)

        try:
            rendered = recipes.render(job, setup, run)
        except torch.OutOfMemoryError as exc:
            raise TaskFailure(
                TaskErrorKind.RESOURCE_INSUFFICIENT,
                f"the GPU ran out of memory rendering {job.model} ({exc}); a smaller size or "
                "frames, offload or vae_tiling in the engines file make it fit",
            ) from exc
        metadata: dict[str, Any] = {
            **rendered.metadata,
            "device": timings.device,
            "speedups": timings.speedups,
            "load_seconds": round(timings.load_seconds, 3),
        }
        return RenderOutput(frames=rendered.frames, audio=rendered.audio, metadata=metadata)


@dataclass
class _Timings:
    load_seconds: float = 0.0
    device: str = ""
    speedups: list[str] = field(default_factory=list)


def check_model(model: str, options: DiffusersOptions) -> ModelSetup:
    """The model's setup once its weights pass the checks; raises WeightsError saying why not."""
    allowed = MAIN_PIPELINES.get(model)
    if allowed is None:
        raise WeightsError(f"{model} makes no video: the diffusers engine has nothing to do")
    main = inspect_weights(options.weights)
    _check_pipeline(model, "weights", main, allowed)
    vace = None
    if options.vace_weights is not None:
        vace = inspect_weights(options.vace_weights)
        _check_pipeline(model, "vace_weights", vace, (VACE,))
    return ModelSetup(model, options, main, vace)


def _check_pipeline(model: str, key: str, info: WeightsInfo, allowed: tuple[str, ...]) -> None:
    if info.pipeline in allowed:
        return
    why = WHY_NOT.get(info.pipeline, "")
    raise WeightsError(
        f"{info.path} holds a {info.pipeline}; {model}'s {key} must be one of "
        f"{', '.join(allowed)}" + (f": {why}" if why else "")
    )


def build_engine(
    assignments: Mapping[str, Mapping[str, Any]], cache: PipelineCache | None = None
) -> tuple[DiffusersEngine, dict[str, str]]:
    """The engine for every model assigned to it whose weights check out, and for each model
    left out, why. Raises OptionsError for a malformed option (before any weights are read)."""
    parsed = {model: parse_options(model, table) for model, table in assignments.items()}
    setups: dict[str, ModelSetup] = {}
    problems: dict[str, str] = {}
    for model, options in parsed.items():
        try:
            setups[model] = check_model(model, options)
        except WeightsError as exc:
            problems[model] = str(exc)
    engine = DiffusersEngine(setups, cache)
    return engine, problems
