"""Fetching is not rendering: one worker, real hostile HTTP servers, a real SQLite store.

Deadlines are scaled down (seconds, not the default minute) to keep the suite fast while proving
the same properties: a task's URLs are fetched at once under one task deadline; tasks stuck on
slow URLs do not hold up a normal task queued behind them; a cancel during a fetch ends the task
``cancelled`` within a second; broken audio that is to be kept fails with ``...099``, cleanly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kirin_api.contract.errors import TaskErrorKind, TaskFailure, task_error_code
from kirin_api.contract.job import RenderJob
from kirin_api.contract.pricing import PricingTable
from kirin_api.contract.registry import validate_request
from kirin_api.contract.status import TaskStatus
from kirin_api.engines.base import Frame, RenderCancelled, RenderControl, RenderOutput
from kirin_api.net.fetch import SafeFetcher
from kirin_api.storage.local import LocalBlobStorage
from kirin_api.store import NewTask, SqliteTaskStore, TaskRecord
from kirin_api.store.base import WorkerInfo
from kirin_api.worker.inputs import InputPreparer
from kirin_api.worker.prefetch import peer_is_idle
from kirin_api.worker.runner import Worker, WorkerConfig
from tests.file_server import FileServer, serve_files
from tests.media_factory import broken_audio_video, image_bytes, mask_bytes

I2V = "kirin_v1_i2v"
MOTION = "kirin_v3_motion_control"


class FlatEngine:
    """Grey frames of the job's size, at once (the render is not what these tests measure)."""

    name = "flat"
    delay = 0.0
    produced = 0

    def supports(self, model: str) -> bool:
        return True

    def render(self, job: RenderJob, control: RenderControl) -> RenderOutput:
        def frames() -> Iterator[Frame]:
            frame = np.full((job.spec.height, job.spec.width, 3), 90, np.uint8)
            for _ in range(job.spec.frames):
                control.check()
                time.sleep(self.delay)
                self.produced += 1
                yield frame

        return RenderOutput(frames=frames())


@pytest.fixture
def store(tmp_path: Path) -> SqliteTaskStore:
    instance = SqliteTaskStore(tmp_path / "kirin.db")
    instance.migrate()
    return instance


@pytest.fixture
def files() -> Iterator[FileServer]:
    with serve_files() as server:
        yield server


def submit(store: SqliteTaskStore, model: str, **params: Any) -> TaskRecord:
    account = store.ensure_account("default")
    request = validate_request({"model": model, **params})
    return store.create_task(
        NewTask(
            id=f"task_{time.time_ns()}",
            account_id=account.id,
            model=model,
            params=request.params,
            external_task_id=None,
            callback_url=None,
            created_at=time.time(),
        )
    )


def preparer(store: SqliteTaskStore, tmp_path: Path, deadline: float) -> InputPreparer:
    storage = LocalBlobStorage(tmp_path / "files")
    return InputPreparer(storage, SafeFetcher(allow_private=True), store, fetch_deadline=deadline)


@pytest.fixture
def run_worker(store: SqliteTaskStore, tmp_path: Path) -> Iterator[Any]:
    stops: list[tuple[threading.Event, threading.Thread]] = []

    def start(deadline: float, prefetch_tasks: int = 4, engine: object = None) -> None:
        worker = Worker(
            store,
            LocalBlobStorage(tmp_path / "files"),
            {I2V: engine or FlatEngine()},  # type: ignore[dict-item]
            PricingTable.default(),
            WorkerConfig(
                scratch_dir=tmp_path / "scratch",
                worker_id="w1",
                lease_seconds=2.0,
                poll_interval=0.1,
                prefetch_tasks=prefetch_tasks,
            ),
            preparer(store, tmp_path, deadline),
        )
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,))
        thread.start()
        stops.append((stop, thread))

    yield start
    for stop, thread in stops:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive()


# The goal is a second (a heartbeat every 0.5 s, then the fetch, render or encode stops at
# once); the assertions leave half a second more for a loaded machine.
WITHIN_A_SECOND = 1.5


def wait_for(store: SqliteTaskStore, task: TaskRecord, *done: TaskStatus, within: float) -> float:
    """Seconds until ``task`` reached one of ``done`` (fails after ``within``)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        record = store.get_task(task.account_id, task.id)
        assert record is not None
        if record.status in done:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{task.id} not {done} within {within} s")


def i2v_with_eight_urls(files: FileServer, seconds: float) -> dict[str, Any]:
    box = (50, 50, 150, 150)
    trickle = files.add_trickle
    return {
        "image": trickle("/image.png", image_bytes(400, 300), seconds),
        "static_mask": trickle("/static.png", mask_bytes(400, 300, box), seconds),
        "dynamic_masks": [
            {
                "mask": trickle(f"/dynamic-{i}.png", mask_bytes(400, 300, box), seconds),
                "trajectories": [{"x": 60, "y": 60}, {"x": 120, "y": 90}],
            }
            for i in range(6)
        ],
        "duration": "5",
    }


@pytest.mark.slow
def test_eight_trickling_urls_finish_within_the_task_deadline(
    store: SqliteTaskStore, files: FileServer, run_worker: Any
) -> None:
    # Each URL trickles a valid file over 1.5 s: 12 s one after another, 1.5 s all at once;
    # the task deadline (6 s, room for a loaded machine) lies between.
    task = submit(store, I2V, **i2v_with_eight_urls(files, seconds=1.5))
    run_worker(deadline=6.0)
    wait_for(store, task, TaskStatus.COMPLETED, TaskStatus.FAILED, within=60)
    record = store.get_task(task.account_id, task.id)
    assert record is not None
    assert record.status is TaskStatus.COMPLETED, record.error_message
    assert sum(files.hits.values()) == 8


@pytest.mark.slow
def test_slow_url_tasks_do_not_hold_up_a_normal_task_and_cancel_cuts_their_fetch(
    store: SqliteTaskStore, files: FileServer, run_worker: Any
) -> None:
    stalled = [
        submit(store, I2V, image=files.add_stall(f"/stall-{i}.png"), prompt="x") for i in range(3)
    ]
    normal = submit(store, I2V, image=files.add("/ok.png", image_bytes(400, 300)), prompt="y")
    run_worker(deadline=30.0)
    # One after another, the normal task would wait 3 x 30 s for the stalled ones.
    took = wait_for(store, normal, TaskStatus.COMPLETED, TaskStatus.FAILED, within=20)
    assert store.get_task(normal.account_id, normal.id).status is TaskStatus.COMPLETED  # type: ignore[union-attr]
    assert took < 20
    for task in stalled:
        record = store.get_task(task.account_id, task.id)
        assert record is not None
        assert record.status is TaskStatus.PROCESSING
    # Cancel during the fetch: each ends cancelled within a second, not at its deadline.
    for task in stalled:
        store.request_cancel(task.account_id, task.id)
        assert wait_for(store, task, TaskStatus.CANCELLED, within=5) < WITHIN_A_SECOND


def test_the_task_deadline_fails_a_stalled_fetch_with_097(
    store: SqliteTaskStore, files: FileServer, tmp_path: Path
) -> None:
    task = submit(store, I2V, image=files.add_stall("/stall.png"))
    workdir = tmp_path / "work"
    workdir.mkdir()
    started = time.monotonic()
    with pytest.raises(TaskFailure) as caught:
        preparer(store, tmp_path, deadline=0.5).prepare(task, workdir)
    assert time.monotonic() - started < 5.0
    assert caught.value.kind is TaskErrorKind.HTTP_ERROR
    assert caught.value.message == "image: the task's inputs were not all fetched within 0.5 s"


def test_a_name_resolving_to_a_private_address_fails_097_saying_how_to_upload(
    store: SqliteTaskStore, tmp_path: Path
) -> None:
    # A name is checked when fetched (no DNS at submit): its 097 says what to do instead.
    task = submit(store, I2V, image="https://files.example/local.png")
    fetcher = SafeFetcher(resolver=lambda host, port: ["10.0.0.7"])
    workdir = tmp_path / "work"
    workdir.mkdir()
    preparer = InputPreparer(LocalBlobStorage(tmp_path / "files"), fetcher, store)
    with pytest.raises(TaskFailure) as caught:
        preparer.prepare(task, workdir)
    assert caught.value.kind is TaskErrorKind.HTTP_ERROR
    message = caught.value.message
    assert message.startswith("image: refused address 10.0.0.7 (for files.example) (private)")
    assert "POST /model/v1/uploads" in message
    assert "kirin upload FILE" in message
    assert "KIRIN_ALLOW_PRIVATE_NETWORKS" in message


def test_broken_audio_to_keep_fails_with_099_and_a_clean_message(
    store: SqliteTaskStore, files: FileServer, tmp_path: Path
) -> None:
    video = broken_audio_video(tmp_path / "broken.mp4", width=352, height=352, seconds=3.2)
    task = submit(
        store,
        MOTION,
        image_url=files.add("/person.png", image_bytes(400, 600)),
        video_url=files.add("/dance.mp4", video.read_bytes()),
        character_orientation="image",
        mode="std",
        keep_original_sound="yes",
    )
    workdir = tmp_path / "scratch" / "work"
    workdir.mkdir(parents=True)
    with pytest.raises(TaskFailure) as caught:
        preparer(store, tmp_path, deadline=10).prepare(task, workdir)
    assert caught.value.kind is TaskErrorKind.TASK_CREATION
    assert task_error_code(MOTION, caught.value.kind).endswith("099")
    assert caught.value.message.startswith("video_url: cannot decode the audio track")
    assert str(tmp_path) not in caught.value.message


def test_cancel_during_the_render_and_encode_ends_the_task_within_a_second(
    store: SqliteTaskStore, files: FileServer, run_worker: Any
) -> None:
    engine = FlatEngine()
    engine.delay = 0.05  # 150 frames: 7.5 s if nothing stopped it
    task = submit(store, I2V, image=files.add("/ok.png", image_bytes(400, 300)))
    run_worker(deadline=10.0, engine=engine)
    while engine.produced < 5:
        time.sleep(0.01)
    store.request_cancel(task.account_id, task.id)
    assert wait_for(store, task, TaskStatus.CANCELLED, within=5) < WITHIN_A_SECOND
    assert engine.produced < 100


def test_a_ready_task_waiting_for_the_render_slot_is_cancelled_within_a_second(
    store: SqliteTaskStore, files: FileServer, run_worker: Any
) -> None:
    engine = FlatEngine()
    engine.delay = 0.05
    image = files.add("/ok.png", image_bytes(400, 300))
    rendering = submit(store, I2V, image=image)
    waiting = submit(store, I2V, image=image)
    run_worker(deadline=10.0, engine=engine)
    while engine.produced < 5:
        time.sleep(0.01)
    # The second task is claimed and its inputs fetched while the first renders.
    wait_for(store, waiting, TaskStatus.PROCESSING, within=5)
    time.sleep(0.3)
    store.request_cancel(waiting.account_id, waiting.id)
    assert wait_for(store, waiting, TaskStatus.CANCELLED, within=5) < WITHIN_A_SECOND
    record = store.get_task(rendering.account_id, rendering.id)
    assert record is not None
    assert record.status is TaskStatus.PROCESSING  # still rendering: it was not waited for
    store.request_cancel(rendering.account_id, rendering.id)
    wait_for(store, rendering, TaskStatus.CANCELLED, within=5)


def test_a_cancel_between_probes_stops_the_checks(
    store: SqliteTaskStore, files: FileServer, tmp_path: Path
) -> None:
    # The probe of each input is bounded (headers first, two frames at most); between inputs
    # the task's control is asked, so a cancel is seen before the next probe.
    task = submit(store, I2V, **i2v_with_eight_urls(files, seconds=0.0))
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        if len(calls) > 9:  # after the 8 URLs are set up and the first probe is done
            raise RenderCancelled

    workdir = tmp_path / "work"
    workdir.mkdir()
    with pytest.raises(RenderCancelled):
        preparer(store, tmp_path, deadline=10).prepare(task, workdir, check)
    assert len(calls) == 10


def test_an_idle_peer_leaves_the_queue_to_it(store: SqliteTaskStore) -> None:
    now = time.time()

    def register(worker_id: str, models: list[str], current: str | None, seen: float) -> None:
        store.register_worker(WorkerInfo(worker_id, "host", 1, models, {}, "v", now, seen, current))
        if current is not None:
            store.beat_worker(worker_id, current)

    register("me", [I2V], None, now)
    assert not peer_is_idle(store, "me", [I2V], stale_after=30)
    register("busy", [I2V], "task_1", now)
    register("other-models", ["kirin_v1_t2v"], None, now)
    assert not peer_is_idle(store, "me", [I2V], stale_after=30)
    register("idle", [I2V], None, now)
    assert peer_is_idle(store, "me", [I2V], stale_after=30)
    assert not peer_is_idle(store, "me", [I2V], stale_after=1e-9)  # silent: not live
