"""The task store on PostgreSQL (psycopg 3; asyncpg for the API's hot reads), shared by any
number of API and worker processes on any number of machines.

The behaviour is :class:`~kirin_api.store.sql.SqlTaskStore`'s, the same code as on SQLite; what
differs is how it meets the database:

- One pooled engine (SQLAlchemy's ``QueuePool`` over psycopg) per process. A connection is
  checked before it is handed out, without a round trip (:func:`_replace_if_closed_by_server`),
  so after PostgreSQL restarts the stale connections are replaced instead of failing the next
  request. ``connect_timeout`` bounds the wait for an unreachable server, ``pool_timeout`` the
  wait for a free connection: both become :class:`StoreUnavailable` (503), never a hang.
- The reads of nearly every API request (a key's account, one task, the first page of the
  list) also exist as coroutines, ``async_reads`` (:mod:`kirin_api.store.pg_async_reads`):
  the API runs them on its event loop over a few asyncpg connections of its own
  (``read_connections``) instead of sending each to a thread.
- Writes run in ``READ COMMITTED`` with explicit row locks where a read decides a write
  (``FOR NO KEY UPDATE`` on the account in admission and billing, ``FOR UPDATE SKIP LOCKED`` in
  claims and lease sweeps); reads run in a read-only ``REPEATABLE READ`` transaction: one
  snapshot. A write that is one statement (a claim, a heartbeat, most finishes) runs on the same
  pool in autocommit mode: one round trip, no ``BEGIN``/``COMMIT``.
- ``migrate()`` holds a transaction-scoped advisory lock around the Alembic upgrade (PostgreSQL's
  DDL is transactional), so many processes may start on a fresh database at once.
- Wake-ups: ``create_task`` sends ``NOTIFY kirin_tasks`` in its transaction; a worker waits in
  :meth:`PostgresTaskStore.wait_for_work` on a dedicated ``LISTEN`` connection (not pooled). A
  notification is lost while that connection is down, so the wait never outlasts the poll
  interval it was given: polling stays the fallback.

Errors: as :class:`SqlTaskStore` (``OperationalError``, ``InterfaceError``, pool timeouts:
:class:`StoreUnavailable`); psycopg's own errors on the listening connection are never raised: the
wait falls back to sleeping and reconnects on the next call.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import URL, make_url

from kirin_api.store import queries
from kirin_api.store.pg_async_reads import PgAsyncReads
from kirin_api.store.sql import SqlTaskStore

DEFAULT_POOL_SIZE = 5  # connections kept open per process
DEFAULT_MAX_OVERFLOW = 10  # more opened under load, closed when returned
DEFAULT_POOL_TIMEOUT = 10.0  # seconds to wait for a free connection before StoreUnavailable
DEFAULT_CONNECT_TIMEOUT = 5  # seconds to wait for the server (psycopg takes whole seconds)
# Connections of the API's reads on the event loop (see kirin_api.store.pg_async_reads), beside
# the pool above; a read waits for the server, not for Python, so a few serve many requests.
DEFAULT_READ_CONNECTIONS = 16
DEFAULT_READ_TIMEOUT = 10.0  # seconds one such read may take before StoreUnavailable
APPLICATION_NAME = "kirin"  # in pg_stat_activity
LISTEN_SLICE = 0.25  # seconds: how often a waiting worker looks at its stop event


def sqlalchemy_url(database_url: str) -> URL:
    """``postgresql://``/``postgres://``/``postgresql+psycopg://`` as SQLAlchemy's psycopg 3 URL."""
    url = make_url(database_url)
    if url.get_backend_name() not in {"postgresql", "postgres"}:
        raise ValueError(f"not a PostgreSQL URL: {url.render_as_string(hide_password=True)}")
    return url.set(drivername="postgresql+psycopg")


class PostgresTaskStore(SqlTaskStore):
    """:class:`~kirin_api.store.base.TaskStore` on the PostgreSQL database at ``database_url``.

    ``clock`` gives every time the store writes (Unix seconds); tests inject a fake one. The pool
    arguments size this process's share of the server's ``max_connections``.
    """

    def __init__(
        self,
        database_url: str,
        *,
        clock: Callable[[], float] = time.time,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
        connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
        read_connections: int = DEFAULT_READ_CONNECTIONS,
    ) -> None:
        self.url = sqlalchemy_url(database_url)
        self._connect_timeout = connect_timeout
        writer = create_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            connect_args={
                "connect_timeout": connect_timeout,
                "application_name": APPLICATION_NAME,
            },
        )
        event.listen(writer, "checkout", _replace_if_closed_by_server)
        # The same pool; the transaction is begun READ ONLY at one snapshot.
        reader = writer.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        # The same pool again, for the writes that are one statement: in autocommit mode the
        # statement is its own transaction, one round trip instead of three.
        single = writer.execution_options(isolation_level="AUTOCOMMIT")
        super().__init__(
            writer,
            reader,
            describe=self.url.render_as_string(hide_password=True),
            clock=clock,
            single=single,
        )
        # The API's hot reads on its event loop; connections are opened there, on first use.
        self.async_reads = PgAsyncReads(
            self._libpq_url(),
            describe=self._describe,
            size=read_connections,
            connect_timeout=connect_timeout,
            command_timeout=DEFAULT_READ_TIMEOUT,
            acquire_timeout=pool_timeout,
            application_name=APPLICATION_NAME,
        )
        self._listener: psycopg.Connection[tuple[object, ...]] | None = None
        self._listener_pid = os.getpid()
        self._listen_lock = threading.Lock()

    def close(self) -> None:
        """Close the pool and the listening connection (both reopen if used again)."""
        with self._listen_lock:
            if self._listener is not None and self._listener_pid == os.getpid():
                self._listener.close()
            self._listener = None
        super().close()

    # --- waking idle workers -------------------------------------------------------------

    def wait_for_work(self, models: Sequence[str], timeout: float, stop: threading.Event) -> None:
        """Return when a task of ``models`` was created (NOTIFY), ``stop`` is set, or ``timeout``
        seconds have passed, whichever comes first. Never raises: while the database is down it
        just waits (the caller's next ``claim`` reports the outage)."""
        deadline = time.monotonic() + max(timeout, 0.0)
        wanted = set(models)
        with self._listen_lock:
            listener = self._listening()
            if listener is None:
                stop.wait(timeout)
                return
            try:
                while not stop.is_set():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    # stop_after=1: back as soon as one notification arrives (without it the
                    # generator keeps collecting until the timeout). Always run to its end: a
                    # suspended generator would keep the connection's lock.
                    notes = list(listener.notifies(timeout=min(left, LISTEN_SLICE), stop_after=1))
                    if any(note.payload in wanted for note in notes):
                        self._drain(listener)
                        return
            except psycopg.Error:
                # Lost (a restart, a network cut): notifications sent meanwhile are gone, which
                # is why the caller polls anyway. Reconnect on the next wait.
                self._drop_listener()
                stop.wait(max(deadline - time.monotonic(), 0.0))

    def _listening(self) -> psycopg.Connection[tuple[object, ...]] | None:
        """The listening connection, opened (and ``LISTEN`` sent) if need be; None if the
        database cannot be reached now."""
        if self._listener_pid != os.getpid():  # inherited through fork: never use the parent's
            self._listener, self._listener_pid = None, os.getpid()
        if self._listener is not None and not self._listener.closed:
            return self._listener
        try:
            listener = psycopg.connect(
                self._libpq_url(), autocommit=True, connect_timeout=self._connect_timeout
            )
            listener.execute(queries.listen_tasks_sql())
        except psycopg.Error:
            return None
        self._listener = listener
        return listener

    def _libpq_url(self) -> str:
        """The database URL as libpq (and asyncpg) read it, password included."""
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    @staticmethod
    def _drain(listener: psycopg.Connection[tuple[object, ...]]) -> None:
        """Swallow the notifications already queued: the claim that follows sees those tasks
        anyway, and each one left would only cause an empty claim."""
        # A millisecond, not 0: the queued ones are read without waiting either way.
        for _ in listener.notifies(timeout=0.001):
            pass

    def _drop_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(psycopg.Error):  # closing a broken connection
                self._listener.close()
        self._listener = None


def _replace_if_closed_by_server(
    dbapi_connection: psycopg.Connection[Any], _record: Any, _proxy: Any
) -> None:
    """Pool ``checkout`` hook: refuse a pooled connection that the server has closed, so that the
    pool opens a new one (SQLAlchemy's ``DisconnectionError`` protocol), without a round trip.

    Between transactions the server sends nothing on a connection of the pool (it never
    ``LISTEN``s), so a socket with something to read, or at its end, means the server is
    hanging up: a restart, ``pg_terminate_backend``, an idle timeout all send a FATAL error
    and close it. Such a connection would fail its next statement; replacing it here is what
    ``pool_pre_ping`` did with a ``SELECT`` on every checkout. A connection that died
    silently (a network cut) still fails its first statement, after which SQLAlchemy
    invalidates the pool's connections, as it would have failed the ping.
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        raise exc.DisconnectionError("the connection is closed")
    try:
        fd = dbapi_connection.pgconn.socket
    except psycopg.OperationalError as error:
        raise exc.DisconnectionError(str(error)) from error
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        readable = bool(poller.poll(0))
    else:  # pragma: no cover - Windows
        readable = bool(select.select([fd], [], [], 0)[0])
    if readable:
        raise exc.DisconnectionError("the server closed the connection")
