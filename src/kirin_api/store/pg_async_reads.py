"""The API's hot reads on PostgreSQL, on the event loop, with asyncpg (:class:`PgAsyncReads`).

The statements are the very ones the store runs elsewhere (:mod:`kirin_api.store.queries`'
SQLAlchemy selects, the same ``WHERE account_id = ...``), compiled once for asyncpg's dialect
(``$1`` parameters), sent with their values bound, prepared once per connection (asyncpg's
statement cache). asyncpg sends no ``BEGIN``: each statement is its own transaction and sees
one snapshot, as :mod:`.fast_reads` does with psycopg in autocommit mode.

Why asyncpg and not psycopg's ``AsyncConnection``: measured on the same server with sixteen
connections busy, a one-row read cost the event loop about 16 µs of CPU with asyncpg and
35 µs with psycopg (whose async path runs its protocol as Python generators); on the one thread
that serves every request, that difference is a tenth of a GET. The whole server under
``wrk -t2 -c64`` served GET one about 20% and the list about 15% faster with asyncpg than with
psycopg's ``AsyncConnection`` in this module's place.

Connections (see :mod:`.pg_async_pool`): at most ``size`` per process, opened on the running
loop when needed, each with the store's ``application_name`` and a ``statement_timeout``; a
process (or an event loop) never uses another's. Connecting waits at most ``connect_timeout``
seconds, a read at most ``command_timeout``, a free connection at most ``acquire_timeout``.

Errors: a server that is down, unreachable, starting, shutting down or without the schema, a
timeout, a connection lost mid-read: :class:`~kirin_api.store.base.StoreUnavailable`, and the
connection is discarded, never reused. A read that failed on a connection reused from the pool
because that connection had died meanwhile (a restart whose goodbye the loop has not read yet)
is tried once more on a new connection (the idle ones are dropped too: they most likely died
with it): reads change nothing, so a retry is safe.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.sql import Select

from kirin_api.store import accounts, queries, rows
from kirin_api.store.base import AccessKeyPair, Account, Page, StoreUnavailable, TaskRecord
from kirin_api.store.fast_reads import CompiledRead, RecordMemo
from kirin_api.store.pg_async_pool import Connection, ConnectionPool

# libpq's connection parameters that asyncpg does not know: asyncpg would send them to the
# server as settings, which refuses them. Their work is done here by our own arguments.
_LIBPQ_ONLY = frozenset(
    {
        "connect_timeout",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "fallback_application_name",
    }
)
# Errors of a connection rather than of a statement: a retry on a new connection may succeed.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.InterfaceError,  # ConnectionDoesNotExistError ...: the connection is gone
    asyncpg.PostgresConnectionError,  # the server refused or dropped it
    asyncpg.AdminShutdownError,  # the server is shutting down: FATAL, the connection closes
    OSError,
)


@functools.cache
def _compiled(statement: Select[Any]) -> CompiledRead:
    return CompiledRead(statement, PGDialect_asyncpg())  # type: ignore[no-untyped-call]


def asyncpg_dsn(libpq_url: str) -> str:
    """``postgresql://...`` without the query parameters that only libpq understands."""
    parts = urlsplit(libpq_url)
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k not in _LIBPQ_ONLY]
    return urlunsplit(parts._replace(query=urlencode(kept)))


class PgAsyncReads:
    """:class:`~kirin_api.store.async_reads.AsyncReads` on the PostgreSQL database at
    ``dsn`` (a ``postgresql://`` URL, password included); ``describe`` names it in errors
    (never a password). See the module docstring for the rest."""

    def __init__(
        self,
        dsn: str,
        *,
        describe: str,
        size: int,
        connect_timeout: float,
        command_timeout: float,
        acquire_timeout: float,
        application_name: str,
    ) -> None:
        self._dsn = asyncpg_dsn(dsn)
        self._describe = describe
        self._size = size
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._acquire_timeout = acquire_timeout
        self._server_settings = {
            "application_name": application_name,
            # The server gives up too, a second after us: a backend waiting on a lock does not
            # notice that we closed the connection, and would wait on.
            "statement_timeout": str(int(command_timeout * 1000) + 1000),
        }
        self._pool: ConnectionPool | None = None
        self._pid = os.getpid()
        self._tasks = RecordMemo(rows.task_of)

    # --- the reads ---------------------------------------------------------------------------

    async def account_for_key(self, key_hash: str) -> Account | None:
        rows = await self._rows(accounts.ACCOUNT_FOR_KEY_HASH, {"key_hash": key_hash})
        return accounts.account_of(rows[0]) if rows else None

    async def access_key_pair(self, access_key: str) -> AccessKeyPair | None:
        rows = await self._rows(accounts.ACCESS_KEY_PAIR, {"access_key": access_key})
        return accounts.access_key_pair_of(rows[0]) if rows else None

    async def get_task(self, account_id: str, task_id: str) -> TaskRecord | None:
        values = {"task_id": task_id, "account_id": account_id}
        rows = await self._rows(queries.SELECT_TASK, values)
        return self._tasks.of(rows[0], _compiled(queries.SELECT_TASK).columns) if rows else None

    async def first_page(self, account_id: str, limit: int) -> Page:
        if limit < 1:
            raise ValueError(f"limit must be at least 1: {limit}")
        # One more than asked tells whether there is a next page without a second query.
        values = {"account_id": account_id, "page_limit": limit + 1}
        rows = await self._rows(queries.SELECT_PAGE, values)
        # The extra row only says that there is more: not decoded (three JSON columns).
        columns = _compiled(queries.SELECT_PAGE).columns
        tasks = [self._tasks.of(row, columns) for row in rows[:limit]]
        return queries.page_of(tasks, more=len(rows) > limit)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and pool.loop is _running_loop() and self._pid == os.getpid():
            await pool.close()

    # --- connections and errors --------------------------------------------------------------

    async def _rows(self, statement: Select[Any], values: dict[str, Any]) -> Sequence[Any]:
        """The rows (``asyncpg.Record``: by column name, like a mapping) of ``statement``."""
        compiled = _compiled(statement)
        arguments = cast(Sequence[Any], compiled.parameters(values))
        pool = self._pool_here()
        for last_try in (False, True):
            try:
                conn, reused = await pool.acquire()
            except (TimeoutError, asyncpg.PostgresError, *_CONNECTION_ERRORS) as error:
                raise self._unavailable(error) from error
            try:
                rows: Sequence[Any] = await conn.fetch(
                    compiled.sql, *arguments, timeout=self._command_timeout
                )
            except asyncpg.PostgresError as error:
                # The statement failed (no schema, cancelled by the server ...): the connection
                # is fine unless the server closed it (shutting down, terminated).
                if conn.is_closed():
                    pool.discard(conn)
                else:
                    pool.release(conn)
                if isinstance(error, _CONNECTION_ERRORS) and reused and not last_try:
                    pool.drop_idle()
                    continue
                raise self._unavailable(error) from error
            except BaseException as error:
                # Lost mid-read, timed out, cancelled: what the connection holds is unknown.
                pool.discard(conn)
                if isinstance(error, _CONNECTION_ERRORS) and reused and not last_try:
                    pool.drop_idle()  # they most likely died with it: try a new one
                    continue
                if isinstance(error, (TimeoutError, *_CONNECTION_ERRORS)):
                    raise self._unavailable(error) from error
                raise
            pool.release(conn)
            return rows
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _pool_here(self) -> ConnectionPool:
        """This loop's pool, made on first use (another loop's or process's is never used)."""
        pool = self._pool
        loop = _running_loop()
        if pool is None or pool.loop is not loop or self._pid != os.getpid():
            # Another process's (fork) or loop's connections are left alone: closing them here
            # would use sockets and a loop that are not ours.
            self._pid = os.getpid()
            pool = self._pool = ConnectionPool(
                self._connect, size=self._size, acquire_timeout=self._acquire_timeout, loop=loop
            )
        return pool

    async def _connect(self) -> Connection:
        return await asyncpg.connect(
            self._dsn,
            timeout=self._connect_timeout,
            command_timeout=self._command_timeout,
            server_settings=self._server_settings,
        )

    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        reason = str(error) or type(error).__name__
        return StoreUnavailable(f"the database {self._describe} cannot be used: {reason}")


def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()
