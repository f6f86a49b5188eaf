"""PostgreSQL's hot reads on the event loop (``PostgresTaskStore.async_reads``, asyncpg) against a
real server: the same answers as the store's own reads, one account never sees another's, and
outages (a stopped server, a killed connection, a blocked read) are StoreUnavailable, after
which the reads recover on fresh connections."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
import pytest

from kirin_api.contract.ids import ulid
from kirin_api.store import NewTask, StoreUnavailable
from kirin_api.store.pg_async_reads import PgAsyncReads, asyncpg_dsn
from kirin_api.store.postgres import APPLICATION_NAME, PostgresTaskStore
from tests.pg_databases import PostgresDatabases

T2V = "kirin_v1_t2v"
T = TypeVar("T")


def run(reads: PgAsyncReads, body: Callable[[PgAsyncReads], Awaitable[T]]) -> T:
    """``body(reads)`` on a fresh event loop, the reads' connections closed on it after."""

    async def main() -> T:
        try:
            return await body(reads)
        finally:
            await reads.close()

    return asyncio.run(main())


def async_reads(store: PostgresTaskStore) -> PgAsyncReads:
    assert isinstance(store.async_reads, PgAsyncReads)
    return store.async_reads


def new_task(store: PostgresTaskStore, account_id: str, n: int = 0) -> str:
    # ULIDs order by the millisecond only: 2 ms apart, so id order is creation order.
    time.sleep(0.002)
    task_id = "task_" + ulid()
    store.create_task(NewTask(task_id, account_id, T2V, {"n": n}, None, None, time.time()))
    return task_id


def test_the_reads_answer_as_the_store_does_and_only_for_the_account(
    pg_databases: PostgresDatabases,
) -> None:
    store = PostgresTaskStore(pg_databases.fresh())
    alice, bob = store.ensure_account("alice"), store.ensure_account("bob")
    store.create_api_key(alice.id, "k", "hash-alice", "kirin_sk_a")
    revoked = store.create_api_key(bob.id, "k", "hash-bob", "kirin_sk_b")
    store.revoke_api_key(revoked.id)
    store.create_access_key(alice.id, "kling", "ak_alice", "v1.sealed-alice", "hash-ak-alice")
    bobs_pair = store.create_access_key(bob.id, "kling", "ak_bob", "v1.sealed-bob", "hash-ak-b")
    store.revoke_api_key(bobs_pair.id)
    alices = [new_task(store, alice.id, n) for n in range(5)]
    bobs = new_task(store, bob.id)

    async def body(reads: PgAsyncReads) -> None:
        assert await reads.account_for_key("hash-alice") == store.account_for_key("hash-alice")
        assert await reads.account_for_key("hash-bob") is None  # revoked
        assert await reads.account_for_key("no such hash") is None
        pair = await reads.access_key_pair("ak_alice")
        assert pair == store.access_key_pair("ak_alice")
        assert pair is not None
        assert (pair.account, pair.sealed_secret) == (alice, "v1.sealed-alice")
        assert await reads.access_key_pair("ak_bob") is None  # revoked
        assert await reads.access_key_pair("ak_nobody") is None
        # An access key is not an API key, nor the other way round.
        assert await reads.account_for_key("hash-ak-alice") is None
        assert await reads.access_key_pair("kirin_sk_a") is None
        assert await reads.get_task(alice.id, alices[0]) == store.get_task(alice.id, alices[0])
        # Another account's task is no task at all.
        assert await reads.get_task(alice.id, bobs) is None
        assert await reads.get_task(bob.id, alices[0]) is None
        page = await reads.first_page(alice.id, 3)
        assert page == store.list_tasks(alice.id, limit=3)
        assert [t.id for t in page.tasks] == alices[::-1][:3]
        assert page.next_cursor is not None
        whole = await reads.first_page(alice.id, 10)
        assert [t.id for t in whole.tasks] == alices[::-1]
        assert whole.next_cursor is None
        assert [t.id for t in (await reads.first_page(bob.id, 10)).tasks] == [bobs]

    run(async_reads(store), body)
    store.close()


def test_a_stopped_server_is_store_unavailable_then_the_reads_recover(
    pg_databases: PostgresDatabases,
) -> None:
    store = PostgresTaskStore(pg_databases.fresh(), connect_timeout=2)
    account = store.ensure_account("alice")
    task_id = new_task(store, account.id)
    server = pg_databases.server

    async def body(reads: PgAsyncReads) -> None:
        # Several connections open and idle in the pool when the server goes away.
        await asyncio.gather(*(reads.get_task(account.id, task_id) for _ in range(4)))
        server.stop()
        try:
            for read in (
                reads.get_task(account.id, task_id),
                reads.first_page(account.id, 10),
                reads.account_for_key("hash"),
                reads.access_key_pair("ak_any"),
            ):
                started = time.monotonic()
                with pytest.raises(StoreUnavailable, match="cannot be used"):
                    await read
                assert time.monotonic() - started < 2  # refused at once, no hang
        finally:
            server.start()
        # The dead connections were discarded: the first read after the restart works.
        found = await reads.get_task(account.id, task_id)
        assert found is not None
        assert found.id == task_id

    run(async_reads(store), body)
    store.close()


def _terminate_reads_connections(url: str) -> int:
    # Waits (up to 5 s) until each backend has ended.
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE application_name = %s AND pid <> pg_backend_pid()"
            " AND datname = current_database()",
            (APPLICATION_NAME,),
        ).fetchall()
    return len(rows)


def _reads_connections(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            " AND pid <> pg_backend_pid() AND datname = current_database()",
            (APPLICATION_NAME,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_killed_connection_is_replaced_not_reused(pg_databases: PostgresDatabases) -> None:
    url = pg_databases.fresh()
    store = PostgresTaskStore(url)
    account = store.ensure_account("alice")
    task_id = new_task(store, account.id)
    store.close()  # only the reads' connections stay open below

    async def body(reads: PgAsyncReads) -> None:
        await asyncio.gather(*(reads.get_task(account.id, task_id) for _ in range(3)))
        assert reads._pool is not None
        assert reads._pool.opened == 3
        dropped: list[int] = []
        drop_idle = reads._pool.drop_idle
        reads._pool.drop_idle = lambda: dropped.append(1) or drop_idle()  # type: ignore[method-assign,func-returns-value]
        # Killed from a blocking call: the loop has not read the server's goodbye yet, so the
        # first read meets a dead connection that still looks open.
        assert _terminate_reads_connections(url) == 3
        found = await reads.get_task(account.id, task_id)  # answered on a new connection
        assert found is not None
        assert dropped == [1]  # the read failed once, and the other idle ones were dropped
        for _ in range(3):
            assert await reads.get_task(account.id, task_id) is not None
        assert reads._pool.opened == 1

    run(async_reads(store), body)  # closes the reads' connections at the end
    deadline = time.monotonic() + 5
    while _reads_connections(url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _reads_connections(url) == 0


def test_a_read_that_cannot_finish_times_out_and_its_connection_is_dropped(
    pg_databases: PostgresDatabases,
) -> None:
    url = pg_databases.fresh()
    store = PostgresTaskStore(url)
    account = store.ensure_account("alice")
    task_id = new_task(store, account.id)
    reads = PgAsyncReads(
        url,
        describe="test",
        size=2,
        connect_timeout=2,
        command_timeout=0.5,
        acquire_timeout=1,
        application_name=APPLICATION_NAME,
    )

    async def body(reads: PgAsyncReads) -> None:
        with psycopg.connect(url) as locker:
            locker.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")  # held until rollback
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await reads.get_task(account.id, task_id)
            assert time.monotonic() - started < 3
            assert reads._pool is not None
            assert reads._pool.opened == 0  # not handed out again
            locker.rollback()
        found = await reads.get_task(account.id, task_id)
        assert found is not None

    run(reads, body)
    store.close()


def test_the_pool_is_made_per_event_loop() -> None:
    reads = PgAsyncReads(
        "postgresql://kirin@127.0.0.1:1/kirin",  # never connected to here
        describe="test",
        size=1,
        connect_timeout=1,
        command_timeout=1,
        acquire_timeout=1,
        application_name=APPLICATION_NAME,
    )

    async def pool_of_this_loop() -> object:
        return reads._pool_here()

    first, second = asyncio.run(pool_of_this_loop()), asyncio.run(pool_of_this_loop())
    assert first is not second


def test_libpq_only_parameters_are_not_sent_to_asyncpg() -> None:
    assert (
        asyncpg_dsn("postgresql://u:p@h:5/db?connect_timeout=3&sslmode=require&keepalives=1")
        == "postgresql://u:p@h:5/db?sslmode=require"
    )
