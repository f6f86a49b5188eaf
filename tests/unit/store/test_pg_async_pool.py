"""The asyncpg connection pool of PostgreSQL's hot reads, with stand-in connections: its bound,
its line of waiters, its timeout, and what happens to a place when a connection fails."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from kirin_api.store.pg_async_pool import ConnectionPool


class StandIn:
    """What the pool uses of an ``asyncpg.Connection``."""

    numbers = itertools.count()

    def __init__(self) -> None:
        self.number = next(self.numbers)
        self.closed = False

    def is_closed(self) -> bool:
        return self.closed

    def terminate(self) -> None:
        self.closed = True

    async def close(self, timeout: float) -> None:
        self.closed = True


def pool_of(size: int, *, acquire_timeout: float = 5.0, fail: list[bool] | None = None):  # type: ignore[no-untyped-def]
    async def connect() -> StandIn:
        await asyncio.sleep(0)
        if fail:
            raise OSError("connection refused")
        return StandIn()

    return ConnectionPool(
        connect, size=size, acquire_timeout=acquire_timeout, loop=asyncio.get_running_loop()
    )


def test_at_most_size_are_opened_and_a_given_back_one_goes_to_the_first_in_line() -> None:
    async def main() -> None:
        pool = pool_of(2)
        (a, new_a), (b, _) = await pool.acquire(), await pool.acquire()
        assert not new_a
        third = asyncio.ensure_future(pool.acquire())
        fourth = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.01)
        assert not third.done()
        assert pool.opened == 2
        pool.release(a)
        assert await third == (a, True)
        pool.release(b)
        assert await fourth == (b, True)
        pool.release(a)
        pool.release(b)
        assert await pool.acquire() == (b, True)  # last in, first out

    asyncio.run(main())


def test_a_wait_past_the_timeout_raises() -> None:
    async def main() -> None:
        pool = pool_of(1, acquire_timeout=0.05)
        await pool.acquire()
        with pytest.raises(TimeoutError):
            await pool.acquire()

    asyncio.run(main())


def test_a_discarded_or_dead_connection_frees_its_place() -> None:
    async def main() -> None:
        pool = pool_of(1)
        conn, _ = await pool.acquire()
        waiting = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.01)
        pool.discard(conn)
        fresh, reused = await waiting
        assert conn.closed
        assert fresh is not conn
        assert not reused
        assert pool.opened == 1
        pool.release(fresh)
        fresh.closed = True  # the server hung up while it was idle
        again, reused = await pool.acquire()
        assert again is not fresh
        assert not reused
        assert pool.opened == 1

    asyncio.run(main())


def test_a_failed_connect_frees_its_place_and_the_next_in_line_tries_at_once() -> None:
    async def main() -> None:
        fail = [True]
        pool = pool_of(1, fail=fail)
        first = asyncio.ensure_future(pool.acquire())
        second = asyncio.ensure_future(pool.acquire())
        for attempt in (first, second):
            with pytest.raises(OSError, match="refused"):
                await attempt
        assert pool.opened == 0
        fail.clear()
        conn, _ = await pool.acquire()
        assert pool.opened == 1
        pool.release(conn)

    asyncio.run(main())


def test_a_cancelled_waiter_passes_its_connection_on() -> None:
    async def main() -> None:
        pool = pool_of(1)
        conn, _ = await pool.acquire()
        cancelled = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.01)
        pool.release(conn)  # handed to the waiter ...
        cancelled.cancel()  # ... which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert await pool.acquire() == (conn, True)
        assert pool.opened == 1

    asyncio.run(main())


def test_close_closes_the_idle_ones_and_those_given_back_later() -> None:
    async def main() -> None:
        pool = pool_of(2)
        (a, _), (b, _) = await pool.acquire(), await pool.acquire()
        pool.release(a)
        await pool.close()
        assert a.closed
        pool.release(b)
        assert b.closed
        assert pool.opened == 0

    asyncio.run(main())
