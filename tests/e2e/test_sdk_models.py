"""Every model through the SDK against a real server, and real callbacks verified by the SDK."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kirin_api import AsyncClient, Client, Task, WebhookVerificationError, verify_webhook
from kirin_api.media.probe import probe_video
from tests.e2e.harness import Kirin
from tests.file_server import FileServer
from tests.media_factory import image_bytes, video_file
from tests.webhook_receiver import receive

pytestmark = pytest.mark.slow


# The shared server (conftest) may fetch from the tests' own loopback file server.
KIRIN_ENV = {"KIRIN_ALLOW_PRIVATE_NETWORKS": "true"}


@pytest.fixture(scope="module")
def key(kirin: Kirin) -> str:
    return kirin.create_key(account="sdk-models")


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pictures")
    made = {}
    for name, (width, height, seed) in {
        "landscape": (800, 600, 1),
        "portrait": (600, 900, 2),
        "square": (500, 500, 3),
    }.items():
        made[name] = folder / f"{name}.png"
        made[name].write_bytes(image_bytes(width, height, seed=seed))
    return made


def _video_size(client: Client, task: Task, path: Path) -> tuple[int, int, int, bool]:
    assert task.status == "completed", task.error
    client.tasks.download(task, path)
    info = probe_video(path)
    return info.width, info.height, info.frames, info.has_audio


def test_every_image_model_through_the_sync_client(
    kirin: Kirin, key: str, pictures: dict[str, Path], tmp_path: Path
) -> None:
    with Client(kirin.base_url, key) as client:
        i2v = client.tasks.wait(
            client.tasks.i2v(pictures["landscape"], image_tail=pictures["landscape"]), timeout=120
        )
        assert _video_size(client, i2v, tmp_path / "i2v.mp4") == (960, 720, 150, False)

        multi = client.tasks.wait(
            client.tasks.multi_i2v(
                [pictures["landscape"], pictures["square"]], "two friends", aspect_ratio="1:1"
            ),
            timeout=120,
        )
        assert _video_size(client, multi, tmp_path / "multi.mp4") == (720, 720, 150, False)

        element = client.tasks.wait(
            client.tasks.create_element(
                "hero", frontal_image=pictures["portrait"], refer_images=[pictures["square"]]
            ),
            timeout=60,
        )
        assert element.status == "completed"
        assert element.element_id is not None
        assert client.elements.get(element.element_id).element_name == "hero"

        v3 = client.tasks.wait(
            client.tasks.v3_i2v(
                pictures["portrait"],
                multi_prompt=[
                    {"prompt": "the hero waits", "duration": "2"},
                    {"prompt": "the hero runs", "duration": "2"},
                ],
                duration=4,
                sound="on",
                element_list=[element.element_id],
            ),
            timeout=120,
        )
        assert _video_size(client, v3, tmp_path / "v3.mp4") == (720, 1080, 120, True)


def test_motion_control_through_the_async_client(
    kirin: Kirin, key: str, files: FileServer, pictures: dict[str, Path], tmp_path: Path
) -> None:
    reference = video_file(tmp_path / "dance.mp4", seconds=3, audio=True)
    url = files.add("/dance.mp4", reference.read_bytes())

    async def run() -> Task:
        async with AsyncClient(kirin.base_url, key) as client:
            created = await client.tasks.motion_control(
                pictures["portrait"], url, character_orientation="image", mode="std"
            )
            task = await client.tasks.wait(created, timeout=120)
            await client.tasks.download(task, tmp_path / "motion.mp4")
            return task

    task = asyncio.run(run())
    assert task.status == "completed"
    info = probe_video(tmp_path / "motion.mp4")
    assert (info.width, info.height, info.frames, info.has_audio) == (720, 1080, 90, True)


def test_verify_webhook_accepts_the_servers_real_callbacks(kirin: Kirin, key: str) -> None:
    with Client(kirin.base_url, key) as client, receive() as receiver:
        secret = client.webhook_secret()
        task = client.tasks.create_and_wait(
            model="kirin_v1_t2v", prompt="a signed sunrise", callback_url=receiver.url, timeout=120
        )
        hits = receiver.wait_for(lambda hits: len(hits) >= 3, timeout=60)
    statuses = []
    for hit in hits:
        body = verify_webhook(secret, hit.headers, hit.body)
        assert body["id"] == task.id
        statuses.append(body["status"])
    assert statuses[:3] == ["pending", "processing", "completed"]
    tampered = hits[0].body.replace(b"pending", b"complete")
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, hits[0].headers, tampered)
