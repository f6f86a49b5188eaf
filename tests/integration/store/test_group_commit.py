"""Submissions from many threads at once share SQLite commits (store/group_commit.py) and are
admitted exactly as one transaction each would admit them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from kirin_api.contract.ids import new_task_id
from kirin_api.store import (
    DuplicateExternalId,
    InsufficientFunds,
    NewTask,
    SqliteTaskStore,
    TaskRecord,
    TooManyUnfinished,
)

THREADS = 24


def _task(account_id: str, external: str | None = None, reserve: str | None = None) -> NewTask:
    return NewTask(
        id=new_task_id(),
        account_id=account_id,
        model="kirin_v1_t2v",
        params={"prompt": "p"},
        external_task_id=external,
        callback_url=None,
        created_at=time.time(),
        reserve=reserve,
    )


def _at_once(calls: list[Callable[[], TaskRecord]]) -> list[TaskRecord | Exception]:
    start = threading.Barrier(len(calls))
    out: list[TaskRecord | Exception] = [Exception("not run")] * len(calls)

    def run(index: int) -> None:
        start.wait()
        try:
            out[index] = calls[index]()
        except Exception as error:  # collected: the test looks at each outcome
            out[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return out


def test_concurrent_submissions_are_each_admitted_refused_or_stored_once(tmp_path: Path) -> None:
    store = SqliteTaskStore(tmp_path / "kirin.db")
    store.migrate()
    limited = store.ensure_account("limited")
    broke = store.set_balance(store.ensure_account("broke").id, Decimal("1.00"))
    free = store.ensure_account("free")
    calls: list[Callable[[], TaskRecord]] = []
    calls += [lambda: store.create_task(_task(limited.id), max_unfinished=5)] * 8
    calls += [lambda: store.create_task(_task(broke.id, reserve="0.40"))] * 8
    calls += [lambda: store.create_task(_task(free.id, external="same"))] * 8
    outcomes = _at_once(calls)
    assert len(outcomes) == THREADS

    limited_out, broke_out, same_out = outcomes[:8], outcomes[8:16], outcomes[16:]
    assert sum(isinstance(o, TaskRecord) for o in limited_out) == 5
    assert all(isinstance(o, TaskRecord | TooManyUnfinished) for o in limited_out)
    assert sum(isinstance(o, TaskRecord) for o in broke_out) == 2  # 2 x 0.40 of 1.00
    assert all(isinstance(o, TaskRecord | InsufficientFunds) for o in broke_out)
    assert sum(isinstance(o, TaskRecord) for o in same_out) == 1
    assert all(isinstance(o, TaskRecord | DuplicateExternalId) for o in same_out)

    # What was answered as created is stored, and nothing else.
    created = [o for o in outcomes if isinstance(o, TaskRecord)]
    for record in created:
        assert store.get_task(record.account_id, record.id) == record
    stored = sum(
        len(store.list_tasks(account.id, limit=100).tasks) for account in (limited, broke, free)
    )
    assert stored == len(created) == 8
    assert store.get_account("broke") is not None
    assert Decimal(store.get_account("broke").reserved) == Decimal("0.80")  # type: ignore[union-attr]
