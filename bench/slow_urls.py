"""Slow URLs cost their own task's time: one worker, real HTTP servers that trickle and drip.

Run: ``.venv/bin/python bench/slow_urls.py`` (about three minutes, mostly waiting on the network;
``--drip-tasks N`` to change the second scenario). One in-process worker with the defaults of
``kirin worker`` (fetch deadline 60 s, 8 tasks prefetched), the preview engine, SQLite:

1. a ``kirin_v1_i2v`` task whose 8 URLs (image, static mask, 6 dynamic masks) each trickle a
   valid file over 28 s. Figure: submit to ``completed``. Goal: within the task deadline (60 s);
   one URL after another it would be 8 x 28 s.
2. ``--drip-tasks`` (20) tasks whose image URL drips a byte a second for ever, then 2 normal
   tasks. Figures: submit to ``completed`` of the normal tasks, and to ``failed`` (097) of the
   dripping ones. Baseline in the same run: the normal task alone on an idle worker.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

import argparse  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from tests.file_server import FileServer, serve_files  # noqa: E402
from tests.media_factory import image_bytes, mask_bytes  # noqa: E402

from kirin_api.contract.pricing import PricingTable  # noqa: E402
from kirin_api.contract.registry import validate_request  # noqa: E402
from kirin_api.contract.status import TaskStatus  # noqa: E402
from kirin_api.engines.preview import PreviewEngine  # noqa: E402
from kirin_api.net.fetch import SafeFetcher  # noqa: E402
from kirin_api.storage.local import LocalBlobStorage  # noqa: E402
from kirin_api.store import NewTask, SqliteTaskStore, TaskRecord  # noqa: E402
from kirin_api.worker.inputs import InputPreparer  # noqa: E402
from kirin_api.worker.runner import Worker, WorkerConfig  # noqa: E402

I2V = "kirin_v1_i2v"
FINISHED = {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}


def submit(store: SqliteTaskStore, params: dict[str, Any]) -> tuple[TaskRecord, float]:
    account = store.ensure_account("default")
    request = validate_request({"model": I2V, **params})
    task = store.create_task(
        NewTask(
            id=f"task_{time.time_ns()}",
            account_id=account.id,
            model=I2V,
            params=request.params,
            external_task_id=None,
            callback_url=None,
            created_at=time.time(),
        )
    )
    return task, time.monotonic()


def finish(store: SqliteTaskStore, task: TaskRecord, since: float) -> tuple[str, float]:
    while True:
        record = store.get_task(task.account_id, task.id)
        assert record is not None
        if record.status in FINISHED:
            return record.status.value, time.monotonic() - since
        time.sleep(0.05)


def with_worker(scratch: Path, body: Any) -> Any:
    store = SqliteTaskStore(scratch / "kirin.db")
    store.migrate()
    storage = LocalBlobStorage(scratch / "files")
    worker = Worker(
        store,
        storage,
        {I2V: PreviewEngine()},
        PricingTable.default(),
        WorkerConfig(scratch_dir=scratch / "scratch", worker_id="bench"),
        InputPreparer(storage, SafeFetcher(allow_private=True), store),
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        return body(store)
    finally:
        stop.set()
        thread.join()


def eight_trickles(files: FileServer, scratch: Path) -> None:
    box = (50, 50, 150, 150)

    def body(store: SqliteTaskStore) -> None:
        trickle = files.add_trickle
        params = {
            "image": trickle("/image.png", image_bytes(400, 300), 28.0),
            "static_mask": trickle("/static.png", mask_bytes(400, 300, box), 28.0),
            "dynamic_masks": [
                {
                    "mask": trickle(f"/dynamic-{i}.png", mask_bytes(400, 300, box), 28.0),
                    "trajectories": [{"x": 60, "y": 60}, {"x": 120, "y": 90}],
                }
                for i in range(6)
            ],
            "duration": "5",
        }
        status, took = finish(store, *submit(store, params))
        print(f"8 URLs at 28 s each: {status} after {took:.1f} s (one after another: 224 s)")

    with_worker(scratch, body)


def drips_then_normal(files: FileServer, scratch: Path, drips: int) -> None:
    normal = {"image": files.add("/ok.png", image_bytes(400, 300)), "prompt": "a lake"}

    def baseline(store: SqliteTaskStore) -> float:
        return finish(store, *submit(store, normal))[1]

    alone = with_worker(scratch / "alone", baseline)

    def body(store: SqliteTaskStore) -> None:
        slow = [submit(store, {"image": files.add_drip(f"/drip-{i}", 1.0)}) for i in range(drips)]
        quick = [submit(store, normal) for _ in range(2)]
        for task, since in quick:
            status, took = finish(store, task, since)
            print(
                f"normal task behind {drips} dripping ones: {status} after {took:.1f} s "
                f"({took / alone:.1f}x the {alone:.1f} s it takes alone)"
            )
        ends = [finish(store, task, since) for task, since in slow]
        print(
            f"dripping tasks: {sorted({s for s, _ in ends})} after "
            f"{min(t for _, t in ends):.1f}..{max(t for _, t in ends):.1f} s"
        )

    with_worker(scratch / "drips", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drip-tasks", type=int, default=20)
    args = parser.parse_args()
    with serve_files() as files, tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for sub in ("eight", "alone", "drips"):
            (root / sub).mkdir()
        eight_trickles(files, root / "eight")
        drips_then_normal(files, root, args.drip_tasks)


if __name__ == "__main__":
    main()
