"""Which engine renders which model on this worker (``KIRIN_ENGINES_FILE``).

The file is TOML::

    [models.kirin_v1_t2v]
    engine = "diffusers"        # or "preview", or an upstream: "kling", "kirin"
    weights = "/models/Wan2.1-T2V-1.3B-Diffusers"
    steps = 30                  # engine options: docs/gpu-engine.md, docs/gateway.md

    [models.kirin_v3_i2v]
    engines = ["diffusers", "kling"]   # in order: the next one takes a task the one before
                                        # answers ...094 for (see engines.chain)

Models not named in the file run on ``preview`` where it supports them. A worker claims only
the models it has an engine for, so GPU hosts and CPU hosts can share one queue.

A file that cannot be read, an unknown model or engine, a malformed option or an upstream
secret whose variable is not set stops the worker (:class:`EngineConfigError`): the
configuration is wrong and must be fixed. A model whose weights directory is missing or broken
is reported once, in the log, and left out: this worker does not claim it, and serves its other
models.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kirin_api.contract.registry import served_models
from kirin_api.engines.base import Engine
from kirin_api.engines.chain import EngineChain
from kirin_api.engines.preview import PreviewEngine
from kirin_api.engines.upstream import (
    OPTION_NAMES,
    UPSTREAM_ENGINES,
    UpstreamConfigError,
    build_upstream_engine,
)
from kirin_api.metrics import count_upstream

log = logging.getLogger("kirin_api.worker")
ENGINES = ("preview", "diffusers", *UPSTREAM_ENGINES)


class EngineConfigError(Exception):
    """The engines file is unreadable or names an engine that cannot run here."""


def engine_names(options: Mapping[str, Any]) -> list[str]:
    """The engines of one model's table, in order: ``engines = [...]`` or ``engine = "..."``."""
    names = options.get("engines")
    if names is None:
        return [str(options.get("engine", "preview"))]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise EngineConfigError("engines must be a non-empty list of engine names")
    return list(names)


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
        try:
            names = engine_names(options)
        except EngineConfigError as exc:
            raise EngineConfigError(f"{path}: [models.{model}] {exc}") from None
        for name in names:
            if name not in ENGINES:
                raise EngineConfigError(
                    f"{path}: [models.{model}] engine {name!r} is not known; known engines: "
                    f"{', '.join(ENGINES)}"
                )
    return {model: dict(options) for model, options in models.items()}


def build_engines(
    assignments: Mapping[str, Mapping[str, Any]], environ: Mapping[str, str] | None = None
) -> dict[str, Engine]:
    """model id -> the engine that renders it on this worker (a chain where a model names
    several). ``environ`` holds the secrets that upstream engines' tables name."""
    preview = PreviewEngine()
    environ = environ or {}
    gpu = {
        model: {k: v for k, v in options.items() if k not in OPTION_NAMES and k != "engines"}
        for model, options in assignments.items()
        if "diffusers" in engine_names(options)
    }
    gpu_engines = _diffusers_engines(gpu) if gpu else {}
    engines: dict[str, Engine] = {}
    for model in served_models():
        options = assignments.get(model, {})
        names = engine_names(options)
        chain: list[Engine] = []
        for name in names:
            if name == "preview" and preview.supports(model):
                chain.append(preview)
            elif name == "diffusers" and model in gpu_engines:
                chain.append(gpu_engines[model])
            elif name in UPSTREAM_ENGINES:
                chain.append(_upstream(name, model, options, environ, alone=len(names) == 1))
        if chain:
            engines[model] = chain[0] if len(chain) == 1 else EngineChain(chain)
    return engines


def _upstream(
    name: str, model: str, options: Mapping[str, Any], environ: Mapping[str, str], alone: bool
) -> Engine:
    try:
        return build_upstream_engine(
            name, model, options, environ, alone=alone, on_outcome=count_upstream
        )
    except UpstreamConfigError as exc:
        raise EngineConfigError(str(exc)) from exc


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
