"""A small pool of asyncpg connections on one event loop, for :mod:`.pg_async_reads`.

Why not ``asyncpg.create_pool``: its acquire and release wrap every connection in a proxy, reset
its state on release and run a few coroutines per checkout, tens of microseconds of Python per
read on the one thread that serves every request. This pool does only what the reads need:

- at most ``size`` connections, opened when a read finds none idle (never all at start), kept
  open for the next read (last in, first out: the warm ones stay busy);
- a read that finds none idle and the pool full waits in line, at most ``acquire_timeout``
  seconds (then :class:`TimeoutError`); a connection handed back goes to the first in line;
- a connection that the server has closed (a restart, ``pg_terminate_backend``, an idle timeout)
  is noticed by the loop when the server's goodbye arrives: it is dropped when next met idle,
  never handed out; one that failed mid-read is discarded by the caller (:meth:`discard`);
- it belongs to the loop that created it: :class:`~.pg_async_reads.PgAsyncReads` makes a new
  one on another loop or in a forked child, and never touches the old one's sockets there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

# A connection: an ``asyncpg.Connection`` (asyncpg has no type hints).
Connection = Any


class ConnectionPool:
    """See the module docstring. ``connect`` opens one connection (raising on failure)."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Connection]],
        *,
        size: int,
        acquire_timeout: float,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.loop = loop
        self._connect = connect
        self._size = size
        self._acquire_timeout = acquire_timeout
        self._idle: list[Connection] = []
        self._opened = 0  # open or being opened
        # In line for a connection: each gets one, or None ("a place is free: open one").
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self._closed = False

    @property
    def opened(self) -> int:
        """Connections open or being opened."""
        return self._opened

    async def acquire(self) -> tuple[Connection, bool]:
        """A connection, and whether it was used before (idle in the pool) rather than new."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                return conn, True
            self._opened -= 1  # closed by the server while idle
        if self._opened < self._size:
            self._opened += 1
        else:
            conn = await self._wait()
            if conn is not None:
                return conn, True
            # None: a place was freed and counted for us (see ``_wake_to_open``).
        return await self._open(), False

    def release(self, conn: Connection) -> None:
        """Give back a connection after a read that went well."""
        if self._closed or conn.is_closed():
            self.discard(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def discard(self, conn: Connection) -> None:
        """Drop a connection whose state is unknown (an error mid-read, a timeout, a cancelled
        read): its socket is closed at once, and its place goes to the first in line."""
        with contextlib.suppress(Exception):  # it may be broken already
            conn.terminate()
        self._opened -= 1
        self._wake_to_open()

    def drop_idle(self) -> None:
        """Discard every idle connection (one was found dead: the others most likely died with
        it, in a restart, and would each fail one more read)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            self.discard(conn)

    async def close(self) -> None:
        """Close the idle connections; those in use are closed when given back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            self._opened -= 1
            try:
                await conn.close(timeout=1.0)  # says goodbye to the server
            except Exception:  # already broken: just drop it
                with contextlib.suppress(Exception):
                    conn.terminate()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(TimeoutError("the pool was closed"))

    async def _open(self) -> Connection:
        """Open a connection in a place already counted in ``_opened``."""
        try:
            return await self._connect()
        except BaseException:
            self._opened -= 1
            # The next in line tries for itself (and, if the server is down, fails as fast).
            self._wake_to_open()
            raise

    async def _wait(self) -> Connection | None:
        waiter: asyncio.Future[Connection | None] = self.loop.create_future()
        self._waiters.append(waiter)
        expiry = self.loop.call_later(self._acquire_timeout, _expire, waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            # Cancelled after a connection was handed over but before it was taken: give it on.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                conn = waiter.result()
                if conn is None:  # the place counted for us goes to the next in line
                    self._opened -= 1
                    self._wake_to_open()
                else:
                    self.release(conn)
            raise
        finally:
            expiry.cancel()

    def _wake_to_open(self) -> None:
        if self._opened >= self._size:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._opened += 1  # the place is the waiter's (it opens the connection)
                waiter.set_result(None)
                return


def _expire(waiter: asyncio.Future[Connection | None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no database connection was free in time"))
