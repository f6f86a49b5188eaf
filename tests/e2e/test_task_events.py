"""Live events of a task (SSE) and ``Prefer: wait`` over real HTTP."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Kirin, wait_for

T2V = {"model": "kirin_v1_t2v", "prompt": "a fox in snow", "aspect_ratio": "1:1"}


@pytest.fixture(scope="module")
def key(kirin: Kirin) -> str:
    return kirin.create_key("watcher")


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kirin]:
    """A server without workers: its tasks stay pending until cancelled."""
    server = Kirin(tmp_path_factory.mktemp("idle"), env={"KIRIN_EVENTS_KEEPALIVE_SECONDS": "0.5"})
    server.start_server(workers=0)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def idle_key(idle: Kirin) -> str:
    return idle.create_key()


def events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """("event name", parsed data) per event, and ("comment", text) per comment line."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif "data" in fields:
            # The SSE id beside the task object, under a key the task object does not have.
            data = {**json.loads(fields["data"]), "event_id": fields.get("id")}
            yield fields.get("event", "message"), data
            fields = {}
        else:
            fields = {}


def follow(server: Kirin, key: str, task_id: str, **headers: str) -> list[dict[str, Any]]:
    """Every task event of a stream, to its end."""
    seen = []
    with (
        server.client(key) as client,
        client.stream(
            "GET", f"/model/v1/generation/task/{task_id}/events", headers=headers
        ) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for name, data in events(response):
            if name == "task":
                seen.append(data)
    return seen


def create(server: Kirin, key: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    with server.client(key) as client:
        return client.post("/model/v1/generation", json=body, headers=headers)


def open_streams(server: Kirin) -> float:
    text = httpx.get(server.base_url + "/metrics").text
    match = re.search(r"^kirin_event_streams (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_a_stream_follows_a_task_to_completed_and_ends(kirin: Kirin, key: str) -> None:
    task = create(kirin, key, T2V).json()
    started = time.monotonic()
    seen = follow(kirin, key, task["id"])
    assert seen[-1]["status"] == "completed"
    assert seen[-1]["output"][0]["content"][0]["url"]
    assert [t for t in seen if t["status"] in ("completed", "failed", "cancelled")] == seen[-1:]
    progress = [t["progress"] for t in seen]
    assert progress == sorted(progress)
    assert len({(t["status"], t["progress"]) for t in seen}) == len(seen)  # only changes
    assert time.monotonic() - started < 120
    # The last event is what GET answers (less the signed links, made fresh on each answer).
    with kirin.client(key) as client:
        got = client.get(f"/model/v1/generation/task/{task['id']}").json()
    last = {k: v for k, v in seen[-1].items() if k not in ("output", "event_id")}
    assert last == {k: v for k, v in got.items() if k != "output"}


def test_a_stream_ends_on_failed(kirin: Kirin, key: str) -> None:
    # A name that never resolves (RFC 2606's .invalid) fails at fetch time, with 097.
    url = "http://images.kirin-test.invalid/fox.png"
    task = create(kirin, key, {"model": "kirin_v1_i2v", "image": url, "prompt": "x"}).json()
    seen = follow(kirin, key, task["id"])
    assert seen[-1]["status"] == "failed"
    assert seen[-1]["error"]["code"] == "002002097"


def test_a_stream_ends_on_cancelled_and_keeps_alive_meanwhile(idle: Kirin, idle_key: str) -> None:
    task = create(idle, idle_key, T2V).json()
    seen: list[str] = []
    with (
        idle.client(idle_key) as client,
        client.stream("GET", f"/model/v1/generation/task/{task['id']}/events") as response,
    ):
        for name, data in events(response):
            seen.append(data if name == "comment" else data["status"])
            if seen == ["pending", "keep-alive", "keep-alive"]:  # idle a while: cancel it
                cancel = client.post(f"/model/v1/generation/task/{task['id']}/cancel")
                assert cancel.status_code == 200
    assert seen[:3] == ["pending", "keep-alive", "keep-alive"]
    # A keep-alive may come between the cancel and the poll that sees it.
    assert [s for s in seen[3:] if s != "keep-alive"] == ["cancelled"]
    assert seen[-1] == "cancelled"


def test_another_api_process_streams_what_a_worker_does(
    kirin: Kirin, key: str, tmp_path: Path
) -> None:
    # A second API process on the same database, without workers: it sees the task through
    # the database only.
    second = Kirin(kirin.data_dir)
    second.log_path = tmp_path / "second.log"
    second.start_server(workers=0)
    try:
        task = create(kirin, key, T2V).json()
        seen = follow(second, key, task["id"])
        assert seen[0]["status"] in ("pending", "processing")
        assert seen[-1]["status"] == "completed"
    finally:
        second.stop()


def test_last_event_id_skips_what_the_client_has(idle: Kirin, idle_key: str) -> None:
    task = create(idle, idle_key, T2V).json()
    path = f"/model/v1/generation/task/{task['id']}/events"
    with idle.client(idle_key) as client:
        with client.stream("GET", path) as response:
            name, first = next(events(response))
        assert (name, first["status"]) == ("task", "pending")
        # Reconnecting with that id: no event until something changes, only keep-alives.
        with client.stream("GET", path, headers={"Last-Event-ID": first["event_id"]}) as response:
            name, _ = next(events(response))
        assert name == "comment"
        client.post(f"/model/v1/generation/task/{task['id']}/cancel")
        with client.stream("GET", path, headers={"Last-Event-ID": first["event_id"]}) as response:
            final = [data for name, data in events(response) if name == "task"]
        assert [t["status"] for t in final] == ["cancelled"]
        # A client that has the finished state is told to stop reconnecting (EventSource: 204).
        done = client.get(path, headers={"Last-Event-ID": final[0]["event_id"]})
        assert done.status_code == 204


def test_a_dropped_client_is_let_go(idle: Kirin, idle_key: str) -> None:
    task = create(idle, idle_key, T2V).json()
    with (
        idle.client(idle_key) as client,
        client.stream("GET", f"/model/v1/generation/task/{task['id']}/events") as response,
    ):
        stream = events(response)  # kept: dropping the iterator would close the connection
        assert next(stream)[0] == "task"
        assert open_streams(idle) == 1
    deadline = time.monotonic() + 10
    while open_streams(idle) != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_streams(idle) == 0
    assert idle.client(idle_key).get("/healthz").status_code == 200


def test_other_accounts_and_unknown_tasks_get_404(idle: Kirin, idle_key: str) -> None:
    task = create(idle, idle_key, T2V).json()
    other = idle.create_key("other")
    with idle.client(other) as client:
        answer = client.get(f"/model/v1/generation/task/{task['id']}/events")
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
        assert client.get("/model/v1/generation/task/task_nope/events").status_code == 404


def test_prefer_wait_times_out_with_the_pending_task(idle: Kirin, idle_key: str) -> None:
    started = time.monotonic()
    answer = create(idle, idle_key, T2V, Prefer="wait=1")
    took = time.monotonic() - started
    assert answer.status_code == 200
    assert answer.headers["preference-applied"] == "wait=1"
    assert answer.json()["status"] == "pending"
    assert 1.0 <= took < 5
    capped = create(idle, idle_key, T2V, Prefer="respond-async, wait=0")
    assert capped.headers["preference-applied"] == "wait=0"
    plain = create(idle, idle_key, T2V)
    assert "preference-applied" not in plain.headers


def test_prefer_wait_answers_the_finished_task(kirin: Kirin, key: str) -> None:
    answer = create(kirin, key, T2V, Prefer="wait=60")
    assert answer.headers["preference-applied"] == "wait=60"
    task = answer.json()
    assert task["status"] == "completed", task
    assert task["output"][0]["content"][0]["url"]
    assert wait_for(kirin.client(key), task["id"])["status"] == "completed"


@pytest.mark.slow
@pytest.mark.parametrize("api_processes", [1, 2])
def test_open_streams_do_not_hold_a_shutdown(fresh_kirin: Kirin, api_processes: int) -> None:
    fresh_kirin.start_server(0, "--api-processes", str(api_processes))
    key = fresh_kirin.create_key()
    task = create(fresh_kirin, key, T2V).json()
    ended = threading.Event()

    def listen() -> None:
        with (
            fresh_kirin.client(key) as client,
            client.stream("GET", f"/model/v1/generation/task/{task['id']}/events") as response,
        ):
            for _ in response.iter_lines():
                pass
        ended.set()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    deadline = time.monotonic() + 10
    while open_streams(fresh_kirin) != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fresh_kirin.server is not None
    fresh_kirin.server.send_signal(signal.SIGTERM)
    # The stream ends (its client would reconnect elsewhere) and the server exits at once.
    # (uvicorn re-raises the signal once it has shut down: the status is the signal's)
    assert fresh_kirin.server.wait(timeout=10) in (0, -signal.SIGTERM)
    assert ended.wait(timeout=5)
