"""Upstreams' parallel-task slots and deferred tasks on a real SQLite store: a group never runs
more than its capacity, dead holders' slots expire, a worker claims only the models whose slots
it got, and a task put back in the queue (an upstream asked us to wait) waits its time and does
not count as a lost attempt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kirin_api.contract.ids import ulid
from kirin_api.contract.status import TaskStatus
from kirin_api.engines.base import SlotGroup
from kirin_api.store import NewTask, SqliteTaskStore, TaskRecord
from kirin_api.worker.slots import SlotHolder
from tests.integration.store.conftest import FakeClock

T2V = "kirin_v1_t2v"
I2V = "kirin_v1_i2v"
BOTH = [T2V, I2V]
LEASE = 60.0
MAX_ATTEMPTS = 3


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[SqliteTaskStore]:
    instance = SqliteTaskStore(tmp_path / "kirin.db", clock=clock)
    instance.migrate()
    yield instance
    instance.close()


def submit(store: SqliteTaskStore, clock: FakeClock, model: str = T2V) -> TaskRecord:
    clock.advance(0.01)  # ULIDs count whole milliseconds: ids in creation order
    account = store.ensure_account("default")
    return store.create_task(
        NewTask(
            id="task_" + ulid(clock()),
            account_id=account.id,
            model=model,
            params={"prompt": "a quiet lake"},
            external_task_id=None,
            callback_url=None,
            created_at=clock(),
        )
    )


def claim(store: SqliteTaskStore, worker: str = "w1") -> TaskRecord | None:
    return store.claim(worker, [T2V], LEASE, MAX_ATTEMPTS)


def reload(store: SqliteTaskStore, task: TaskRecord) -> TaskRecord:
    record = store.get_task(task.account_id, task.id)
    assert record is not None
    return record


# --- slots in the store ----------------------------------------------------------------------


def test_a_group_gives_out_no_more_slots_than_its_capacity(store: SqliteTaskStore) -> None:
    assert store.acquire_slot("g", 2, "w1", 30) == 0
    assert store.acquire_slot("g", 2, "w2", 30) == 1
    assert store.acquire_slot("g", 2, "w3", 30) is None


def test_groups_have_their_own_slots(store: SqliteTaskStore) -> None:
    assert store.acquire_slot("g", 1, "w1", 30) == 0
    assert store.acquire_slot("h", 1, "w2", 30) == 0
    assert store.acquire_slot("g", 1, "w3", 30) is None


def test_release_by_another_holder_frees_nothing(store: SqliteTaskStore) -> None:
    store.acquire_slot("g", 2, "w1", 30)
    store.acquire_slot("g", 2, "w2", 30)
    store.release_slot("g", 0, "w2")
    assert store.acquire_slot("g", 2, "w3", 30) is None


def test_release_by_the_holder_frees_the_slot(store: SqliteTaskStore) -> None:
    store.acquire_slot("g", 2, "w1", 30)
    store.acquire_slot("g", 2, "w2", 30)
    store.release_slot("g", 0, "w1")
    assert store.acquire_slot("g", 2, "w3", 30) == 0


def test_an_expired_slot_goes_to_another_holder(store: SqliteTaskStore, clock: FakeClock) -> None:
    assert store.acquire_slot("g", 1, "w1", 30) == 0
    clock.advance(29)
    assert store.acquire_slot("g", 1, "w2", 30) is None
    clock.advance(2)
    assert store.acquire_slot("g", 1, "w2", 30) == 0
    assert not store.renew_slot("g", 0, "w1", 30), "the dead holder lost it"


def test_renew_keeps_the_holders_slot_and_refuses_others(
    store: SqliteTaskStore, clock: FakeClock
) -> None:
    store.acquire_slot("g", 1, "w1", 30)
    assert not store.renew_slot("g", 0, "w2", 30)
    clock.advance(20)
    assert store.renew_slot("g", 0, "w1", 30)
    clock.advance(20)  # 40 s after taking it, 20 s after renewing it
    assert store.acquire_slot("g", 1, "w2", 30) is None


# --- SlotHolder: what a worker may claim -----------------------------------------------------


def holder(store: SqliteTaskStore, name: str) -> SlotHolder:
    return SlotHolder(store, {T2V: [SlotGroup("g", 1)]}, holder=name, seconds=30)


def test_a_holder_with_free_slots_may_claim_every_model(store: SqliteTaskStore) -> None:
    with holder(store, "w1").reserve(BOTH) as claimable:
        assert claimable.models == BOTH


def test_a_model_at_its_limit_is_not_claimable_by_another_worker(
    store: SqliteTaskStore,
) -> None:
    first, second = holder(store, "w1"), holder(store, "w2")
    with first.reserve(BOTH) as mine:
        assert mine.models == BOTH
        with second.reserve(BOTH) as theirs:
            assert theirs.models == [I2V]


def test_keep_for_another_model_gives_the_slot_back_at_once(store: SqliteTaskStore) -> None:
    first, second = holder(store, "w1"), holder(store, "w2")
    with first.reserve(BOTH) as mine:
        mine.keep_for(I2V)
        with second.reserve(BOTH) as theirs:
            assert theirs.models == BOTH


def test_keep_for_the_limited_model_holds_its_slot(store: SqliteTaskStore) -> None:
    first, second = holder(store, "w1"), holder(store, "w2")
    with first.reserve(BOTH) as mine:
        mine.keep_for(T2V)
        with second.reserve(BOTH) as theirs:
            assert theirs.models == [I2V]


def test_the_slots_are_given_back_when_the_block_ends(store: SqliteTaskStore) -> None:
    first, second = holder(store, "w1"), holder(store, "w2")
    with first.reserve(BOTH) as mine:
        mine.keep_for(T2V)
    with second.reserve(BOTH) as theirs:
        assert theirs.models == BOTH


# --- deferred tasks --------------------------------------------------------------------------


def test_a_deferred_task_is_pending_again(store: SqliteTaskStore, clock: FakeClock) -> None:
    task = submit(store, clock)
    claimed = claim(store)
    assert claimed is not None
    assert claimed.attempt == 1
    assert store.defer(task.id, 1, 30)
    again = reload(store, task)
    assert again.status is TaskStatus.PENDING
    assert again.worker_id is None


def test_a_deferred_task_waits_its_delay_then_is_claimed_again(
    store: SqliteTaskStore, clock: FakeClock
) -> None:
    task = submit(store, clock)
    claim(store)
    store.defer(task.id, 1, 30)
    assert claim(store, "w2") is None
    clock.advance(29)
    assert claim(store, "w2") is None
    clock.advance(2)
    again = claim(store, "w2")
    assert again is not None
    assert (again.id, again.attempt, again.worker_id) == (task.id, 2, "w2")


def test_a_deferred_task_does_not_hold_up_other_tasks(
    store: SqliteTaskStore, clock: FakeClock
) -> None:
    first = submit(store, clock)
    claim(store)
    store.defer(first.id, 1, 30)
    second = submit(store, clock)
    claimed = claim(store)
    assert claimed is not None
    assert claimed.id == second.id


def test_defer_with_a_stale_attempt_changes_nothing(
    store: SqliteTaskStore, clock: FakeClock
) -> None:
    task = submit(store, clock)
    claim(store)
    clock.advance(LEASE + 1)  # the lease expires; another worker takes the task
    taken = claim(store, "w2")
    assert taken is not None
    assert taken.attempt == 2
    assert not store.defer(task.id, 1, 30)
    now = reload(store, task)
    assert (now.status, now.attempt, now.worker_id) == (TaskStatus.PROCESSING, 2, "w2")


def test_deferrals_do_not_count_as_lost_attempts(store: SqliteTaskStore, clock: FakeClock) -> None:
    task = submit(store, clock)
    for attempt in range(1, 6):
        claimed = claim(store)
        assert claimed is not None
        assert claimed.attempt == attempt
        assert store.defer(task.id, attempt, 1)
        clock.advance(2)
    claimed = claim(store)
    assert claimed is not None
    assert claimed.attempt == 6
    clock.advance(LEASE + 1)  # this worker dies: one attempt lost
    again = claim(store, "w2")
    assert again is not None, "claimed again, not failed with ...098"
    assert again.attempt == 7
    assert reload(store, task).error_code is None


def test_lost_attempts_without_deferrals_still_fail_the_task(
    store: SqliteTaskStore, clock: FakeClock
) -> None:
    task = submit(store, clock)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claimed = claim(store)
        assert claimed is not None
        assert claimed.attempt == attempt
        clock.advance(LEASE + 1)
    assert claim(store) is None
    failed = reload(store, task)
    assert failed.status is TaskStatus.FAILED
    assert failed.error_code == "002001098"
