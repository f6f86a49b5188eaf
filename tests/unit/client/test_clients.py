"""The sync and async clients over httpx.MockTransport: the same behaviour from both."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kirin_api import AsyncClient, Client, RetryPolicy
from kirin_api.client import errors as e
from tests.unit.client.conftest import BASE, error_body, task_body

Handler = Callable[[httpx.Request], httpx.Response]
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.002)


def sync_client(handler: Handler, **kwargs: Any) -> Client:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return Client(BASE, "kirin_sk_test", http_client=http, retry=FAST, **kwargs)


def async_client(handler: Handler, **kwargs: Any) -> AsyncClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AsyncClient(BASE, "kirin_sk_test", http_client=http, retry=FAST, **kwargs)


class Script:
    """Answers requests in order and records them."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def ok(body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, json=body, headers=headers)


def fail(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=error_body(code), headers=headers)


def test_env_supplies_base_url_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIRIN_BASE_URL", "http://from-env:9/")
    monkeypatch.setenv("KIRIN_API_KEY", "kirin_sk_env")
    with Client() as client:
        assert client.config.base_url == "http://from-env:9"
        assert client.config.api_key == "kirin_sk_env"
    monkeypatch.delenv("KIRIN_API_KEY")
    with pytest.raises(e.KirinError, match="KIRIN_API_KEY"):
        Client()
    client2 = AsyncClient(api_key="k", max_retries=5)
    assert client2.config.retry.max_retries == 5
    asyncio.run(client2.aclose())


def test_sync_retries_429_honouring_retry_after() -> None:
    script = Script(
        fail(429, "too_many_requests", {"Retry-After": "0"}),
        fail(500, "internal_error"),
        ok(task_body("processing")),
    )
    with sync_client(script) as client:
        assert client.tasks.get("task_1").status == "processing"
    assert len(script.requests) == 3


def test_async_retries_429_honouring_retry_after() -> None:
    script = Script(
        fail(429, "too_many_requests", {"Retry-After": "0"}),
        ok(task_body("processing")),
    )

    async def main() -> None:
        async with async_client(script) as client:
            assert (await client.tasks.get("task_1")).status == "processing"

    asyncio.run(main())
    assert len(script.requests) == 2


def test_rate_limit_error_after_the_retries() -> None:
    script = Script(*[fail(429, "too_many_requests", {"Retry-After": "0"})] * 3)
    with sync_client(script, max_retries=2) as client, pytest.raises(e.RateLimitError) as caught:
        client.tasks.list_page()
    assert caught.value.retry_after == 0.0
    assert len(script.requests) == 3


def test_create_is_not_retried_but_with_external_id_it_is() -> None:
    script = Script(fail(503, "unavailable"))
    with sync_client(script) as client, pytest.raises(e.ServiceUnavailableError):
        client.tasks.create("kirin_v1_t2v", prompt="x")
    assert len(script.requests) == 1

    script = Script(
        httpx.ReadError("reset"),
        fail(409, "conflict"),
        ok({"object": "list", "data": [task_body(id="landed")], "next_cursor": None}),
    )
    with sync_client(script) as client:
        task = client.tasks.create("kirin_v1_t2v", prompt="x", external_task_id="e1")
    assert task.id == "landed"
    assert [r.method for r in script.requests] == ["POST", "POST", "GET"]


def test_list_follows_cursors_in_both_clients() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        assert request.url.params["status"] == "completed"
        page = {None: (["a", "b"], "c1"), "c1": (["c"], "c2"), "c2": ([], None)}[cursor]
        return ok(
            {
                "object": "list",
                "data": [task_body("completed", id=i) for i in page[0]],
                "next_cursor": page[1],
            }
        )

    with sync_client(handler) as client:
        assert [t.id for t in client.tasks.list(status="completed", limit=2)] == ["a", "b", "c"]

    async def main() -> list[str]:
        async with async_client(handler) as client:
            return [t.id async for t in client.tasks.list(status="completed")]

    assert asyncio.run(main()) == ["a", "b", "c"]


def _download_handler(video: bytes) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/files/"):
            assert "authorization" not in request.headers
            return httpx.Response(200, content=video)
        assert request.headers["authorization"] == "Bearer kirin_sk_test"
        return ok(task_body("completed"))

    return handler


def test_download_streams_to_a_file(tmp_path: Path) -> None:
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 1000
    with sync_client(_download_handler(video)) as client:
        path = client.tasks.download("task_1", tmp_path / "sub" / "out.mp4")
    assert path.read_bytes() == video
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["out.mp4"]

    async def main() -> Path:
        async with async_client(_download_handler(video)) as client:
            task = await client.tasks.get("task_1")
            return await client.tasks.download(task, tmp_path, watermarked=True)

    path = asyncio.run(main())
    assert path.name == "task_1.watermarked.mp4"
    assert path.read_bytes() == video


def test_a_failed_download_leaves_no_file(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/files/"):
            return fail(403, "forbidden")
        return ok(task_body("completed"))

    with sync_client(handler) as client, pytest.raises(e.PermissionDeniedError):
        client.tasks.download("task_1", tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_wait_in_both_clients_returns_failed_tasks() -> None:
    def script() -> Script:
        return Script(
            ok(task_body("processing"), {"Retry-After": "0"}),
            ok(task_body("failed")),
        )

    with sync_client(script()) as client:
        assert client.tasks.wait("task_1").status == "failed"

    async def main() -> str:
        async with async_client(script()) as client:
            return (await client.tasks.wait("task_1")).status

    assert asyncio.run(main()) == "failed"


def test_helpers_send_the_built_body_in_both_clients(tmp_path: Path) -> None:
    image = tmp_path / "frame.png"
    image.write_bytes(b"\x89PNG fake")
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return ok(task_body())

    with sync_client(handler) as client:
        client.tasks.t2v("a fox", camera_control={"type": "simple", "config": {"pan": 5}})
        client.tasks.i2v(image, image_tail="https://example.com/tail.jpg")

    async def main() -> None:
        async with async_client(handler) as client:
            await client.tasks.multi_i2v([str(image)], "two cats")

    asyncio.run(main())
    assert bodies[0] == {
        "model": "kirin_v1_t2v",
        "prompt": "a fox",
        "duration": "5",
        "aspect_ratio": "16:9",
        "camera_control": {"type": "simple", "config": {"pan": 5}},
    }
    assert bodies[1]["image"] == "iVBORyBmYWtl"
    assert bodies[1]["image_tail"] == "https://example.com/tail.jpg"
    assert bodies[2]["image_list"] == [{"image": "iVBORyBmYWtl"}]


def test_elements_models_and_secret() -> None:
    element = {
        "id": "829836802793406551",
        "object": "element",
        "element_name": "hero",
        "reference_type": "image_refer",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/model/v1/elements":
            return ok({"object": "list", "data": [element], "next_cursor": None})
        if path.startswith("/model/v1/elements/") and request.method == "GET":
            return ok(element)
        if request.method == "DELETE":
            return ok({"id": 829836802793406551, "object": "element", "deleted": True})
        if path == "/model/v1/models":
            return ok({"object": "list", "data": [{"id": "kirin_v1_t2v", "parameters": {}}]})
        return ok({"secret": "whsec_abc="})

    with sync_client(handler) as client:
        [listed] = client.elements.list()
        assert listed.id == 829836802793406551
        assert client.elements.get(829836802793406551).element_name == "hero"
        client.elements.delete(829836802793406551)
        assert [m.id for m in client.models.list()] == ["kirin_v1_t2v"]
        assert client.webhook_secret() == "whsec_abc="

    async def main() -> None:
        async with async_client(handler) as client:
            assert [x.id async for x in client.elements.list()] == [829836802793406551]
            assert (await client.elements.get("829836802793406551")).id == 829836802793406551
            await client.elements.delete(1)
            assert (await client.models.list())[0].id == "kirin_v1_t2v"
            assert await client.webhook_secret() == "whsec_abc="

    asyncio.run(main())
