"""Helpers for the SDK's unit tests: drive a sans-IO flow by hand, fake task answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from kirin_api.client._core import Action, ClientConfig, Core, Flow, Outcome, Sleep

BASE = "http://kirin.test"


def task_body(status: str = "pending", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": extra.pop("id", "task_1"),
        "object": "generation.task",
        "model": "kirin_v1_t2v",
        "status": status,
        "progress": 1.0 if status == "completed" else 0.0,
        "created_at": 1763700000,
        "updated_at": 1763700000,
        "completed_at": None,
        "external_task_id": None,
        "metadata": {},
    }
    if status == "completed":
        body["output"] = [
            {
                "content": [
                    {
                        "type": "video",
                        "url": f"{BASE}/files/v.mp4?sig=1",
                        "watermark_url": f"{BASE}/files/w.mp4?sig=1",
                        "duration": 5.0,
                    }
                ],
                "jobId": "job",
            }
        ]
        body["usage"] = {"cost": "0.1400", "discount": 0}
    if status == "failed":
        body["error"] = {"code": "002001095", "message": "the engine failed"}
    body.update(extra)
    return body


def error_body(code: str, message: str = "nope", param: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if param:
        error["param"] = param
    return {"error": error}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_core(clock: FakeClock | None = None, **config: Any) -> Core:
    return Core(
        ClientConfig(
            base_url=BASE,
            api_key="kirin_sk_test",
            clock=clock or FakeClock(),
            rand=lambda: 0.5,
            **config,
        )
    )


def drive(
    flow: Flow[Any],
    respond: Callable[[Action], Outcome],
    clock: FakeClock | None = None,
) -> tuple[Any, list[Action]]:
    """Run ``flow``, answering each action with ``respond``; sleeps advance ``clock``."""
    actions: list[Action] = []
    outcome: Outcome = None
    while True:
        try:
            action = flow.send(outcome)
        except StopIteration as stop:
            return stop.value, actions
        actions.append(action)
        if isinstance(action, Sleep) and clock is not None:
            clock.now += action.seconds
        outcome = respond(action)


def answers(*outcomes: Any) -> Callable[[Action], Outcome]:
    """Answer Send/Fetch actions with ``outcomes`` in turn (dicts become 200 JSON; a tuple
    is (status, body[, headers])); sleeps get ``None``."""
    queue: Iterator[Any] = iter(outcomes)

    def respond(action: Action) -> Outcome:
        if isinstance(action, Sleep):
            return None
        item = next(queue)
        if isinstance(item, Exception):
            return item
        if isinstance(item, dict):
            item = (200, item)
        status, body, *rest = item
        return httpx.Response(
            status, json=body, headers=rest[0] if rest else {}, request=action.request
        )

    return respond


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
