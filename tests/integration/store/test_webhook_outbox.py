"""The webhook outbox in every store: a delivery per status change, written in the transaction
of the change; claimed with a lease, fenced by the attempt, in order per task; and the secrets."""

from __future__ import annotations

from typing import Any

import pytest

from kirin_api.contract.ids import ulid
from kirin_api.contract.status import TaskStatus
from kirin_api.store import (
    DuplicateExternalId,
    NewTask,
    SqlTaskStore,
    TaskRecord,
    TaskStore,
    outbox,
)
from tests.integration.store.conftest import FakeClock

T2V = "kirin_v1_t2v"
LEASE = 30.0
HOOK = "https://hooks.example.com/kirin"


def new_task(
    store: TaskStore,
    clock: FakeClock,
    account_id: str,
    *,
    callback_url: str | None = HOOK,
    external_task_id: str | None = None,
) -> TaskRecord:
    clock.advance(0.01)
    return store.create_task(
        NewTask(
            id="task_" + ulid(clock()),
            account_id=account_id,
            model=T2V,
            params={"prompt": "a cat"},
            external_task_id=external_task_id,
            callback_url=callback_url,
            created_at=clock(),
        )
    )


def reported(store: TaskStore, account_id: str, task_id: str) -> list[str]:
    deliveries = store.list_deliveries(account_id, task_id)
    assert deliveries is not None
    return [d.status_reported.value for d in deliveries]


def claim(store: TaskStore) -> TaskRecord:
    task = store.claim("w1", [T2V], LEASE, max_attempts=2)
    assert task is not None
    return task


@pytest.fixture
def account_id(store: TaskStore) -> str:
    return store.ensure_account("alice").id


# --- one delivery per status change ----------------------------------------------------------


def test_every_status_change_of_a_task_with_a_callback_is_queued(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = new_task(store, clock, account_id)
    assert reported(store, account_id, task.id) == ["pending"]
    claimed = claim(store)
    assert reported(store, account_id, task.id) == ["pending", "processing"]
    # A heartbeat and a cancel request are no status change.
    store.heartbeat(task.id, claimed.attempt, 0.5, LEASE)
    assert store.complete(task.id, claimed.attempt, {"content": []}, "0.14", {})
    deliveries = store.list_deliveries(account_id, task.id)
    assert deliveries is not None
    assert [d.status_reported for d in deliveries] == [
        TaskStatus.PENDING,
        TaskStatus.PROCESSING,
        TaskStatus.COMPLETED,
    ]
    assert [d.seq for d in deliveries] == [1, 2, 3]
    assert len({d.id for d in deliveries}) == 3
    assert all(d.id.startswith("msg_") for d in deliveries)
    assert all(d.state == "pending" and d.attempts == 0 for d in deliveries)
    assert all(d.next_attempt_at is not None for d in deliveries)


def test_no_callback_url_no_delivery(store: TaskStore, clock: FakeClock, account_id: str) -> None:
    task = new_task(store, clock, account_id, callback_url=None)
    claimed = claim(store)
    store.fail(task.id, claimed.attempt, "002001095", "boom")
    assert store.list_deliveries(account_id, task.id) == []
    assert store.next_delivery_due() is None


def test_fail_cancel_and_cancel_of_pending_are_queued(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    failed = new_task(store, clock, account_id)
    attempt = claim(store).attempt
    assert store.fail(failed.id, attempt, "002001095", "boom")
    assert reported(store, account_id, failed.id) == ["pending", "processing", "failed"]

    cancelled = new_task(store, clock, account_id)
    attempt = claim(store).attempt
    store.request_cancel(account_id, cancelled.id)  # processing: only asks the worker
    assert reported(store, account_id, cancelled.id) == ["pending", "processing"]
    assert store.mark_cancelled(cancelled.id, attempt)
    assert reported(store, account_id, cancelled.id) == ["pending", "processing", "cancelled"]

    never_ran = new_task(store, clock, account_id)
    store.request_cancel(account_id, never_ran.id)
    assert reported(store, account_id, never_ran.id) == ["pending", "cancelled"]


def test_lease_expiry_outcomes_are_queued_and_a_takeover_is_not(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    exhausted = new_task(store, clock, account_id)
    claim(store)
    clock.advance(LEASE + 1)
    # The takeover (attempt 2) is no status change: processing stays processing.
    assert claim(store).attempt == 2
    assert reported(store, account_id, exhausted.id) == ["pending", "processing"]
    clock.advance(LEASE + 1)
    assert store.claim("w1", [T2V], LEASE, max_attempts=2) is None  # failed with ...098
    assert reported(store, account_id, exhausted.id) == ["pending", "processing", "failed"]

    abandoned = new_task(store, clock, account_id)
    claim(store)
    store.request_cancel(account_id, abandoned.id)
    clock.advance(LEASE + 1)
    assert store.claim("w1", [T2V], LEASE, max_attempts=2) is None  # cancelled
    assert reported(store, account_id, abandoned.id) == ["pending", "processing", "cancelled"]


def test_a_worker_that_lost_its_lease_queues_nothing(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = new_task(store, clock, account_id)
    first = claim(store)
    clock.advance(LEASE + 1)
    claim(store)
    assert not store.complete(task.id, first.attempt, {"content": []}, "0.14", {})
    assert not store.fail(task.id, first.attempt, "x", "y")
    assert not store.mark_cancelled(task.id, first.attempt)
    assert reported(store, account_id, task.id) == ["pending", "processing"]


def test_a_refused_create_queues_nothing(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    new_task(store, clock, account_id, external_task_id="x")
    with pytest.raises(DuplicateExternalId):
        new_task(store, clock, account_id, external_task_id="x")
    claimed = store.claim_delivery(LEASE)
    assert claimed is not None
    assert store.claim_delivery(LEASE) is None  # only the first task's


def test_deliveries_are_private_to_the_account(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = new_task(store, clock, account_id)
    bob = store.ensure_account("bob").id
    assert store.list_deliveries(bob, task.id) is None
    assert store.list_deliveries(account_id, "task_nope") is None


# --- the same transaction --------------------------------------------------------------------


def test_a_rolled_back_status_change_leaves_no_delivery_and_vice_versa(
    store: TaskStore, clock: FakeClock, account_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not isinstance(store, SqlTaskStore):
        pytest.skip("patches the SQL module the SQL stores run")
    task = new_task(store, clock, account_id)
    attempt = claim(store).attempt
    real = outbox.enqueue_delivery

    def enqueue_then_crash(*args: Any, **kwargs: Any) -> bool:
        real(*args, **kwargs)  # the delivery row is written ...
        raise RuntimeError("crash before commit")  # ... and the transaction dies

    monkeypatch.setattr(outbox, "enqueue_delivery", enqueue_then_crash)
    with pytest.raises(RuntimeError):
        store.complete(task.id, attempt, {"content": []}, "0.14", {})
    with pytest.raises(RuntimeError):
        new_task(store, clock, account_id)
    monkeypatch.undo()
    # Neither the status change nor its delivery happened: never one without the other.
    record = store.get_task(account_id, task.id)
    assert record is not None
    assert record.status is TaskStatus.PROCESSING
    assert reported(store, account_id, task.id) == ["pending", "processing"]
    assert len(store.list_tasks(account_id, limit=10).tasks) == 1
    assert store.complete(task.id, attempt, {"content": []}, "0.14", {})
    assert reported(store, account_id, task.id) == ["pending", "processing", "completed"]


# --- claiming and recording ------------------------------------------------------------------


def test_the_body_reports_the_change_not_a_later_state(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = new_task(store, clock, account_id)
    attempt = claim(store).attempt
    result = {"content": [{"type": "video", "key": "results/x.mp4", "duration": 5}]}
    store.complete(task.id, attempt, result, "0.14", {"engine": "preview"})
    seen = []
    for _ in range(3):
        claimed = store.claim_delivery(LEASE)
        assert claimed is not None
        assert claimed.callback_url == HOOK
        seen.append(claimed.task)
        store.finish_delivery(claimed.delivery.id, claimed.attempt, "delivered", status_code=200)
    assert [t.status.value for t in seen] == ["pending", "processing", "completed"]
    assert seen[0].result is None
    assert seen[0].progress == 0.0
    assert seen[0].completed_at is None
    assert seen[1].result is None
    assert seen[2].result == result
    assert seen[2].usage_cost == "0.14"
    assert seen[2].progress == 1.0
    assert seen[2].metadata == {"engine": "preview"}
    assert all(t.id == task.id and t.model == T2V for t in seen)


def test_deliveries_of_one_task_go_out_in_order(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    first = new_task(store, clock, account_id)
    claim(store)
    other = new_task(store, clock, account_id)
    pending = store.claim_delivery(LEASE)
    assert pending is not None
    assert (pending.delivery.task_id, pending.delivery.seq) == (first.id, 1)
    # first's "processing" waits for its "pending"; other's "pending" does not.
    nxt = store.claim_delivery(LEASE)
    assert nxt is not None
    assert (nxt.delivery.task_id, nxt.delivery.seq) == (other.id, 1)
    assert store.claim_delivery(LEASE) is None
    # A retry keeps the later one waiting too.
    store.finish_delivery(pending.delivery.id, pending.attempt, "retry", error="500", retry_in=5)
    assert store.claim_delivery(LEASE) is None
    assert store.next_delivery_due() == pytest.approx(clock() + 5)
    clock.advance(5)
    again = store.claim_delivery(LEASE)
    assert again is not None
    assert again.delivery.id == pending.delivery.id
    assert again.attempt == 2
    store.finish_delivery(again.delivery.id, again.attempt, "failed", error="gave up")
    # Given up counts as done: the next one of that task may go.
    later = store.claim_delivery(LEASE)
    assert later is not None
    assert (later.delivery.task_id, later.delivery.seq) == (first.id, 2)


def test_the_attempt_fences_the_result_and_an_expired_lease_hands_it_out_again(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = new_task(store, clock, account_id)
    first = store.claim_delivery(LEASE)
    assert first is not None
    assert store.claim_delivery(LEASE) is None  # leased
    assert store.next_delivery_due() == pytest.approx(clock() + LEASE)
    clock.advance(LEASE + 1)
    second = store.claim_delivery(LEASE)
    assert second is not None
    assert second.delivery.id == first.delivery.id
    assert second.attempt == first.attempt + 1
    assert not store.finish_delivery(first.delivery.id, first.attempt, "delivered", status_code=200)
    assert store.finish_delivery(second.delivery.id, second.attempt, "delivered", status_code=204)
    assert not store.finish_delivery(second.delivery.id, second.attempt, "failed")
    deliveries = store.list_deliveries(account_id, task.id)
    assert deliveries is not None
    (done,) = deliveries
    assert done.state == "delivered"
    assert done.attempts == 2
    assert done.last_status_code == 204
    assert done.delivered_at == clock()
    assert done.next_attempt_at is None
    assert store.next_delivery_due() is None


def test_gone_stops_every_delivery_of_that_task_only(
    store: TaskStore, clock: FakeClock, account_id: str
) -> None:
    task = new_task(store, clock, account_id)
    other = new_task(store, clock, account_id)
    claimed = store.claim_delivery(LEASE)
    assert claimed is not None
    assert claimed.delivery.task_id == task.id
    claim(store)  # task -> processing: queued
    store.finish_delivery(claimed.delivery.id, claimed.attempt, "gone", status_code=410)
    claim(store)  # other -> processing
    states = store.list_deliveries(account_id, task.id)
    assert states is not None
    assert [d.state for d in states] == ["gone", "gone"]
    assert states[1].attempts == 0
    # A later change of the gone task is born gone; the other task is untouched.
    store.request_cancel(account_id, task.id)
    clock.advance(LEASE + 1)
    store.claim("w1", [T2V], LEASE, max_attempts=5)
    later = store.list_deliveries(account_id, task.id)
    assert later is not None
    assert {d.state for d in later} == {"gone"}
    remaining = store.list_deliveries(account_id, other.id)
    assert remaining is not None
    assert {d.state for d in remaining} == {"pending"}


# --- secrets ---------------------------------------------------------------------------------


def test_webhook_secret_rotation(store: TaskStore, clock: FakeClock, account_id: str) -> None:
    first = store.webhook_secrets(account_id)
    assert len(first.current) == 32
    assert first.previous is None
    assert store.webhook_secrets(account_id) == first
    assert store.webhook_secrets(store.ensure_account("bob").id).current != first.current
    assert first.signing_keys(clock()) == [first.current]

    rotated = store.rotate_webhook_secret(account_id, grace_seconds=3600)
    assert rotated.current != first.current
    assert rotated.previous == first.current
    assert rotated.signing_keys(clock()) == [rotated.current, first.current]
    assert store.webhook_secrets(account_id) == rotated
    # A delivery claimed now is signed by both.
    new_task(store, clock, account_id)
    claimed = store.claim_delivery(LEASE)
    assert claimed is not None
    assert claimed.signing_keys == [rotated.current, first.current]
    # After the grace period only the new one signs.
    assert rotated.signing_keys(clock() + 3601) == [rotated.current]

    finished = store.finish_webhook_rotation(account_id)
    assert finished.current == rotated.current
    assert finished.previous is None
    assert finished.signing_keys(clock()) == [rotated.current]
