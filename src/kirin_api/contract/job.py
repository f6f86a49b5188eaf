"""What an engine is asked to render: the validated request and the exact output it must give."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OutputSpec:
    """The video the contract promises (API.md "What the output must be")."""

    width: int
    height: int
    fps: int
    frames: int
    audio: bool = False

    @property
    def duration(self) -> float:
        return self.frames / self.fps


@dataclass(frozen=True)
class RenderJob:
    """One render: ``params`` are the model's validated, normalised parameters (JSON values)."""

    task_id: str
    model: str
    params: dict[str, Any]
    spec: OutputSpec
    seed: int
    # Local paths of inputs fetched by the worker, keyed by the dotted parameter they came from.
    inputs: dict[str, str] = field(default_factory=dict)
