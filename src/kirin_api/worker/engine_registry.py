"""Which engine renders which model on this worker (``KIRIN_ENGINES_FILE``).

The file is TOML::

    [models.kirin_v1_t2v]
    engine = "diffusers"        # or "preview"
    weights = "/models/Wan2.1-T2V-1.3B-Diffusers"
    steps = 30                  # engine options: docs/gpu-engine.md

Models not named in the file run on ``preview`` where it supports them. A worker claims only
the models it has an engine for, so GPU hosts and CPU hosts can share one queue.

A file that cannot be read, an unknown model or engine, or a malformed option stops the worker
(:class:`EngineConfigError`): the configuration is wrong and must be fixed. A model whose
weights directory is missing or broken is reported once, in the log, and left out: this worker
does not claim it, and serves its other models.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kirin_api.contract.registry import served_models
from kirin_api.engines.base import Engine
from kirin_api.engines.preview import PreviewEngine

log = logging.getLogger("kirin_api.worker")
ENGINES = ("preview", "diffusers")


class EngineConfigError(Exception):
    """The engines file is unreadable or names an engine that cannot run here."""


def load_assignments(path: Path | None) -> dict[str, dict[str, Any]]:
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise EngineConfigError(f"cannot read engines file {path}: {exc}") from exc
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise EngineConfigError(f"{path}: [models] must be a table of model ids")
    unknown = sorted(set(models) - set(served_models()))
    if unknown:
        raise EngineConfigError(
            f"{path}: unknown model ids {unknown}; served: {', '.join(served_models())}"
        )
    for model, options in models.items():
        if not isinstance(options, dict):
            raise EngineConfigError(f"{path}: [models.{model}] must be a table")
        name = options.get("engine", "preview")
        if name not in ENGINES:
            raise EngineConfigError(
                f"{path}: [models.{model}] engine {name!r} is not known; known engines: "
                f"{', '.join(ENGINES)}"
            )
    return {model: dict(options) for model, options in models.items()}


def build_engines(assignments: Mapping[str, Mapping[str, Any]]) -> dict[str, Engine]:
    """model id -> the engine that renders it on this worker."""
    preview = PreviewEngine()
    engines: dict[str, Engine] = {}
    gpu = {m: o for m, o in assignments.items() if o.get("engine", "preview") == "diffusers"}
    if gpu:
        engines.update(_diffusers_engines(gpu))
    for model in served_models():
        if model not in gpu and preview.supports(model):
            engines[model] = preview
    return engines


def _diffusers_engines(assignments: Mapping[str, Mapping[str, Any]]) -> dict[str, Engine]:
    try:
        # torch and diffusers load only on workers that are given diffusers models.
        from kirin_api.engines.diffusers.engine import build_engine
        from kirin_api.engines.diffusers.options import OptionsError
    except ImportError as exc:
        raise EngineConfigError(
            f"engine 'diffusers' (for {', '.join(sorted(assignments))}) needs the gpu extra: "
            f"pip install 'kirin-api[gpu]' ({exc})"
        ) from exc
    try:
        engine, problems = build_engine(assignments)
    except OptionsError as exc:
        raise EngineConfigError(str(exc)) from exc
    problems.update(engine.preload())
    for model, problem in sorted(problems.items()):
        log.error("not serving %s on this worker: %s", model, problem)
    return {model: engine for model in assignments if engine.supports(model)}
