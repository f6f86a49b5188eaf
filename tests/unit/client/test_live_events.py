"""Following a task live in the SDK: the SSE parser, reconnection with Last-Event-ID, and the
fall back to polling where a server has no event stream (over httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from kirin_api import AsyncClient, Client, RetryPolicy
from kirin_api.client._events import ServerEvent, SseParser
from tests.unit.client.conftest import BASE, error_body, task_body

FAST = RetryPolicy(initial_delay=0.001, max_delay=0.002)
EVENTS = "/model/v1/generation/task/task_1/events"


def sse(*tasks: dict[str, Any], comment: bool = True) -> bytes:
    chunks = ["retry: 1\n\n"]
    for task in tasks:
        if comment:
            chunks.append(": keep-alive\n\n")
        event_id = f"{task['status']}-{task['progress']:.4f}"
        chunks.append(f"id: {event_id}\nevent: task\ndata: {json.dumps(task)}\n\n")
    return "".join(chunks).encode()


def stream(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


def test_the_parser_follows_the_sse_rules() -> None:
    parser = SseParser()
    lines = ["retry: 500", "", ": comment", "id: a", "event: task", "data: {", "data: }", ""]
    assert [parser.line(line) for line in lines][-1] == ServerEvent("task", "{\n}", "a")
    assert (parser.retry_ms, parser.last_id) == (500, "a")
    assert parser.line("data:x") is None
    assert parser.line("") == ServerEvent("message", "x", "a")  # the id sticks, as in browsers


def test_stream_resumes_a_dropped_stream_with_last_event_id() -> None:
    seen: list[httpx.Request] = []
    processing = task_body("processing", progress=0.5)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:  # the first stream ends before the task has finished
            return stream(sse(task_body("pending"), processing))
        return stream(sse(task_body("completed")))

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with Client(BASE, "kirin_sk_test", http_client=http, retry=FAST) as client:
        states = [(t.status, t.progress) for t in client.tasks.stream("task_1")]
    assert states == [("pending", 0.0), ("processing", 0.5), ("completed", 1.0)]
    assert "last-event-id" not in seen[0].headers
    assert seen[1].headers["last-event-id"] == "processing-0.5000"
    assert seen[1].headers["accept"] == "text/event-stream"


@pytest.mark.parametrize(
    "unsupported",
    [
        httpx.Response(404, json=error_body("not_found", "no route GET /model/v1/...")),
        httpx.Response(200, json=task_body("processing")),  # a provider that answers JSON
    ],
)
def test_wait_polls_where_there_is_no_event_stream(unsupported: httpx.Response) -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path == EVENTS:
            return unsupported
        return httpx.Response(200, json=task_body("completed"))

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with Client(BASE, "kirin_sk_test", http_client=http, retry=FAST) as client:
        assert client.tasks.wait("task_1").status == "completed"
    assert paths == [EVENTS, "/model/v1/generation/task/task_1"]


def test_async_wait_streams_and_stops_at_the_finished_state() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return stream(sse(task_body("pending"), task_body("failed"), task_body("completed")))

    async def run() -> str:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with AsyncClient(BASE, "kirin_sk_test", http_client=http, retry=FAST) as client:
            task = await client.tasks.wait("task_1")
            return task.status

    assert asyncio.run(run()) == "failed"
    assert calls == [EVENTS]


def test_an_error_of_the_stream_is_the_apis_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json=error_body("unauthorized"))

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with Client(BASE, "kirin_sk_test", http_client=http, retry=FAST) as client:
        from kirin_api import AuthenticationError

        with pytest.raises(AuthenticationError):
            list(client.tasks.stream("task_1"))
