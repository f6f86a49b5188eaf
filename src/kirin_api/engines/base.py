"""The seam between the worker and whatever makes pixels.

An engine is shaped like a diffusers pipeline call: it checks its inputs, runs numbered steps,
reports progress through a callback and stops when asked. It returns its frames lazily so that the
worker can encode while the engine renders (the preview engine) or all at once (diffusion).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from kirin_api.contract.job import RenderJob

Frame = npt.NDArray[np.uint8]
"""One RGB frame, shape (height, width, 3), C-contiguous."""


class RenderCancelled(Exception):
    """Raised inside an engine when ``RenderControl.should_stop`` turned true."""


class DeferTask(Exception):
    """Raised by an engine that cannot start the task now but will be able to later (an
    upstream's rate or parallel-task limit): the worker puts it back in the queue for
    ``seconds``; it is not a failure and not a lost attempt."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


@dataclass
class RenderControl:
    """How the worker talks to a running render: progress out, cancellation in."""

    report_progress: Callable[[float], None] = lambda fraction: None
    should_stop: Callable[[], bool] = lambda: False
    # Why it stops: the task was cancelled (an upstream task is then cancelled too), rather
    # than handed to another worker (this one is stopping, or lost its lease).
    cancelled: Callable[[], bool] = lambda: False

    def check(self) -> None:
        """Raise :class:`RenderCancelled` if the task was cancelled; call between steps."""
        if self.should_stop():
            raise RenderCancelled


@dataclass
class AudioTrack:
    """Mono or stereo float32 samples in [-1, 1], shape (channels, samples)."""

    samples: npt.NDArray[np.float32]
    sample_rate: int


@dataclass
class RenderOutput:
    """Exactly ``job.spec.frames`` frames of ``job.spec`` size, produced lazily; or, from an
    engine that delivers a finished MP4 (an upstream service), that file, which the worker
    checks against the contract as it checks what it encodes itself."""

    frames: Iterator[Frame]
    audio: AudioTrack | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    video_path: Path | None = None
    # The watermarked version, where the engine made one (``watermark_info.enabled``).
    watermarked_path: Path | None = None


@dataclass(frozen=True)
class SlotGroup:
    """An engine's share of a limit that all workers respect together: at most ``capacity``
    tasks of the engines with this ``key`` run at once (an upstream's parallel-task limit)."""

    key: str
    capacity: int


@runtime_checkable
class Engine(Protocol):
    """Renders jobs of the models it supports."""

    name: str

    def supports(self, model: str) -> bool:
        """True if this engine can render ``model``."""
        ...

    def render(self, job: RenderJob, control: RenderControl) -> RenderOutput:
        """Check the job and start rendering; frames are produced as the iterator is consumed."""
        ...


@runtime_checkable
class ElementMaker(Protocol):
    """An engine that keeps subjects where it renders (an upstream service): a
    ``kirin_custom_elements`` task assigned to it makes the element there too, and tasks that
    name the element are relayed with the upstream's id for it."""

    name: str

    def make_element(self, job: RenderJob, control: RenderControl) -> dict[str, str]:
        """Create the subject of ``job`` upstream: where (the upstream's key, as used in
        ``RenderJob.element_refs``) -> the upstream's element id."""
        ...


def slot_groups(engine: Engine) -> list[SlotGroup]:
    """The limits shared by all workers that a task of ``engine`` counts against."""
    groups = getattr(engine, "slot_groups", None)
    if groups is not None:
        return list(groups)
    group = getattr(engine, "slot_group", None)
    return [group] if isinstance(group, SlotGroup) else []


def relays_upstream(engine: Engine) -> bool:
    """Whether ``engine`` (or a member of its chain) sends tasks to an upstream service: its
    jobs then need to know which input URLs are public (``RenderJob.public_urls``)."""
    return bool(getattr(engine, "relays_upstream", False))
