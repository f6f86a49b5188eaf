"""The registry of workers, and the watchdog that fails tasks no worker serves (on every store)."""

from __future__ import annotations

import logging
import threading
from decimal import Decimal

import pytest

from kirin_api.contract.ids import ulid
from kirin_api.contract.status import TaskStatus
from kirin_api.store import NewTask, StoreUnavailable, TaskRecord, TaskStore, WorkerInfo
from kirin_api.watchdog import Watchdog, WatchdogConfig
from tests.integration.store.conftest import FakeClock

T2V, I2V = "kirin_v1_t2v", "kirin_v1_i2v"


def worker(worker_id: str, models: list[str], clock: FakeClock) -> WorkerInfo:
    return WorkerInfo(
        id=worker_id,
        host="host-a",
        pid=42,
        models=models,
        engines={m: "preview" for m in models},
        version="0.1.0",
        started_at=clock(),
        last_seen=clock(),
    )


def task(store: TaskStore, clock: FakeClock, account_id: str, model: str = T2V) -> TaskRecord:
    clock.advance(0.01)
    return store.create_task(
        NewTask(
            id="task_" + ulid(clock()),
            account_id=account_id,
            model=model,
            params={"prompt": "a cat"},
            external_task_id=None,
            callback_url="https://example.com/hook",
            created_at=clock(),
            reserve="0.14",
        )
    )


def status(store: TaskStore, record: TaskRecord) -> TaskRecord:
    found = store.get_task(record.account_id, record.id)
    assert found is not None
    return found


def test_workers_register_beat_and_go(store: TaskStore, clock: FakeClock) -> None:
    store.register_worker(worker("w1", [T2V, I2V], clock))
    clock.advance(3)
    store.beat_worker("w1", "task_1")
    [seen] = store.list_workers()
    assert (seen.id, seen.models, seen.engines[T2V]) == ("w1", [T2V, I2V], "preview")
    assert (seen.last_seen, seen.current_task) == (clock(), "task_1")
    store.register_worker(worker("w1", [T2V], clock))  # a restart replaces the row
    assert [w.models for w in store.list_workers()] == [[T2V]]
    assert store.forget_workers(clock() - 1) == 0
    clock.advance(10)
    assert store.forget_workers(clock() - 1) == 1
    store.register_worker(worker("w2", [T2V], clock))
    store.unregister_worker("w2")
    assert store.list_workers() == []


def test_queue_stats_count_pending_tasks_per_model(store: TaskStore, clock: FakeClock) -> None:
    account = store.ensure_account("alice").id
    first = task(store, clock, account)
    task(store, clock, account)
    task(store, clock, account, model=I2V)
    stats = store.queue_stats()
    assert (stats[T2V].pending, stats[T2V].oldest_created_at) == (2, first.created_at)
    assert stats[I2V].pending == 1


def test_an_unserved_model_fails_its_waiting_tasks_with_094_and_releases_money(
    store: TaskStore, clock: FakeClock
) -> None:
    account = store.ensure_account("alice")
    store.set_balance(account.id, Decimal("1.00"))
    waiting = task(store, clock, account.id)
    watchdog = Watchdog(store, WatchdogConfig(unserved_timeout=60), clock=clock)
    assert watchdog.sweep() == []  # not unserved for long enough yet
    clock.advance(61)
    assert watchdog.sweep() == [waiting.id]
    failed = status(store, waiting)
    assert (failed.status, failed.error_code) == (TaskStatus.FAILED, "002001094")
    assert "no worker serves kirin_v1_t2v" in (failed.error_message or "")
    assert store.get_account("alice").reserved == "0.00"  # type: ignore[union-attr]
    assert [d.status_reported for d in store.list_deliveries(account.id, waiting.id) or []] == [
        TaskStatus.PENDING,
        TaskStatus.FAILED,
    ]


def test_a_live_worker_keeps_its_models_tasks_waiting(store: TaskStore, clock: FakeClock) -> None:
    account = store.ensure_account("alice").id
    waiting = task(store, clock, account)
    store.register_worker(worker("w1", [T2V], clock))
    watchdog = Watchdog(store, WatchdogConfig(unserved_timeout=60, stale_after=30), clock=clock)
    for _ in range(4):
        clock.advance(25)
        store.beat_worker("w1", None)
        assert watchdog.sweep() == []
    # The worker goes silent: stale after 30 s, and its model unserved 60 s after it was seen.
    clock.advance(59)
    assert watchdog.sweep() == []
    clock.advance(2)
    assert watchdog.sweep() == [waiting.id]


def test_max_queue_seconds_fails_tasks_that_waited_too_long(
    store: TaskStore, clock: FakeClock
) -> None:
    account = store.ensure_account("alice").id
    store.register_worker(worker("w1", [T2V], clock))
    old = task(store, clock, account)
    clock.advance(20)
    young = task(store, clock, account)
    store.beat_worker("w1", None)
    config = WatchdogConfig(unserved_timeout=600, max_queue_seconds=15, stale_after=30)
    assert Watchdog(store, config, clock=clock).sweep() == [old.id]
    assert "KIRIN_MAX_QUEUE_SECONDS" in (status(store, old).error_message or "")
    assert status(store, young).status is TaskStatus.PENDING


def test_a_database_outage_in_a_sweep_is_one_warning_and_the_sweeps_go_on(
    store: TaskStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    beats: list[str] = []
    stop = threading.Event()

    def purge_uploads() -> None:
        beats.append("purge")
        if len(beats) >= 3:
            stop.set()
        raise StoreUnavailable("the database db cannot be used: connection refused")

    watchdog = Watchdog(store, WatchdogConfig(interval=0.01), clock, also=[purge_uploads])
    with caplog.at_level(logging.WARNING, logger="kirin_api.watchdog"):
        watchdog.run(stop)
    assert beats == ["purge"] * 3  # the outage did not end the loop
    outages = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(outages) == 3
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in outages)
    assert "purge_uploads" in outages[0].getMessage()
