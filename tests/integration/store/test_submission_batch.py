"""The API's submission batcher (server/submission_batch.py) on a real store, SQLite and
PostgreSQL: a burst of concurrent submissions takes few transactions, and each is answered as if
it had been created alone."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from decimal import Decimal

import pytest

from kirin_api.server.submission_batch import SubmissionBatcher
from kirin_api.store import (
    DuplicateExternalId,
    InsufficientFunds,
    NewTask,
    StoreError,
    StoreUnavailable,
    Submission,
    TaskRecord,
    TaskStore,
    TooManyUnfinished,
)
from tests.integration.store.conftest import submitted_task


class CountingStore:
    """The store, with its ``create_tasks`` calls counted; ``hold`` keeps a call from starting
    until set, ``fail`` makes every call fail as a failed commit does."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store
        self.batches: list[int] = []
        self.hold = threading.Event()
        self.hold.set()
        self.fail = False

    def create_tasks(self, submissions: Sequence[Submission]) -> list[TaskRecord | StoreError]:
        self.batches.append(len(submissions))
        self.hold.wait(10)
        if self.fail:
            raise StoreUnavailable("the database cannot be used: commit failed")
        return self.store.create_tasks(submissions)


def _batcher(counting: CountingStore) -> SubmissionBatcher:
    return SubmissionBatcher(counting)  # type: ignore[arg-type]  # create_tasks is all it uses


async def _burst(
    batcher: SubmissionBatcher, tasks: list[NewTask], limit: int | None = None
) -> list[TaskRecord | BaseException]:
    return await asyncio.gather(
        *(batcher.create(task, limit) for task in tasks), return_exceptions=True
    )


def test_a_burst_takes_few_transactions_and_holds_limits_and_balances(store: TaskStore) -> None:
    limited = store.ensure_account("limited")
    broke = store.set_balance(store.ensure_account("broke").id, Decimal("1.00"))
    free = store.ensure_account("free")
    counting = CountingStore(store)
    batcher = _batcher(counting)

    async def main() -> list[list[TaskRecord | BaseException]]:
        return await asyncio.gather(
            _burst(batcher, [submitted_task(limited.id) for _ in range(40)], limit=25),
            _burst(batcher, [submitted_task(broke.id, reserve="0.30") for _ in range(10)]),
            _burst(batcher, [submitted_task(free.id, external="same") for _ in range(10)]),
            _burst(batcher, [submitted_task(free.id) for _ in range(100)]),
        )

    limited_out, broke_out, same_out, free_out = asyncio.run(main())
    batcher.close()
    assert sum(isinstance(o, TaskRecord) for o in limited_out) == 25
    assert all(isinstance(o, TaskRecord | TooManyUnfinished) for o in limited_out)
    assert sum(isinstance(o, TaskRecord) for o in broke_out) == 3  # 3 x 0.30 of 1.00
    assert all(isinstance(o, TaskRecord | InsufficientFunds) for o in broke_out)
    assert sum(isinstance(o, TaskRecord) for o in same_out) == 1
    assert all(isinstance(o, TaskRecord | DuplicateExternalId) for o in same_out)
    assert all(isinstance(o, TaskRecord) for o in free_out)
    # 160 submissions of 3 accounts: each account's first goes alone, the rest queue behind it
    # and go in batches of at most 64.
    assert sum(counting.batches) == 160
    assert len(counting.batches) <= 9
    assert max(counting.batches) <= 64
    # What was answered created is stored, and nothing else; the money is exact.
    created = [o for out in (limited_out, broke_out, same_out, free_out) for o in out]
    records = [o for o in created if isinstance(o, TaskRecord)]
    for record in records:
        assert store.get_task(record.account_id, record.id) == record
    stored = sum(len(store.list_tasks(a.id, limit=100).tasks) for a in (limited, broke))
    stored += len(store.list_tasks(free.id, limit=100).tasks) + len(
        store.list_tasks(free.id, limit=100, offset=100).tasks
    )
    assert stored == len(records) == 25 + 3 + 1 + 100
    account = store.get_account("broke")
    assert account is not None
    assert Decimal(account.reserved) == Decimal("0.90")


def test_a_failed_transaction_fails_its_whole_batch_and_stores_none(store: TaskStore) -> None:
    account = store.ensure_account("a")
    counting = CountingStore(store)
    batcher = _batcher(counting)
    counting.fail = True
    outcomes = asyncio.run(_burst(batcher, [submitted_task(account.id) for _ in range(10)]))
    assert all(isinstance(o, StoreUnavailable) for o in outcomes)
    assert len({id(o) for o in outcomes}) == 10  # one exception each, not one shared
    assert store.list_tasks(account.id, limit=20).tasks == []
    counting.fail = False  # the next burst goes through
    outcomes = asyncio.run(_burst(batcher, [submitted_task(account.id) for _ in range(3)]))
    assert all(isinstance(o, TaskRecord) for o in outcomes)
    batcher.close()


@pytest.mark.parametrize("cancelled", ["queued", "in its batch"])
def test_a_request_that_goes_away_never_breaks_the_others_batch(
    store: TaskStore, cancelled: str
) -> None:
    account = store.ensure_account("a")
    counting = CountingStore(store)
    batcher = _batcher(counting)

    async def main() -> tuple[list[TaskRecord | BaseException], NewTask]:
        counting.hold.clear()  # the first batch waits in its thread until released
        tasks = [submitted_task(account.id) for _ in range(6)]
        running = [asyncio.ensure_future(batcher.create(tasks[0], None))]
        while not counting.batches:  # the first one has left in a batch of its own
            await asyncio.sleep(0.005)
        running += [asyncio.ensure_future(batcher.create(task, None)) for task in tasks[1:]]
        await asyncio.sleep(0.01)  # queued behind it
        # "queued": the third, behind the batch in flight; "in its batch": the first.
        victim = 0 if cancelled == "in its batch" else 2
        running[victim].cancel()
        await asyncio.sleep(0.01)
        counting.hold.set()
        return await asyncio.gather(*running, return_exceptions=True), tasks[victim]

    outcomes, victim = asyncio.run(main())
    batcher.close()
    assert sum(isinstance(o, asyncio.CancelledError) for o in outcomes) == 1
    assert sum(isinstance(o, TaskRecord) for o in outcomes) == 5
    assert counting.batches == ([1, 4] if cancelled == "queued" else [1, 5])
    stored = {t.id for t in store.list_tasks(account.id, limit=20).tasks}
    # Gone before its batch left: never created. Gone after: created, as the batch went on.
    assert (victim.id in stored) is (cancelled == "in its batch")
    assert len(stored) == 5 + (cancelled == "in its batch")
