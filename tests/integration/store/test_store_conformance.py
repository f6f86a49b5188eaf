"""What every TaskStore must do (base.py's docstrings are the spec); run against each factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kirin_api.contract.errors import InvalidParameter
from kirin_api.contract.ids import ulid
from kirin_api.contract.status import TaskStatus
from kirin_api.store import (
    DuplicateExternalId,
    NewTask,
    StoreError,
    TaskAlreadyFinished,
    TaskRecord,
    TaskStore,
)
from tests.integration.store.conftest import FakeClock, StoreFactory

T2V = "kirin_v1_t2v"
I2V = "kirin_v1_i2v"
LEASE = 30.0


def new_task(
    store: TaskStore,
    clock: FakeClock,
    account_id: str,
    *,
    model: str = T2V,
    external_task_id: str | None = None,
    params: dict[str, Any] | None = None,
) -> TaskRecord:
    # 10 ms apart (ULIDs count whole milliseconds), so id order is creation order.
    clock.advance(0.01)
    return store.create_task(
        NewTask(
            id="task_" + ulid(clock()),
            account_id=account_id,
            model=model,
            params=params if params is not None else {"prompt": "a cat"},
            external_task_id=external_task_id,
            callback_url=None,
            created_at=clock(),
        )
    )


@pytest.fixture
def account_id(store: TaskStore) -> str:
    return store.ensure_account("alice").id


# --- schema, health, secrets -----------------------------------------------------------------


def test_migrate_twice_and_ping(store: TaskStore) -> None:
    store.migrate()
    store.ping()


def test_secret_is_stable_across_instances(
    store: TaskStore, store_factory: StoreFactory, tmp_path: Path, clock: FakeClock
) -> None:
    first = store.secret("url-signing")
    assert len(first) == 32
    other = store_factory(tmp_path, clock)
    assert other.secret("url-signing") == first
    assert other.secret("another") != first
    assert store.secret("another") == other.secret("another")


# --- accounts and keys -----------------------------------------------------------------------


def test_ensure_account_is_idempotent(store: TaskStore) -> None:
    first = store.ensure_account("alice")
    assert store.ensure_account("alice") == first
    assert store.ensure_account("bob").id != first.id


def test_api_keys(store: TaskStore, clock: FakeClock) -> None:
    alice = store.ensure_account("alice")
    bob = store.ensure_account("bob")
    key = store.create_api_key(alice.id, "laptop", key_hash="h1", prefix="kirin_aaaa")
    store.create_api_key(bob.id, "ci", key_hash="h2", prefix="kirin_bbbb")
    assert key.account_id == alice.id
    assert key.revoked_at is None
    assert store.account_for_key("h1") == alice
    assert store.account_for_key("h2") == bob
    assert store.account_for_key("nope") is None
    assert [k.name for k in store.list_api_keys(alice.id)] == ["laptop"]
    assert len(store.list_api_keys()) == 2

    clock.advance(5)
    revoked = store.revoke_api_key(key.id)
    assert revoked is not None
    assert revoked.revoked_at == clock()
    assert store.account_for_key("h1") is None
    # Revoking again keeps the first revocation time.
    clock.advance(5)
    again = store.revoke_api_key(key.id)
    assert again is not None
    assert again.revoked_at == revoked.revoked_at

    by_prefix = store.revoke_api_key("kirin_bbbb")
    assert by_prefix is not None
    assert by_prefix.account_id == bob.id
    assert store.account_for_key("h2") is None
    assert store.revoke_api_key("no-such-key") is None


def test_revoke_by_ambiguous_prefix_is_refused(store: TaskStore, account_id: str) -> None:
    store.create_api_key(account_id, "a", key_hash="h1", prefix="kirin_same")
    store.create_api_key(account_id, "b", key_hash="h2", prefix="kirin_same")
    with pytest.raises(StoreError):
        store.revoke_api_key("kirin_same")


def test_access_key_pairs(store: TaskStore, clock: FakeClock) -> None:
    alice = store.ensure_account("alice")
    pair = store.create_access_key(alice.id, "sdk", "ak_one", "v1.sealed", key_hash="h-secret")
    assert (pair.access_key, pair.prefix, pair.account_id) == ("ak_one", "ak_one", alice.id)
    found = store.access_key_pair("ak_one")
    assert found is not None
    assert (found.account, found.sealed_secret) == (alice, "v1.sealed")
    assert store.access_key_pair("ak_two") is None
    # A pair never authenticates as a plain key, whatever hash is presented.
    assert store.account_for_key("h-secret") is None
    resealed = store.reseal_access_keys(lambda access_key, sealed: f"{sealed}+{access_key}")
    assert resealed == 1
    again = store.access_key_pair("ak_one")
    assert again is not None
    assert again.sealed_secret == "v1.sealed+ak_one"
    clock.advance(1)
    revoked = store.revoke_api_key("ak_one")
    assert revoked is not None
    assert revoked.revoked_at == clock()
    assert store.access_key_pair("ak_one") is None


# --- tasks, as the API sees them -------------------------------------------------------------


def test_create_and_get_scoped_by_account(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    params = {"prompt": "ein Kätzchen", "duration": "5", "nested": {"list": [1, 2.5, None]}}
    task = new_task(store, clock, account_id, params=params, external_task_id="ext-1")
    assert task.status is TaskStatus.PENDING
    assert task.progress == 0.0
    assert task.attempt == 0
    assert not task.cancel_requested
    assert task.params == params
    assert task.metadata == {}
    assert task.result is None
    assert task.created_at == task.updated_at == clock()
    assert store.get_task(account_id, task.id) == task
    other = store.ensure_account("mallory").id
    assert store.get_task(other, task.id) is None
    assert store.get_task(account_id, "task_nope") is None


def test_repeated_reads_follow_every_change(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    # Reads may reuse the record of an unchanged row (kirin_api.store.fast_reads): every change
    # of any column must still be seen, by a single read and by a page, with the clock frozen
    # (so updated_at alone cannot tell the versions apart).
    task = new_task(store, clock, account_id)

    def both() -> tuple[TaskRecord, TaskRecord]:
        one = store.get_task(account_id, task.id)
        assert one is not None
        page = store.list_tasks(account_id, limit=5).tasks
        assert page == [one]
        return one, page[0]

    assert both() == (task, task)
    claimed = store.claim("w1", [T2V], LEASE, 3)
    assert claimed is not None
    assert [r.status for r in both()] == [TaskStatus.PROCESSING] * 2
    leased = both()[0].lease_expires_at
    clock.advance(1)
    store.heartbeat(task.id, claimed.attempt, 0.5, LEASE)
    assert [(r.progress, r.lease_expires_at != leased) for r in both()] == [(0.5, True)] * 2
    store.request_cancel(account_id, task.id)
    assert [r.cancel_requested for r in both()] == [True, True]
    assert store.complete(task.id, claimed.attempt, {"video": "v.mp4"}, "0.1", {"seed": 2**64})
    for record in both():
        assert record.status is TaskStatus.COMPLETED
        assert record.result == {"video": "v.mp4"}
        assert record.metadata == {"seed": 2**64}  # past 64 bits: read exactly


def test_duplicate_external_id(store: TaskStore, clock: FakeClock, account_id: str) -> None:
    new_task(store, clock, account_id, external_task_id="ext-1")
    with pytest.raises(DuplicateExternalId):
        new_task(store, clock, account_id, external_task_id="ext-1")
    # Unique within the account only; and tasks without one never collide.
    new_task(store, clock, store.ensure_account("bob").id, external_task_id="ext-1")
    new_task(store, clock, account_id)
    new_task(store, clock, account_id)


def test_list_pages_newest_first(store: TaskStore, clock: FakeClock, account_id: str) -> None:
    created = [new_task(store, clock, account_id).id for _ in range(25)]
    new_task(store, clock, store.ensure_account("bob").id)  # never listed for alice
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = store.list_tasks(account_id, limit=10, cursor=cursor)
        pages += 1
        seen.extend(task.id for task in page.tasks)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert seen == list(reversed(created))


def test_list_exact_multiple_has_no_empty_last_page(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    for _ in range(10):
        new_task(store, clock, account_id)
    page = store.list_tasks(account_id, limit=10)
    assert len(page.tasks) == 10
    assert page.next_cursor is None
    assert store.list_tasks(account_id, limit=20).next_cursor is None


def test_list_filters(store: TaskStore, clock: FakeClock, account_id: str) -> None:
    a = new_task(store, clock, account_id, model=T2V, external_task_id="x")
    b = new_task(store, clock, account_id, model=I2V)
    c = new_task(store, clock, account_id, model=T2V)
    store.request_cancel(account_id, c.id)

    def ids(**filters: Any) -> list[str]:
        return [t.id for t in store.list_tasks(account_id, limit=100, **filters).tasks]

    assert ids(model=T2V) == [c.id, a.id]
    assert ids(model=I2V) == [b.id]
    assert ids(status=TaskStatus.PENDING) == [b.id, a.id]
    assert ids(status=TaskStatus.CANCELLED) == [c.id]
    assert ids(external_task_id="x") == [a.id]
    assert ids(external_task_id="y") == []
    assert ids(model=T2V, status=TaskStatus.PENDING) == [a.id]


def test_list_by_a_set_of_models_in_numbered_pages(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    a = new_task(store, clock, account_id, model=T2V)
    b = new_task(store, clock, account_id, model=I2V)
    c = new_task(store, clock, account_id, model="kirin_v3_i2v")
    d = new_task(store, clock, account_id, model=I2V)

    def ids(**filters: Any) -> list[str]:
        return [t.id for t in store.list_tasks(account_id, **filters).tasks]

    assert ids(limit=10, models=[I2V, "kirin_v3_i2v"]) == [d.id, c.id, b.id]
    assert ids(limit=2, offset=0) == [d.id, c.id]
    assert ids(limit=2, offset=2) == [b.id, a.id]
    assert ids(limit=2, offset=4) == []
    assert ids(limit=1, offset=1, models=[I2V]) == [b.id]


def test_a_task_keeps_the_dialect_it_was_created_in(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = store.create_task(
        NewTask(
            id="task_" + ulid(clock()),
            account_id=account_id,
            model=T2V,
            params={"prompt": "a cat"},
            external_task_id=None,
            callback_url=None,
            created_at=clock(),
            dialect="kling",
        )
    )
    assert task.dialect == "kling"
    found = store.get_task(account_id, task.id)
    assert found is not None
    assert found.dialect == "kling"
    assert new_task(store, clock, account_id).dialect == "kirin"


def test_list_refuses_a_forged_cursor(store: TaskStore, account_id: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        store.list_tasks(account_id, limit=10, cursor="not a cursor!")
    assert info.value.param == "cursor"


def test_cancel_pending_at_once(store: TaskStore, clock: FakeClock, account_id: str) -> None:
    task = new_task(store, clock, account_id)
    clock.advance(1)
    cancelled = store.request_cancel(account_id, task.id)
    assert cancelled is not None
    assert cancelled.status is TaskStatus.CANCELLED
    assert cancelled.updated_at == clock()
    assert cancelled.completed_at == clock()
    # Never handed to a worker afterwards.
    assert store.claim("w1", [T2V], LEASE, 3) is None
    with pytest.raises(TaskAlreadyFinished):
        store.request_cancel(account_id, task.id)


def test_cancel_processing_goes_through_the_worker(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = new_task(store, clock, account_id)
    claimed = store.claim("w1", [T2V], LEASE, 3)
    assert claimed is not None
    assert claimed.id == task.id
    requested = store.request_cancel(account_id, task.id)
    assert requested is not None
    assert requested.status is TaskStatus.PROCESSING
    assert requested.cancel_requested
    beat = store.heartbeat(task.id, claimed.attempt, 0.5, LEASE)
    assert beat.lease_held
    assert beat.cancel_requested
    assert store.mark_cancelled(task.id, claimed.attempt)
    done = store.get_task(account_id, task.id)
    assert done is not None
    assert done.status is TaskStatus.CANCELLED
    assert done.completed_at is not None
    with pytest.raises(TaskAlreadyFinished):
        store.request_cancel(account_id, task.id)


def test_cancel_unknown_or_other_account(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = new_task(store, clock, account_id)
    assert store.request_cancel(account_id, "task_nope") is None
    assert store.request_cancel(store.ensure_account("mallory").id, task.id) is None
    still = store.get_task(account_id, task.id)
    assert still is not None
    assert still.status is TaskStatus.PENDING


def test_cancel_completed_is_refused(store: TaskStore, clock: FakeClock, account_id: str) -> None:
    task = new_task(store, clock, account_id)
    claimed = store.claim("w1", [T2V], LEASE, 3)
    assert claimed is not None
    assert store.complete(task.id, claimed.attempt, {"video": "k"}, "0.1400", {"engine": "x"})
    with pytest.raises(TaskAlreadyFinished):
        store.request_cancel(account_id, task.id)


# --- tasks, as workers see them --------------------------------------------------------------


def test_claim_oldest_first_and_by_model(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    first = new_task(store, clock, account_id, model=T2V)
    i2v = new_task(store, clock, account_id, model=I2V)
    second = new_task(store, clock, account_id, model=T2V)
    clock.advance(1)

    one = store.claim("w1", [T2V], LEASE, 3)
    assert one is not None
    assert one.id == first.id
    assert one.status is TaskStatus.PROCESSING
    assert one.attempt == 1
    assert one.worker_id == "w1"
    assert one.lease_expires_at == clock() + LEASE
    two = store.claim("w2", [T2V], LEASE, 3)
    assert two is not None
    assert two.id == second.id
    assert store.claim("w3", [T2V], LEASE, 3) is None
    assert store.claim("w3", [], LEASE, 3) is None
    three = store.claim("w3", [T2V, I2V], LEASE, 3)
    assert three is not None
    assert three.id == i2v.id
    assert store.claim("w3", [T2V, I2V], LEASE, 3) is None


def test_expired_lease_is_reclaimed_and_fenced(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = new_task(store, clock, account_id)
    old = store.claim("w1", [T2V], LEASE, 3)
    assert old is not None
    assert store.heartbeat(task.id, old.attempt, 0.4, LEASE).lease_held
    clock.advance(LEASE - 1)
    assert store.claim("w2", [T2V], LEASE, 3) is None  # lease still held
    clock.advance(2)
    new = store.claim("w2", [T2V], LEASE, 3)
    assert new is not None
    assert new.id == task.id
    assert new.attempt == old.attempt + 1
    assert new.worker_id == "w2"
    assert new.progress == pytest.approx(0.4)  # progress never goes back

    # The first worker comes back: every write it tries is refused.
    beat = store.heartbeat(task.id, old.attempt, 0.9, LEASE)
    assert not beat.lease_held
    assert not store.complete(task.id, old.attempt, {"video": "k"}, "0.1", {})
    assert not store.fail(task.id, old.attempt, "002001095", "boom")
    assert not store.mark_cancelled(task.id, old.attempt)
    current = store.get_task(account_id, task.id)
    assert current is not None
    assert current.status is TaskStatus.PROCESSING
    assert current.progress == pytest.approx(0.4)

    assert store.complete(task.id, new.attempt, {"video": "k"}, "0.1400", {"engine": "preview"})


def test_attempts_exhausted_fail_with_098(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = new_task(store, clock, account_id)
    other = new_task(store, clock, account_id)
    for attempt in (1, 2, 3):
        claimed = store.claim(f"w{attempt}", [T2V], LEASE, 3)
        assert claimed is not None
        assert claimed.id == task.id
        assert claimed.attempt == attempt
        clock.advance(LEASE + 1)
    # The lost task is failed, and the same claim goes on to the next task.
    nxt = store.claim("w4", [T2V], LEASE, 3)
    assert nxt is not None
    assert nxt.id == other.id
    failed = store.get_task(account_id, task.id)
    assert failed is not None
    assert failed.status is TaskStatus.FAILED
    assert failed.error_code == "002001098"
    assert failed.error_message is not None
    assert "lost its worker 3 times" in failed.error_message
    assert failed.completed_at == clock()


def test_exhausted_task_of_another_model_is_left_alone(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = new_task(store, clock, account_id, model=I2V)
    assert store.claim("w1", [I2V], LEASE, 1) is not None
    clock.advance(LEASE + 1)
    assert store.claim("w2", [T2V], LEASE, 1) is None
    still = store.get_task(account_id, task.id)
    assert still is not None
    assert still.status is TaskStatus.PROCESSING
    assert store.claim("w2", [I2V], LEASE, 1) is None
    failed = store.get_task(account_id, task.id)
    assert failed is not None
    assert failed.error_code == "002002098"


def test_cancel_requested_and_lease_lost_is_cancelled(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = new_task(store, clock, account_id)
    claimed = store.claim("w1", [T2V], LEASE, 3)
    assert claimed is not None
    store.request_cancel(account_id, task.id)
    clock.advance(LEASE + 1)
    assert store.claim("w2", [T2V], LEASE, 3) is None
    cancelled = store.get_task(account_id, task.id)
    assert cancelled is not None
    assert cancelled.status is TaskStatus.CANCELLED
    beat = store.heartbeat(task.id, claimed.attempt, 0.5, LEASE)
    assert not beat.lease_held


def test_heartbeat_progress_never_decreases(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = new_task(store, clock, account_id)
    claimed = store.claim("w1", [T2V], LEASE, 3)
    assert claimed is not None
    beat = store.heartbeat(task.id, claimed.attempt, 0.5, LEASE)
    assert beat.lease_held
    assert not beat.cancel_requested
    store.heartbeat(task.id, claimed.attempt, 0.2, LEASE)
    current = store.get_task(account_id, task.id)
    assert current is not None
    assert current.progress == pytest.approx(0.5)
    clock.advance(20)
    store.heartbeat(task.id, claimed.attempt, 0.7, LEASE)
    current = store.get_task(account_id, task.id)
    assert current is not None
    assert current.progress == pytest.approx(0.7)
    assert current.lease_expires_at == clock() + LEASE
    # A heartbeat keeps the lease: the old deadline passes without a re-claim.
    clock.advance(LEASE - 1)
    assert store.claim("w2", [T2V], LEASE, 3) is None


def test_complete(store: TaskStore, clock: FakeClock, account_id: str) -> None:
    task = new_task(store, clock, account_id)
    claimed = store.claim("w1", [T2V], LEASE, 3)
    assert claimed is not None
    clock.advance(3)
    result = {"video": "results/x/video.mp4", "duration": 5.0}
    metadata = {"engine": "preview", "width": 1280}
    assert store.complete(task.id, claimed.attempt, result, "0.1400", metadata)
    done = store.get_task(account_id, task.id)
    assert done is not None
    assert done.status is TaskStatus.COMPLETED
    assert done.progress == 1.0
    assert done.completed_at == clock()
    assert done.updated_at == clock()
    assert done.result == result
    assert done.metadata == metadata
    assert done.usage_cost == "0.1400"
    assert done.lease_expires_at is None
    # Finished: no second ending, no re-claim even after the old lease time.
    assert not store.fail(task.id, claimed.attempt, "002001095", "late")
    clock.advance(LEASE + 1)
    assert store.claim("w2", [T2V], LEASE, 3) is None


def test_fail(store: TaskStore, clock: FakeClock, account_id: str) -> None:
    task = new_task(store, clock, account_id)
    claimed = store.claim("w1", [T2V], LEASE, 3)
    assert claimed is not None
    assert store.fail(task.id, claimed.attempt, "002001097", "image: HTTP 404")
    failed = store.get_task(account_id, task.id)
    assert failed is not None
    assert failed.status is TaskStatus.FAILED
    assert failed.error_code == "002001097"
    assert failed.error_message == "image: HTTP 404"
    assert failed.completed_at == clock()
    assert not store.complete(task.id, claimed.attempt, {}, "0", {})
