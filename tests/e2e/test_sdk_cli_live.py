"""The SDK and the CLI on uploads and live events, against a real server that does not allow
private networks: ``client.uploads``, ``client.tasks.stream``/``wait`` (sync and async),
``kirin upload`` and ``--param video_url=@file``."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from kirin_api import AsyncClient, Client, NotFoundError, Task, WaitTimeoutError
from kirin_api.user_cli import user_app
from tests.e2e.harness import Kirin
from tests.media_factory import image_bytes, video_file

T2V = {"prompt": "a fox in snow", "aspect_ratio": "1:1"}


@pytest.fixture(scope="module")
def key(kirin: Kirin) -> str:
    return kirin.create_key(account="live")


def task_polls(kirin: Kirin) -> float:
    """GETs of one task answered so far (what polling costs)."""
    text = httpx.get(kirin.base_url + "/metrics").text
    pattern = (
        r'^kirin_http_requests_total\{method="GET",route="/model/v1/generation/task/'
        r'\{task_id\}",status="200"\} (\S+)$'
    )
    return sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))


def test_sdk_uploads_create_get_delete(kirin: Kirin, key: str, tmp_path: Path) -> None:
    clip = video_file(tmp_path / "fox.mp4", seconds=3.0, audio=False)
    with Client(kirin.base_url, key) as client:
        upload = client.uploads.create(clip)
        assert (upload.kind, upload.width, upload.height) == ("video", 480, 360)
        assert upload.duration == pytest.approx(3.0, abs=0.05)
        assert client.uploads.get(upload.id) == upload
        client.uploads.delete(upload.id)
        with pytest.raises(NotFoundError):
            client.uploads.get(upload.id)


def test_sdk_stream_and_wait_follow_the_task_live(kirin: Kirin, key: str) -> None:
    with Client(kirin.base_url, key) as client:
        created = client.tasks.create("kirin_v1_t2v", **T2V)
        states = list(client.tasks.stream(created))
        assert states[0].status in ("pending", "processing")
        assert states[-1].status == "completed"
        assert [s.progress for s in states] == sorted(s.progress for s in states)

        before = task_polls(kirin)
        seen: list[Task] = []
        done = client.tasks.create_and_wait("kirin_v1_t2v", on_update=seen.append, **T2V)
        assert done.status == "completed"
        assert done.video_url
        assert len(seen) >= 2
        # It streamed: not one poll of the task.
        assert task_polls(kirin) == before


@pytest.mark.slow
def test_sdk_wait_times_out_on_a_stream_with_the_last_state(kirin: Kirin, key: str) -> None:
    idle = Kirin(kirin.data_dir.parent / "idle-live")
    idle.start_server(workers=0)
    try:
        idle_key = idle.create_key()
        with Client(idle.base_url, idle_key) as client:
            task = client.tasks.create("kirin_v1_t2v", **T2V)
            with pytest.raises(WaitTimeoutError) as waited:
                client.tasks.wait(task, timeout=1.0)
            assert waited.value.task.id == task.id
            assert waited.value.task.status == "pending"
    finally:
        idle.stop()


def test_async_sdk_uploads_and_streams(kirin: Kirin, key: str) -> None:
    async def run() -> list[Task]:
        async with AsyncClient(kirin.base_url, key) as client:
            image = await client.uploads.create(kirin.data_dir.parent / "async.png")
            created = await client.tasks.create(
                "kirin_v1_i2v", image=image.url, prompt="a cat", duration="5"
            )
            states = [state async for state in client.tasks.stream(created.id)]
            waited = await client.tasks.wait(created.id)
            assert waited.status == "completed"
            return states

    (kirin.data_dir.parent / "async.png").write_bytes(image_bytes(800, 600))
    states = asyncio.run(run())
    assert states[-1].status == "completed", states[-1]


def test_cli_upload_prints_the_url_and_video_params_upload_first(
    kirin: Kirin, key: str, tmp_path: Path
) -> None:
    env = {"KIRIN_BASE_URL": kirin.base_url, "KIRIN_API_KEY": key}
    runner = CliRunner()
    picture = tmp_path / "me.png"
    picture.write_bytes(image_bytes(600, 900, seed=3))
    printed = runner.invoke(user_app, ["upload", str(picture)], env=env)
    assert printed.exit_code == 0, printed.output
    url = printed.stdout.strip()
    assert url.startswith(kirin.base_url + "/uploads/upl_")
    assert httpx.get(url).content == picture.read_bytes()

    clip = video_file(tmp_path / "fox.mp4", seconds=3.0, audio=False)
    made = runner.invoke(
        user_app,
        [
            "generate",
            "kirin_v3_motion_control",
            "-p",
            f"image_url={url}",
            "-p",
            f"video_url=@{clip}",
            "-p",
            "character_orientation=image",
            "-p",
            "mode=std",
            "--wait",
            "--quiet",
        ],
        env=env,
    )
    assert made.exit_code == 0, made.output
    task = json.loads(made.stdout)
    assert task["status"] == "completed", task
    assert task["metadata"]["frames"] == 90

    not_media = tmp_path / "notes.mov"
    not_media.write_text("not a video at all")
    refused = runner.invoke(user_app, ["upload", str(not_media)], env=env)
    assert refused.exit_code == 1
    assert "invalid_media" in refused.output
