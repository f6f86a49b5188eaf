"""The worker against a real SQLite store: every way a render ends is written to the task."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from kirin_api.contract.job import RenderJob
from kirin_api.contract.pricing import PricingTable
from kirin_api.contract.registry import validate_request
from kirin_api.contract.status import TaskStatus
from kirin_api.engines.base import Frame, RenderControl, RenderOutput
from kirin_api.engines.preview import PreviewEngine
from kirin_api.media.probe import probe_video
from kirin_api.net.fetch import SafeFetcher
from kirin_api.storage.local import LocalBlobStorage
from kirin_api.store import NewTask, SqliteTaskStore, TaskRecord
from kirin_api.worker.inputs import InputPreparer
from kirin_api.worker.runner import Worker, WorkerConfig

MODEL = "kirin_v1_t2v"


class ScriptedEngine:
    """An engine whose frames come from a function of the frame index (a test double)."""

    name = "scripted"

    def __init__(self, frame: Callable[[int, RenderJob], Frame]) -> None:
        self._frame = frame

    def supports(self, model: str) -> bool:
        return model == MODEL

    def render(self, job: RenderJob, control: RenderControl) -> RenderOutput:
        def frames() -> Iterator[Frame]:
            for index in range(job.spec.frames):
                control.check()
                yield self._frame(index, job)

        return RenderOutput(frames=frames())


def gray(index: int, job: RenderJob) -> Frame:
    return np.full((job.spec.height, job.spec.width, 3), index % 256, np.uint8)


@pytest.fixture
def store(tmp_path: Path) -> SqliteTaskStore:
    instance = SqliteTaskStore(tmp_path / "kirin.db")
    instance.migrate()
    return instance


def submit(store: SqliteTaskStore, **params: object) -> TaskRecord:
    account = store.ensure_account("default")
    request = validate_request({"model": MODEL, "prompt": "a quiet lake", **params})
    return store.create_task(
        NewTask(
            id=f"task_{time.time_ns()}",
            account_id=account.id,
            model=MODEL,
            params=request.params,
            external_task_id=None,
            callback_url=None,
            created_at=time.time(),
        )
    )


def make_worker(
    store: SqliteTaskStore, tmp_path: Path, engine: object, lease_seconds: float = 60
) -> Worker:
    storage = LocalBlobStorage(tmp_path / "files")
    return Worker(
        store,
        storage,
        {MODEL: engine},  # type: ignore[dict-item]
        PricingTable.default(),
        WorkerConfig(scratch_dir=tmp_path / "scratch", worker_id="w1", lease_seconds=lease_seconds),
        InputPreparer(storage, SafeFetcher(), store),
    )


def reload(store: SqliteTaskStore, task: TaskRecord) -> TaskRecord:
    record = store.get_task(task.account_id, task.id)
    assert record is not None
    return record


def test_preview_task_completes_with_a_stored_verified_video(
    store: SqliteTaskStore, tmp_path: Path
) -> None:
    task = submit(store, aspect_ratio="1:1", watermark_info={"enabled": True})
    make_worker(store, tmp_path, PreviewEngine()).run_once()
    done = reload(store, task)
    assert done.status is TaskStatus.COMPLETED
    assert done.usage_cost == "0.1400"
    assert done.result is not None
    content = done.result["content"][0]
    info = probe_video(tmp_path / "files" / content["key"])
    assert (info.width, info.height, info.frames) == (720, 720, 150)
    assert (tmp_path / "files" / content["watermark_key"]).is_file()
    assert not any((tmp_path / "scratch").iterdir()), "scratch files are removed"


def test_engine_error_fails_the_task_with_095(store: SqliteTaskStore, tmp_path: Path) -> None:
    def broken(index: int, job: RenderJob) -> Frame:
        raise RuntimeError("the sampler exploded")

    task = submit(store)
    make_worker(store, tmp_path, ScriptedEngine(broken)).run_once()
    failed = reload(store, task)
    assert failed.status is TaskStatus.FAILED
    assert failed.error_code == "002001095"
    assert "the sampler exploded" in (failed.error_message or "")


def test_out_of_memory_fails_the_task_with_094(store: SqliteTaskStore, tmp_path: Path) -> None:
    def hungry(index: int, job: RenderJob) -> Frame:
        raise MemoryError

    task = submit(store)
    make_worker(store, tmp_path, ScriptedEngine(hungry)).run_once()
    assert reload(store, task).error_code == "002001094"


def test_frames_of_the_wrong_size_fail_the_task(store: SqliteTaskStore, tmp_path: Path) -> None:
    def small(index: int, job: RenderJob) -> Frame:
        return np.zeros((64, 64, 3), np.uint8)

    task = submit(store)
    make_worker(store, tmp_path, ScriptedEngine(small)).run_once()
    failed = reload(store, task)
    assert failed.status is TaskStatus.FAILED
    assert failed.error_code == "002001095"


def test_cancel_reaches_a_running_render(store: SqliteTaskStore, tmp_path: Path) -> None:
    rendered: list[int] = []

    def slow(index: int, job: RenderJob) -> Frame:
        rendered.append(index)
        time.sleep(0.02)
        return gray(index, job)

    task = submit(store, duration=10)
    worker = make_worker(store, tmp_path, ScriptedEngine(slow), lease_seconds=0.4)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    while len(rendered) < 10:
        time.sleep(0.01)
    store.request_cancel(task.account_id, task.id)
    thread.join(timeout=30)
    cancelled = reload(store, task)
    assert cancelled.status is TaskStatus.CANCELLED
    assert len(rendered) < 300, "the render stopped early"
    assert not (tmp_path / "files" / "results").exists()


def test_a_worker_that_lost_its_lease_cannot_overwrite_the_task(
    store: SqliteTaskStore, tmp_path: Path
) -> None:
    clock_offset = [0.0]
    store = SqliteTaskStore(store.path, clock=lambda: time.time() + clock_offset[0])
    task = submit(store)
    taken_over = threading.Event()

    def hijacked(index: int, job: RenderJob) -> Frame:
        if index == 5:
            # Time jumps past the lease and a second worker claims the task.
            clock_offset[0] = 3600.0
            assert store.claim("w2", [MODEL], 60, 3) is not None
            taken_over.set()
        return gray(index, job)

    make_worker(store, tmp_path, ScriptedEngine(hijacked)).run_once()
    assert taken_over.is_set()
    record = reload(store, task)
    assert record.status is TaskStatus.PROCESSING
    assert record.worker_id == "w2"
    assert record.attempt == 2
