"""Which engine renders which model on this worker (``KIRIN_ENGINES_FILE``).

The file is TOML::

    [models.kirin_v1_t2v]
    engine = "preview"          # or "diffusers" (with the GPU engine), plus engine options

Models not named in the file run on ``preview`` where it supports them. A worker claims only
the models it has an engine for, so GPU hosts and CPU hosts can share one queue.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kirin_api.contract.registry import served_models
from kirin_api.engines.base import Engine
from kirin_api.engines.preview import PreviewEngine


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
    return {model: dict(options) for model, options in models.items()}


def build_engines(assignments: Mapping[str, Mapping[str, Any]]) -> dict[str, Engine]:
    """model id -> the engine that renders it on this worker."""
    preview = PreviewEngine()
    engines: dict[str, Engine] = {}
    for model in served_models():
        options = assignments.get(model, {})
        name = options.get("engine", "preview")
        if name == "preview":
            if preview.supports(model):
                engines[model] = preview
        else:
            raise EngineConfigError(
                f"engine {name!r} for {model} is not available in this build; "
                "known engines: preview"
            )
    return engines
