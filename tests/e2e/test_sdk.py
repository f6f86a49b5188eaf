"""The SDK against a real server process: sync and async, errors, retries of creates."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import uuid
from pathlib import Path

import httpx
import pytest

from kirin_api import (
    APIError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    ConflictError,
    NoResultError,
    NotFoundError,
    Task,
    verify_webhook,
)
from kirin_api.media.probe import probe_video
from tests.e2e.harness import Kirin

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def key(kirin: Kirin) -> str:
    return kirin.create_key(account="sdk")


@pytest.fixture
def client(kirin: Kirin, key: str) -> Client:
    return Client(kirin.base_url, key)


def _check_video(path: Path, width: int = 1280, height: int = 720) -> None:
    info = probe_video(path)
    assert (info.width, info.height, info.fps, info.frames) == (width, height, 30, 150)
    assert info.codec == "h264"
    assert info.faststart


def test_sync_create_wait_download(client: Client, tmp_path: Path) -> None:
    seen: list[Task] = []
    with client:
        created = client.tasks.t2v(
            "a red fox running through snow",
            camera_control={"type": "simple", "config": {"pan": 5}},
            watermark=True,
        )
        assert created.status == "pending"
        task = client.tasks.wait(created, timeout=120, on_update=seen.append)
        assert task.status == "completed"
        assert task.usage is not None
        assert str(task.usage.cost) == "0.1400"
        assert task.video_url
        assert task.watermark_url
        progress = [t.progress for t in seen]
        assert progress == sorted(progress)
        clean = client.tasks.download(task, tmp_path / "fox.mp4")
        marked = client.tasks.download(task.id, tmp_path, watermarked=True)
    _check_video(clean)
    _check_video(marked)
    assert clean.read_bytes() != marked.read_bytes()


def test_async_create_and_wait_download(kirin: Kirin, key: str, tmp_path: Path) -> None:
    async def main() -> Path:
        async with AsyncClient(kirin.base_url, key) as client:
            task = await client.tasks.create_and_wait(
                "kirin_v1_t2v", prompt="a lighthouse", aspect_ratio="9:16", timeout=120
            )
            assert task.status == "completed"
            with pytest.raises(NoResultError):
                await client.tasks.download(task, tmp_path / "x.mp4", watermarked=True)
            listed = [t.id async for t in client.tasks.list(model="kirin_v1_t2v", limit=1)]
            assert task.id in listed
            return await client.tasks.download(task, tmp_path / "tall.mp4")

    _check_video(asyncio.run(main()), width=720, height=1280)


def test_errors_map_to_classes(kirin: Kirin, client: Client) -> None:
    with client:
        with pytest.raises(BadRequestError) as bad:
            client.tasks.t2v("x", duration=7)
        assert (bad.value.status_code, bad.value.code, bad.value.param) == (
            400,
            "invalid_parameter",
            "duration",
        )
        with pytest.raises(BadRequestError) as nested:
            client.tasks.t2v("x", camera_control={"type": "simple", "config": {"pan": 11}})
        assert nested.value.param == "camera_control.config.pan"
        with pytest.raises(NotFoundError) as missing:
            client.tasks.get("task_missing")
        assert missing.value.code == "not_found"
        ext = f"dup-{uuid.uuid4().hex[:8]}"
        client.tasks.t2v("x", external_task_id=ext)
        with pytest.raises(ConflictError) as conflict:
            client.tasks.t2v("x", external_task_id=ext)
        assert conflict.value.param == "external_task_id"
        done = client.tasks.wait(next(iter(client.tasks.list(external_task_id=ext))))
        with pytest.raises(ConflictError):
            client.tasks.cancel(done.id)
    stranger = Client(kirin.base_url, "kirin_sk_" + "A" * 43)
    with stranger, pytest.raises(AuthenticationError) as denied:
        stranger.models.list()
    assert denied.value.status_code == 401
    assert isinstance(denied.value, APIError)


class _LoseFirstAnswer(httpx.BaseTransport):
    """Delivers the first create to the server, then drops the answer: a lost response."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.dropped = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and not self.dropped:
            self.dropped = True
            response.read()
            response.close()
            raise httpx.ReadError("connection reset after the server answered", request=request)
        return response


def test_a_create_whose_answer_was_lost_is_recovered(kirin: Kirin, key: str) -> None:
    ext = f"lost-{uuid.uuid4().hex[:8]}"
    transport = _LoseFirstAnswer()
    with Client(kirin.base_url, key, http_client=httpx.Client(transport=transport)) as client:
        task = client.tasks.t2v("a storm", external_task_id=ext)
        assert transport.dropped
        assert task.external_task_id == ext
        # Exactly one task was created for the two attempts.
        assert [t.id for t in client.tasks.list(external_task_id=ext)] == [task.id]
        assert client.tasks.wait(task.id, timeout=120).status == "completed"


def test_cancel_and_list_pages(client: Client) -> None:
    with client:
        created = [client.tasks.t2v(f"scene {i}", duration=10) for i in range(3)]
        cancelled = client.tasks.cancel(created[-1].id)
        assert cancelled.id == created[-1].id
        final = client.tasks.wait(cancelled, timeout=120)
        assert final.status in {"cancelled", "completed"}  # it may finish before the cancel
        page = client.tasks.list_page(limit=2)
        assert len(page.data) == 2
        assert page.next_cursor
        ids = [t.id for t in client.tasks.list(limit=1)]
        assert len(ids) == len(set(ids))
        assert {t.id for t in created} <= set(ids)
        for task in created[:-1]:
            client.tasks.wait(task, timeout=180)


def test_models_and_webhook_secret(client: Client) -> None:
    with client:
        assert "kirin_v1_t2v" in {m.id for m in client.models.list()}
        secret = client.webhook_secret()
        assert secret.startswith("whsec_")
        assert client.webhook_secret() == secret
    # The secret verifies what an independent signer signs with it (real callbacks arrive later).
    body = b'{"id": "task_1"}'
    mac = hmac.new(base64.b64decode(secret[6:]), b"m.100." + body, hashlib.sha256)
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": "100",
        "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode(),
    }
    assert verify_webhook(secret, headers, body, now=100) == {"id": "task_1"}
