"""The gateway: this server relays models to an upstream, here a second real kirin-api process
on the preview engine, reached through its Kling dialect (engine ``kling``) and its Kirin
dialect (engine ``kirin``). Real HTTP both ways; nothing of ours is mocked."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kirin_api.contract.registry import served_models
from kirin_api.media.probe import probe_video
from tests.e2e.harness import FINISHED, Kirin, fetch_video, free_port, submit, wait_for
from tests.file_server import FileServer
from tests.media_factory import b64, image_bytes, mask_bytes, video_file

pytestmark = pytest.mark.slow

PNG_800x600 = image_bytes(800, 600)
PNG_600x900 = image_bytes(600, 900, seed=3)
FAST = {"poll_interval": 0.2, "max_poll_interval": 0.5, "retry_seconds": 2, "defer_seconds": 0.5}


class Upstream:
    """A second kirin-api: its Kling key pair and its API key, of one account."""

    def __init__(self, server: Kirin) -> None:
        self.server = server
        self.access_key, self.secret_key = server.cli("keys", "create", "--kling").split()
        self.api_key = server.create_key()

    def tasks(self, external_task_id: str) -> list[dict[str, Any]]:
        with self.server.client(self.api_key) as client:
            page = client.get(
                "/model/v1/generation/tasks", params={"external_task_id": external_task_id}
            ).json()
        found: list[dict[str, Any]] = page["data"]
        return found


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def engines_file(path: Path, tables: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for model, table in tables.items():
        lines.append(f"[models.{model}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in table.items())
    path.write_text("\n".join(lines) + "\n")
    return path


def kling_table(upstream: Upstream, **more: Any) -> dict[str, Any]:
    return {
        "engine": "kling",
        "base_url": upstream.server.base_url,
        "access_key_env": "KLING_ACCESS_KEY",
        "secret_key_env": "KLING_SECRET_KEY",
        **FAST,
        **more,
    }


def kirin_table(upstream: Upstream, **more: Any) -> dict[str, Any]:
    return {
        "engine": "kirin",
        "base_url": upstream.server.base_url,
        "api_key_env": "KIRIN_UPSTREAM_KEY",
        **FAST,
        **more,
    }


def gateway(
    directory: Path, upstream: Upstream, tables: dict[str, dict[str, Any]], **env: str
) -> Kirin:
    directory.mkdir(parents=True, exist_ok=True)
    return Kirin(
        directory,
        env={
            "KIRIN_ENGINES_FILE": str(engines_file(directory / "engines.toml", tables)),
            "KIRIN_ALLOW_PRIVATE_NETWORKS": "true",
            "KLING_ACCESS_KEY": upstream.access_key,
            "KLING_SECRET_KEY": upstream.secret_key,
            "KIRIN_UPSTREAM_KEY": upstream.api_key,
            **env,
        },
    )


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    server = Kirin(
        tmp_path_factory.mktemp("upstream"), env={"KIRIN_ALLOW_PRIVATE_NETWORKS": "true"}
    )
    server.start_server(workers=1)
    yield Upstream(server)
    server.stop()


@pytest.fixture
def stopping() -> Iterator[list[Kirin]]:
    """Servers a test starts, stopped after it."""
    servers: list[Kirin] = []
    yield servers
    for server in servers:
        server.stop()


def started(servers: list[Kirin], server: Kirin, workers: int = 1) -> Kirin:
    servers.append(server)
    server.start_server(workers=workers)
    return server


def test_every_model_through_the_kling_dialect(
    upstream: Upstream,
    stopping: list[Kirin],
    files: FileServer,
    tmp_path: Path,
) -> None:
    tables = {model: kling_table(upstream) for model in served_models()}
    # The reference video is on loopback: this closed network lets the upstream fetch it.
    tables["kirin_v3_motion_control"]["forward_private_urls"] = True
    server = started(stopping, gateway(tmp_path / "gw", upstream, tables))
    key = server.create_key()
    reference = files.add("/ref.mp4", video_file(tmp_path / "ref.mp4", seconds=3.0).read_bytes())
    element = submit(
        server,
        key,
        {
            "model": "kirin_custom_elements",
            "element_name": "dancer",
            "reference_type": "image_refer",
            "element_image_list": {
                "frontal_image": b64(PNG_600x900),
                "refer_images": [{"image_url": files.add("/side.png", image_bytes(400, 400))}],
            },
        },
    )
    assert element["status"] == "completed", element
    element_id = element["output"][0]["content"][0]["element_id"]
    upstream_element = element["metadata"]["upstream_element_ids"]
    assert list(upstream_element) == [f"kling:{upstream.server.base_url}"]
    cases: list[tuple[dict[str, Any], tuple[int, int, int, bool]]] = [
        (
            {"model": "kirin_v1_t2v", "prompt": "a fox", "aspect_ratio": "1:1"},
            (720, 720, 150, False),
        ),
        (
            {
                "model": "kirin_v1_i2v",
                "image": files.add("/first.png", PNG_800x600),
                "image_tail": b64(image_bytes(800, 600, seed=9)),
                "watermark_info": {"enabled": True},
            },
            (960, 720, 150, False),
        ),
        (
            {
                "model": "kirin_v1_i2v",
                "image": b64(PNG_800x600),
                "static_mask": b64(mask_bytes(400, 300, (0, 0, 100, 100))),
                "dynamic_masks": [
                    {
                        "mask": b64(mask_bytes(400, 300, (200, 100, 260, 160))),
                        "trajectories": [{"x": 460, "y": 300}, {"x": 600, "y": 350}],
                    }
                ],
            },
            (960, 720, 150, False),
        ),
        (
            {
                "model": "kirin_v1_6_multi_i2v",
                "prompt": "two friends",
                "aspect_ratio": "9:16",
                "image_list": [{"image": b64(PNG_800x600)}, {"image": b64(PNG_600x900)}],
            },
            (720, 1280, 150, False),
        ),
        (
            {
                "model": "kirin_v3_i2v",
                "image": b64(PNG_600x900),
                "sound": "on",
                "duration": 4,
                "multi_shot": True,
                "shot_type": "customize",
                "multi_prompt": [
                    {"prompt": "<<<element_1>>> walks in", "duration": "2"},
                    {"prompt": "close up", "duration": "2"},
                ],
                "element_list": [{"element_id": element_id}],
            },
            (720, 1080, 120, True),
        ),
        (
            {
                "model": "kirin_v3_motion_control",
                "image_url": b64(PNG_600x900),
                "video_url": reference,
                "character_orientation": "image",
                "mode": "std",
            },
            (720, 1080, 90, True),
        ),
    ]
    for body, (width, height, frames, audio) in cases:
        task = submit(server, key, body)
        assert task["status"] == "completed", task
        info = probe_video(fetch_video(task, tmp_path / "v.mp4"))
        assert (info.width, info.height, info.frames, info.has_audio) == (
            width,
            height,
            frames,
            audio,
        )
        metadata = task["metadata"]
        assert metadata["engine"] == "kling"
        remote = upstream.tasks(task["id"])
        assert [t["id"] for t in remote] == [metadata["upstream_task_id"]]
        assert metadata["upstream_cost"] == remote[0]["usage"]["cost"]
        if body.get("watermark_info"):
            marked = httpx.get(task["output"][0]["content"][0]["watermark_url"], timeout=30)
            assert marked.status_code == 200
    # The workers of `kirin serve` log into the server's log.
    assert upstream.secret_key not in server.log_path.read_text()


def test_the_kirin_engine_passes_progress_through(
    upstream: Upstream, stopping: list[Kirin], tmp_path: Path
) -> None:
    fast = {"poll_interval": 0.1, "max_poll_interval": 0.2}
    server = started(
        stopping,
        gateway(tmp_path / "gw", upstream, {"kirin_v3_i2v": kirin_table(upstream, **fast)}),
    )
    key = server.create_key()
    body = {"model": "kirin_v3_i2v", "image": b64(PNG_800x600), "prompt": "go", "duration": 10}
    seen: list[dict[str, Any]] = []
    with server.client(key) as client:
        created = client.post("/model/v1/generation", json=body).json()
        done = wait_for(client, created["id"], seen=seen)
    assert done["status"] == "completed"
    assert done["metadata"]["engine"] == "kirin"
    progress = [t["progress"] for t in seen if t["status"] == "processing"]
    assert any(0.05 < p < 0.9 for p in progress), progress
    assert progress == sorted(progress)


def test_a_worker_killed_after_the_upstream_create_leaves_one_upstream_task(
    tmp_path: Path, stopping: list[Kirin]
) -> None:
    # An upstream without workers: its task waits, so the gateway's worker is killed mid-wait.
    upstream_server = started(
        stopping, Kirin(tmp_path / "up", env={"KIRIN_ALLOW_PRIVATE_NETWORKS": "true"}), workers=0
    )
    up = Upstream(upstream_server)
    server = started(
        stopping,
        gateway(tmp_path / "gw", up, {"kirin_v1_t2v": kling_table(up)}, KIRIN_LEASE_SECONDS="2"),
        workers=0,
    )
    key = server.create_key()
    worker = server.start_worker()
    with server.client(key) as client:
        task_id = client.post(
            "/model/v1/generation", json={"model": "kirin_v1_t2v", "prompt": "once"}
        ).json()["id"]
        deadline = time.monotonic() + 60
        while not up.tasks(task_id):
            assert time.monotonic() < deadline, "the upstream task was never created"
            time.sleep(0.1)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        upstream_server.start_worker()
        server.start_worker()
        done = wait_for(client, task_id)
    assert done["status"] == "completed", done
    assert len(up.tasks(task_id)) == 1
    record = server.store().get_task(_account(server), task_id)
    assert record is not None
    assert record.attempt == 2


def create_t2v(client: httpx.Client, count: int) -> list[str]:
    """Create ``count`` text-to-video tasks; their ids."""
    bodies = [{"model": "kirin_v1_t2v", "prompt": f"scene {n}"} for n in range(count)]
    return [client.post("/model/v1/generation", json=body).json()["id"] for body in bodies]


def _account(server: Kirin) -> str:
    account = server.store().get_account("default")
    assert account is not None
    return account.id


def test_max_concurrent_holds_the_rest_pending(tmp_path: Path, stopping: list[Kirin]) -> None:
    upstream_server = started(stopping, Kirin(tmp_path / "up"), workers=0)
    up = Upstream(upstream_server)
    server = started(
        stopping,
        gateway(tmp_path / "gw", up, {"kirin_v1_t2v": kling_table(up, max_concurrent=2)}),
        workers=3,
    )
    key = server.create_key()
    with server.client(key) as client:
        ids = create_t2v(client, 4)
        deadline = time.monotonic() + 60
        while sum(len(up.tasks(task_id)) for task_id in ids) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(2)  # time enough for a third to start, were the limit not held
        statuses = [client.get(f"/model/v1/generation/task/{i}").json()["status"] for i in ids]
        assert sorted(statuses) == ["pending", "pending", "processing", "processing"]
        assert sum(len(up.tasks(task_id)) for task_id in ids) == 2
        upstream_server.start_worker()
        finals = [wait_for(client, task_id)["status"] for task_id in ids]
    assert finals == ["completed"] * 4


def test_an_upstream_that_is_down_fails_the_task_with_095(
    upstream: Upstream, stopping: list[Kirin], tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    table = {**kling_table(upstream), "base_url": dead}
    server = started(stopping, gateway(tmp_path / "gw", upstream, {"kirin_v1_t2v": table}))
    task = submit(server, server.create_key(), {"model": "kirin_v1_t2v", "prompt": "x"})
    assert task["status"] == "failed"
    assert task["error"]["code"] == "002001095"
    assert "unavailable" in task["error"]["message"]
    assert dead in task["error"]["message"]


def test_an_upstream_at_its_limit_makes_the_task_wait_not_fail(
    tmp_path: Path, stopping: list[Kirin]
) -> None:
    upstream_server = started(stopping, Kirin(tmp_path / "up"), workers=0)
    upstream_server.cli("accounts", "create", "default")
    upstream_server.cli("accounts", "set-limit", "default", "--max-unfinished", "1")
    up = Upstream(upstream_server)
    server = started(
        stopping, gateway(tmp_path / "gw", up, {"kirin_v1_t2v": kling_table(up)}), workers=2
    )
    key = server.create_key()
    with server.client(key) as client:
        ids = create_t2v(client, 2)
        time.sleep(3)  # the second meets the upstream's 1303 and goes back to the queue
        upstream_server.start_worker()
        finals = [wait_for(client, task_id) for task_id in ids]
    assert [t["status"] for t in finals] == ["completed", "completed"]
    attempts = sorted(r.attempt for r in _records(server, ids))
    assert attempts[0] == 1
    assert attempts[1] > 1  # deferred and claimed again, without failing


def _records(server: Kirin, ids: list[str]) -> list[Any]:
    store = server.store()
    account = _account(server)
    return [store.get_task(account, task_id) for task_id in ids]


def test_bad_upstream_keys_fail_with_094_and_a_message_for_the_operator(
    upstream: Upstream, stopping: list[Kirin], tmp_path: Path
) -> None:
    server = started(
        stopping,
        gateway(
            tmp_path / "gw",
            upstream,
            {"kirin_v1_t2v": kling_table(upstream)},
            KLING_SECRET_KEY="sk_this_is_not_the_secret_of_that_access_key",
        ),
    )
    task = submit(server, server.create_key(), {"model": "kirin_v1_t2v", "prompt": "x"})
    assert task["status"] == "failed"
    assert task["error"]["code"] == "002001094"
    message = task["error"]["message"]
    assert "credentials" in message
    assert "KLING_SECRET_KEY" in message
    assert "1000" in message
    assert "sk_this_is_not" not in message


def test_a_model_falls_back_to_the_next_engine_on_094(
    upstream: Upstream, stopping: list[Kirin], tmp_path: Path
) -> None:
    chain = {
        **kling_table(upstream),
        **kirin_table(upstream),
        "engines": ["kling", "kirin"],
    }
    del chain["engine"]
    server = started(
        stopping,
        gateway(
            tmp_path / "gw",
            upstream,
            {"kirin_v1_t2v": chain},
            KLING_SECRET_KEY="sk_this_is_not_the_secret_of_that_access_key",
        ),
    )
    task = submit(server, server.create_key(), {"model": "kirin_v1_t2v", "prompt": "x"})
    assert task["status"] == "completed", task
    assert task["metadata"]["engine"] == "kirin"
    assert task["status"] in FINISHED
