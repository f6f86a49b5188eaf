"""What only the PostgreSQL store does: its URLs, concurrent migrations and claims across
processes, wake-ups through LISTEN/NOTIFY, and outages (StoreUnavailable, then recovery)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kirin_api.contract.ids import ulid
from kirin_api.contract.status import TaskStatus
from kirin_api.store import NewTask, StoreUnavailable, open_store
from kirin_api.store.migrations import head_revision
from kirin_api.store.postgres import PostgresTaskStore, sqlalchemy_url
from kirin_api.store.schema import metadata
from tests.integration.store import procs
from tests.integration.store.test_sqlite_processes import run_children
from tests.pg_databases import PostgresDatabases

T2V = "kirin_v1_t2v"


def new_task(store: PostgresTaskStore, account_id: str, n: int = 0, model: str = T2V) -> str:
    task_id = "task_" + ulid()
    store.create_task(NewTask(task_id, account_id, model, {"n": n}, None, None, time.time()))
    return task_id


def test_open_store_postgresql_urls() -> None:
    for url in (
        "postgresql://kirin:secret@db:5432/kirin",
        "postgres://kirin:secret@db/kirin",
        "postgresql+psycopg://kirin:secret@db/kirin",
    ):
        store = open_store(url)
        assert isinstance(store, PostgresTaskStore)
        assert store.url.drivername == "postgresql+psycopg"
        assert "secret" not in store._describe  # never a password in an error message
    with pytest.raises(ValueError, match="PostgreSQL"):
        sqlalchemy_url("mysql://db/kirin")


def test_migrated_schema_matches_metadata(pg_databases: PostgresDatabases) -> None:
    store = PostgresTaskStore(pg_databases.fresh(migrated=False))
    store.migrate()
    with store._reader.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    store.close()
    assert diff == []


@pytest.mark.slow
def test_concurrent_migrate_on_a_fresh_database(pg_databases: PostgresDatabases) -> None:
    url = pg_databases.fresh(migrated=False)
    results = run_children(procs.migrate, [(url, f"m{i}") for i in range(4)])
    assert results == {f"m{i}": "ok" for i in range(4)}
    store = PostgresTaskStore(url)
    with store._reader.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    assert version == [head_revision()]
    assert [a.name for a in store.list_accounts()] == ["shared"]
    store.close()


@pytest.mark.slow
def test_concurrent_claims_take_each_task_once(pg_databases: PostgresDatabases) -> None:
    url = pg_databases.fresh()
    store = PostgresTaskStore(url)
    account = store.ensure_account("alice")
    ids = [new_task(store, account.id, n) for n in range(200)]

    results = run_children(procs.claim_until_empty, [(url, f"w{i}") for i in range(4)])

    errors = {w: r for w, r in results.items() if isinstance(r, str)}
    assert not errors
    claims = Counter(task_id for claimed in results.values() for task_id in claimed)
    assert sorted(claims) == sorted(ids)
    assert set(claims.values()) == {1}
    for claimed in results.values():
        assert claimed == sorted(claimed)
    assert sum(1 for claimed in results.values() if claimed) >= 2
    done = store.list_tasks(account.id, limit=300, status=TaskStatus.COMPLETED).tasks
    assert len(done) == 200
    assert all(task.attempt == 1 for task in done)
    store.close()


def test_a_new_task_wakes_a_waiting_worker(pg_databases: PostgresDatabases) -> None:
    store = PostgresTaskStore(pg_databases.fresh())
    account = store.ensure_account("alice")
    stop = threading.Event()
    # Nothing happens: the wait lasts its timeout.
    started = time.monotonic()
    store.wait_for_work([T2V], 0.3, stop)
    assert 0.25 <= time.monotonic() - started < 2
    # A task of another model does not wake a worker that cannot run it.
    other = PostgresTaskStore(store.url.render_as_string(hide_password=False))
    woke: list[float] = []

    def waiter() -> None:
        begun = time.monotonic()
        store.wait_for_work([T2V], 5.0, stop)
        woke.append(time.monotonic() - begun)

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.3)  # the listener is up
    new_task(other, account.id, model="kirin_v1_i2v")
    time.sleep(0.3)
    assert not woke
    new_task(other, account.id)
    thread.join(timeout=5)
    assert woke
    assert woke[0] < 1.5
    # Stop ends a wait at once.
    stop.set()
    started = time.monotonic()
    store.wait_for_work([T2V], 5.0, stop)
    assert time.monotonic() - started < 0.5
    store.close()
    other.close()


@pytest.mark.slow
def test_an_outage_is_unavailable_then_recovers(pg_databases: PostgresDatabases) -> None:
    store = PostgresTaskStore(pg_databases.fresh(), connect_timeout=2)
    account = store.ensure_account("alice")
    first = new_task(store, account.id)
    server = pg_databases.server
    server.stop()
    try:
        with pytest.raises(StoreUnavailable):
            store.ping()
        with pytest.raises(StoreUnavailable):
            new_task(store, account.id)
        with pytest.raises(StoreUnavailable):
            store.claim("w", [T2V], 30, 3)
        # A worker's wait neither raises nor spins while the database is down.
        started = time.monotonic()
        store.wait_for_work([T2V], 0.3, threading.Event())
        assert time.monotonic() - started >= 0.25
    finally:
        server.start()
    # The pool's connections died with the server; pre-ping replaces them.
    store.ping()
    claimed = store.claim("w", [T2V], 30, 3)
    assert claimed is not None
    assert claimed.id == first
    assert store.complete(claimed.id, claimed.attempt, {}, "0.1", {})
    store.close()
