"""Several engines for one model, in order (``engines = ["diffusers", "kling"]``): a task goes
to the next one when an engine answers ``...094`` (resource insufficient: a feature it lacks,
out of memory, an upstream that refuses our credentials)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from kirin_api.contract.errors import TaskErrorKind, TaskFailure
from kirin_api.contract.job import RenderJob
from kirin_api.engines.base import (
    ElementMaker,
    Engine,
    RenderControl,
    RenderOutput,
    SlotGroup,
    relays_upstream,
    slot_groups,
)

log = logging.getLogger("kirin_api.engines")
T = TypeVar("T")


class EngineChain:
    def __init__(self, engines: Sequence[Engine]) -> None:
        if not engines:
            raise ValueError("a chain needs at least one engine")
        self.engines = list(engines)
        self.name = "+".join(engine.name for engine in self.engines)
        # Held for every member while the task runs: it may fall through to any of them.
        self.slot_groups: list[SlotGroup] = [g for e in self.engines for g in slot_groups(e)]
        self.relays_upstream = any(relays_upstream(e) for e in self.engines)

    def supports(self, model: str) -> bool:
        return any(engine.supports(model) for engine in self.engines)

    def render(self, job: RenderJob, control: RenderControl) -> RenderOutput:
        def attempt(engine: Engine) -> RenderOutput:
            output = engine.render(job, control)
            output.metadata.setdefault("engine", engine.name)
            return output

        return self._first_that_can(job, attempt, lambda engine: engine.supports(job.model))

    def make_element(self, job: RenderJob, control: RenderControl) -> dict[str, str]:
        def attempt(engine: Engine) -> dict[str, str]:
            assert isinstance(engine, ElementMaker)
            return engine.make_element(job, control)

        return self._first_that_can(job, attempt, lambda engine: isinstance(engine, ElementMaker))

    def _first_that_can(
        self, job: RenderJob, attempt: Callable[[Engine], T], usable: Callable[[Engine], bool]
    ) -> T:
        candidates = [engine for engine in self.engines if usable(engine)]
        for index, engine in enumerate(candidates):
            try:
                return attempt(engine)
            except TaskFailure as failure:
                last = index == len(candidates) - 1
                if failure.kind is not TaskErrorKind.RESOURCE_INSUFFICIENT or last:
                    raise
                log.warning(
                    "task %s: engine %s cannot run it (%s); trying %s",
                    job.task_id,
                    engine.name,
                    failure.message,
                    candidates[index + 1].name,
                )
        raise TaskFailure(
            TaskErrorKind.RESOURCE_INSUFFICIENT, f"no engine here can run {job.model}"
        )
