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


# The spec of a job that makes no video (a subject of kirin_custom_elements).
NO_VIDEO = OutputSpec(width=0, height=0, fps=0, frames=0)


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
    # A directory of this task's own for the engine's files (upstream engines download there).
    workdir: str = ""
    # The URL parameters whose host resolves only to public addresses: an upstream service can
    # fetch those itself; the others are sent as base64 (see engines.upstream).
    public_urls: frozenset[str] = frozenset()
    # The elements of ``element_list`` by id: where each exists at upstream services
    # (engine key -> the upstream's element id), so relayed tasks can name them there.
    element_refs: dict[int, dict[str, str]] = field(default_factory=dict)
