"""Entry points of the child processes of the multi-process tests (importable under ``spawn``)."""

from __future__ import annotations

import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from kirin_api.store import SqliteTaskStore, open_store


def claim_until_empty(url: str, worker_id: str, start: Barrier, out: Queue[Any]) -> None:
    """Claim, heartbeat and complete tasks until none is left; report the claimed ids.

    ``url`` is a database URL (``sqlite:///...``, ``postgresql://...``), as ``open_store`` takes."""
    try:
        store = open_store(url)
        store.ping()  # open the connections before the race starts
        start.wait(timeout=60)
        claimed: list[str] = []
        while True:
            task = store.claim(worker_id, ["kirin_v1_t2v"], 60.0, 3)
            if task is None:
                break
            claimed.append(task.id)
            assert store.heartbeat(task.id, task.attempt, 0.5, 60.0).lease_held
            assert store.complete(task.id, task.attempt, {"by": worker_id}, "0.1", {})
            # A real worker renders between claims. Without any pause, one SQLite process can
            # take the write lock again before the others' busy handlers wake up, and claim all.
            time.sleep(0.002)
        store.close()
        out.put((worker_id, claimed))
    except BaseException as error:  # reported to the parent, which fails the test
        out.put((worker_id, repr(error)))


def migrate(url: str, name: str, start: Barrier, out: Queue[Any]) -> None:
    try:
        store = open_store(url)
        start.wait(timeout=60)
        store.migrate()
        store.ensure_account("shared")
        store.close()
        out.put((name, "ok"))
    except BaseException as error:
        out.put((name, repr(error)))


def use_inherited_store(store: SqliteTaskStore, out: Queue[Any]) -> None:
    """Under ``fork``: use the parent's store object, which must open its own connections."""
    try:
        out.put(("child", store.ensure_account("child").name))
    except BaseException as error:
        out.put(("child", repr(error)))
