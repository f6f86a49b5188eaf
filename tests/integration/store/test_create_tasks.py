"""``TaskStore.create_tasks``: a batch of submissions in one transaction, each admitted exactly as
one transaction each would admit it (store/task_admission.py), on SQLite and PostgreSQL; and
``create_task`` from many threads at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event, exc

from kirin_api.store import (
    DuplicateExternalId,
    InsufficientFunds,
    SqliteTaskStore,
    SqlTaskStore,
    StoreError,
    StoreUnavailable,
    Submission,
    TaskRecord,
    TaskStore,
    TooManyUnfinished,
)
from tests.integration.store.conftest import submitted_task

THREADS = 24


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
    calls += [lambda: store.create_task(submitted_task(limited.id), max_unfinished=5)] * 8
    calls += [lambda: store.create_task(submitted_task(broke.id, reserve="0.40"))] * 8
    calls += [lambda: store.create_task(submitted_task(free.id, external="same"))] * 8
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


def _kinds(outcomes: list[TaskRecord | StoreError]) -> list[str]:
    return [type(o).__name__ for o in outcomes]


def test_a_batch_is_admitted_in_order_as_one_transaction_each_would(store: TaskStore) -> None:
    limited = store.ensure_account("limited")
    broke = store.set_balance(store.ensure_account("broke").id, Decimal("1.00"))
    free = store.ensure_account("free")
    batch = [
        Submission(submitted_task(limited.id, external="x"), max_unfinished=2),
        # A refused duplicate takes nothing of the limit: the next one still fits.
        Submission(submitted_task(limited.id, external="x"), max_unfinished=2),
        Submission(submitted_task(limited.id), max_unfinished=2),
        Submission(submitted_task(limited.id), max_unfinished=2),
        Submission(submitted_task(broke.id, reserve="0.40")),
        Submission(submitted_task(broke.id, reserve="0.70")),  # 0.60 left: refused
        Submission(submitted_task(broke.id, reserve="0.60")),  # fits exactly
        Submission(submitted_task(free.id, external="same")),
        Submission(submitted_task(free.id, external="same")),
        Submission(submitted_task("no-such-account")),
    ]
    outcomes = store.create_tasks(batch)
    assert _kinds(outcomes) == [
        "TaskRecord",
        "DuplicateExternalId",
        "TaskRecord",
        "TooManyUnfinished",
        "TaskRecord",
        "InsufficientFunds",
        "TaskRecord",
        "TaskRecord",
        "DuplicateExternalId",
        "StoreError",
    ]
    assert str(outcomes[5]) == str(InsufficientFunds("0.70", "0.60"))
    for outcome in outcomes:
        if isinstance(outcome, TaskRecord):
            assert store.get_task(outcome.account_id, outcome.id) == outcome
    account = store.get_account("broke")
    assert account is not None
    assert Decimal(account.reserved) == Decimal("1.00")
    assert len(store.list_tasks(limited.id, limit=10).tasks) == 2
    # The batch's tasks count toward the next batch's admission, as stored rows now.
    again = store.create_tasks([Submission(submitted_task(limited.id), max_unfinished=2)])
    assert _kinds(again) == ["TooManyUnfinished"]
    assert _kinds(store.create_tasks([Submission(submitted_task(free.id, external="same"))])) == [
        "DuplicateExternalId"
    ]


def test_a_batch_is_one_commit(store: TaskStore) -> None:
    assert isinstance(store, SqlTaskStore)
    account = store.ensure_account("a")
    commits: list[object] = []
    event.listen(store._writer, "commit", commits.append)
    outcomes = store.create_tasks([Submission(submitted_task(account.id)) for _ in range(20)])
    assert all(isinstance(o, TaskRecord) for o in outcomes)
    assert len(commits) == 1


def test_a_failed_commit_fails_the_whole_batch_and_stores_none(store: TaskStore) -> None:
    assert isinstance(store, SqlTaskStore)
    account = store.set_balance(store.ensure_account("a").id, Decimal("5"))

    def refuse(_conn: object) -> None:
        raise exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(store._writer, "commit", refuse)
    batch = [Submission(submitted_task(account.id, reserve="0.10")) for _ in range(5)]
    with pytest.raises(StoreUnavailable, match="disk I/O error"):
        store.create_tasks(batch)
    event.remove(store._writer, "commit", refuse)
    assert store.list_tasks(account.id, limit=10).tasks == []
    after = store.get_account("a")
    assert after is not None
    assert Decimal(after.reserved) == 0
    # The store goes on: the next batch commits.
    assert _kinds(store.create_tasks(batch[:1])) == ["TaskRecord"]
