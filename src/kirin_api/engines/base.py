"""The seam between the worker and whatever makes pixels.

An engine is shaped like a diffusers pipeline call: it checks its inputs, runs numbered steps,
reports progress through a callback and stops when asked. It returns its frames lazily so that the
worker can encode while the engine renders (the preview engine) or all at once (diffusion).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from kirin_api.contract.job import RenderJob

Frame = npt.NDArray[np.uint8]
"""One RGB frame, shape (height, width, 3), C-contiguous."""


class RenderCancelled(Exception):
    """Raised inside an engine when ``RenderControl.should_stop`` turned true."""


@dataclass
class RenderControl:
    """How the worker talks to a running render: progress out, cancellation in."""

    report_progress: Callable[[float], None] = lambda fraction: None
    should_stop: Callable[[], bool] = lambda: False

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
    """Exactly ``job.spec.frames`` frames of ``job.spec`` size, produced lazily."""

    frames: Iterator[Frame]
    audio: AudioTrack | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


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
