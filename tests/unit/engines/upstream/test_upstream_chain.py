"""The chain of engines: it falls through to the next engine on ``...094`` only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kirin_api.contract.errors import TaskErrorKind, TaskFailure
from kirin_api.contract.job import RenderJob
from kirin_api.engines.base import RenderControl, RenderOutput
from kirin_api.engines.chain import EngineChain
from tests.unit.engines.upstream.common import t2v_job

# --- the chain -----------------------------------------------------------------------------------


class FakeEngine:
    """An engine that answers a render with ``outcome`` (an exception is raised)."""

    def __init__(self, name: str, outcome: Callable[[], RenderOutput]) -> None:
        self.name = name
        self._outcome = outcome
        self.calls = 0

    def supports(self, model: str) -> bool:
        return model == "kirin_v1_t2v"

    def render(self, job: RenderJob, control: RenderControl) -> RenderOutput:
        self.calls += 1
        return self._outcome()


def failing(kind: TaskErrorKind) -> Callable[[], RenderOutput]:
    def fail() -> RenderOutput:
        raise TaskFailure(kind, f"cannot ({kind.value})")

    return fail


def rendered() -> RenderOutput:
    return RenderOutput(frames=iter(()), video_path=Path("/tmp/out.mp4"))


def test_chain_falls_through_on_094_to_the_next_engine(tmp_path: Path) -> None:
    first = FakeEngine("diffusers", failing(TaskErrorKind.RESOURCE_INSUFFICIENT))
    second = FakeEngine("kling", rendered)
    output = EngineChain([first, second]).render(t2v_job(tmp_path), RenderControl())
    assert output.video_path == Path("/tmp/out.mp4")
    assert output.metadata["engine"] == "kling"
    assert (first.calls, second.calls) == (1, 1)


def test_chain_raises_other_failures_without_trying_the_next(tmp_path: Path) -> None:
    first = FakeEngine("diffusers", failing(TaskErrorKind.INTERNAL))
    second = FakeEngine("kling", rendered)
    with pytest.raises(TaskFailure) as caught:
        EngineChain([first, second]).render(t2v_job(tmp_path), RenderControl())
    assert caught.value.kind is TaskErrorKind.INTERNAL
    assert second.calls == 0


def test_chain_raises_094_of_the_last_engine(tmp_path: Path) -> None:
    first = FakeEngine("diffusers", failing(TaskErrorKind.RESOURCE_INSUFFICIENT))
    second = FakeEngine("kling", failing(TaskErrorKind.RESOURCE_INSUFFICIENT))
    with pytest.raises(TaskFailure) as caught:
        EngineChain([first, second]).render(t2v_job(tmp_path), RenderControl())
    assert caught.value.kind is TaskErrorKind.RESOURCE_INSUFFICIENT
    assert caught.value.message == "cannot (094)"
    assert (first.calls, second.calls) == (1, 1)
