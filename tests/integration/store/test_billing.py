"""Money and limits in every store: reserve at submit, charge on completion, release otherwise."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest

from kirin_api.contract.ids import new_task_id
from kirin_api.store import (
    Account,
    InsufficientFunds,
    NewTask,
    StoreError,
    TaskRecord,
    TaskStore,
    TooManyUnfinished,
)
from tests.integration.store.conftest import FakeClock, StoreFactory

MODEL = "kirin_v1_t2v"


def submit(
    store: TaskStore, account: Account, reserve: str | None = "0.14", limit: int | None = None
) -> TaskRecord:
    task = NewTask(
        id=new_task_id(),
        account_id=account.id,
        model=MODEL,
        params={"prompt": "x"},
        external_task_id=None,
        callback_url=None,
        created_at=1.0,
        reserve=reserve,
    )
    return store.create_task(task, max_unfinished=limit)


def money(store: TaskStore, account: Account) -> tuple[str | None, Decimal]:
    fresh = store.get_account(account.name)
    assert fresh is not None
    return fresh.balance, Decimal(fresh.reserved)


def test_accounts_are_unlimited_by_default(store: TaskStore) -> None:
    account = store.ensure_account("free")
    assert account.balance is None
    for _ in range(3):
        submit(store, account)
    assert money(store, account) == (None, Decimal("0.42"))
    task = store.claim("w", [MODEL], 60, 3)
    assert task is not None
    store.complete(task.id, task.attempt, {}, "0.14", {})
    assert money(store, account) == (None, Decimal("0.28"))


def test_a_balance_is_reserved_at_submit_and_never_overdrawn(store: TaskStore) -> None:
    account = store.set_balance(store.ensure_account("a").id, Decimal("1.00"))
    for _ in range(7):
        submit(store, account)
    with pytest.raises(InsufficientFunds) as short:
        submit(store, account)
    assert Decimal(short.value.available) == Decimal("0.02")
    assert money(store, account) == ("1.00", Decimal("0.98"))


def test_completion_charges_the_cost_and_releases_the_reservation(store: TaskStore) -> None:
    account = store.set_balance(store.ensure_account("a").id, Decimal("1.00"))
    # Motion control reserves the most it can cost and is charged what it did cost.
    submit(store, account, reserve="0.70")
    task = store.claim("w", [MODEL], 60, 3)
    assert task is not None
    assert store.complete(task.id, task.attempt, {}, "0.21", {})
    assert money(store, account) == ("0.79", Decimal("0"))
    # A second completion of the same task (a stale worker) charges nothing more.
    assert not store.complete(task.id, task.attempt, {}, "0.21", {})
    assert money(store, account) == ("0.79", Decimal("0"))


def test_failed_and_cancelled_tasks_cost_nothing(store: TaskStore, clock: FakeClock) -> None:
    account = store.set_balance(store.ensure_account("a").id, Decimal("1.00"))
    pending = submit(store, account)
    store.request_cancel(account.id, pending.id)
    assert money(store, account) == ("1.00", Decimal("0"))

    submit(store, account)
    failed = store.claim("w", [MODEL], 60, 3)
    assert failed is not None
    store.fail(failed.id, failed.attempt, "002001095", "boom")
    assert money(store, account) == ("1.00", Decimal("0"))

    submit(store, account)
    running = store.claim("w", [MODEL], 60, 3)
    assert running is not None
    store.request_cancel(account.id, running.id)
    store.mark_cancelled(running.id, running.attempt)
    assert money(store, account) == ("1.00", Decimal("0"))

    submit(store, account)
    lost = store.claim("w", [MODEL], 10, 1)
    assert lost is not None
    clock.advance(60)  # the worker died; the only attempt is spent: failed with ...098
    assert store.claim("w", [MODEL], 10, 1) is None
    assert money(store, account) == ("1.00", Decimal("0"))


def test_top_up_and_unlimited(store: TaskStore) -> None:
    account = store.ensure_account("a")
    with pytest.raises(StoreError):
        store.top_up(account.id, Decimal("1"))
    account = store.set_balance(account.id, Decimal("0.10"))
    with pytest.raises(InsufficientFunds):
        submit(store, account)
    account = store.top_up(account.id, Decimal("0.05"))
    assert account.balance == "0.15"
    submit(store, account)
    with pytest.raises(ValueError, match="positive"):
        store.top_up(account.id, Decimal("-1"))
    assert store.set_balance(account.id, None).balance is None


def test_the_unfinished_task_limit_admits_again_when_a_task_finishes(store: TaskStore) -> None:
    account = store.ensure_account("a")
    first = submit(store, account, limit=2)
    submit(store, account, limit=2)
    with pytest.raises(TooManyUnfinished):
        submit(store, account, limit=2)
    store.request_cancel(account.id, first.id)
    submit(store, account, limit=2)
    # The account's own limit wins over the server's default.
    store.set_max_unfinished(account.id, 5)
    submit(store, account, limit=2)
    assert len(store.list_tasks(account.id, limit=10).tasks) == 4


def test_parallel_submissions_never_overdraw(store_factory: StoreFactory, tmp_path: Path) -> None:
    clock = FakeClock()
    setup = store_factory(tmp_path, clock)
    setup.migrate()
    account = setup.set_balance(setup.ensure_account("a").id, Decimal("1.00"))
    accepted: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        # Each thread its own store instance: its own connections, like separate API processes.
        mine = store_factory(tmp_path, clock)
        for _ in range(5):
            try:
                task = submit(mine, account)
            except InsufficientFunds:
                with lock:
                    refused.append("x")
            else:
                with lock:
                    accepted.append(task.id)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 7
    assert len(refused) == 33
    assert money(setup, account) == ("1.00", Decimal("0.98"))
