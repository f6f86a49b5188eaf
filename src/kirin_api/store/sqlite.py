"""The task store on one SQLite file, shared by the API process and any number of worker processes.

How it stays correct across processes:

- WAL journal: readers never block the writer nor the writer readers.
- Every write transaction starts with ``BEGIN IMMEDIATE`` (SQLAlchemy's pysqlite recipe: the
  driver's own BEGIN is switched off and the engine's ``begin`` event emits ours). The write lock is
  taken up front, so a transaction never has to upgrade a read snapshot to a write lock, which in
  WAL mode fails at once with "database is locked" instead of waiting. Writers queue on
  ``busy_timeout``; only a wait longer than that becomes :class:`StoreUnavailable`.
- Reads use a second engine with a plain (deferred) ``BEGIN``: a consistent snapshot, no lock.
- Claiming is one ``UPDATE ... RETURNING`` inside that exclusive transaction, so two workers never
  take the same task.

Errors: ``sqlite3``/SQLAlchemy ``OperationalError`` (locked past the timeout, unable to open, no
such table) becomes :class:`StoreUnavailable`; the unique constraint on the external id becomes
:class:`DuplicateExternalId`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL

from kirin_api.store.base import StoreUnavailable
from kirin_api.store.sql import SqlTaskStore

__all__ = ["DEFAULT_BUSY_TIMEOUT", "SqliteTaskStore"]

DEFAULT_BUSY_TIMEOUT = 10.0  # seconds a writer waits for the lock before StoreUnavailable
# Connections each of the two engines keeps open: one per thread that uses the store at once
# (the API's threadpool, see ``Settings.api_threads``). More are opened only past that and closed
# when returned, each paying the connect hook's PRAGMAs: the pool must not be smaller.
DEFAULT_POOL_SIZE = 16


class SqliteTaskStore(SqlTaskStore):
    """:class:`~kirin_api.store.base.TaskStore` on the SQLite file at ``path``.

    ``clock`` gives every time the store writes (Unix seconds); tests inject a fake one.
    ``busy_timeout`` is how long a write waits for another process's write to finish.
    ``pool_size``: connections kept open per engine, at least the threads that use the store at
    once. The file's directory must exist. One instance serves all threads of a process; a child
    process created by ``fork`` gets fresh connections on first use.
    """

    # One indexed read of a local file: microseconds, and WAL readers wait for no writer.
    quick_reads = True

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._turn = threading.RLock()
        self._turn_pid = os.getpid()
        super().__init__(
            _engine(self.path, busy_timeout, pool_size, begin="BEGIN IMMEDIATE"),
            _engine(self.path, busy_timeout, pool_size, begin="BEGIN"),
            describe=str(self.path),
            clock=clock,
        )

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._in_turn(), super()._write() as conn:
            yield conn

    @contextmanager
    def _write_statement(self) -> Iterator[Connection]:
        with self._in_turn(), super()._write_statement() as conn:
            yield conn

    @contextmanager
    def _in_turn(self) -> Iterator[None]:
        """One writing thread of this process at a time.

        SQLite has one writer; a thread that finds the lock taken sleeps in SQLite's busy handler
        by growing steps (up to 100 ms) and tries again, so many threads of one process writing
        at once mostly sleep while the lock is free. Waiting here instead hands the turn over the
        moment the previous write commits; only other processes (workers) still meet the busy
        handler. Re-entrant: a write may run inside another of the same thread."""
        if self._turn_pid != os.getpid():  # a lock inherited through fork may be held forever
            self._turn, self._turn_pid = threading.RLock(), os.getpid()
        if not self._turn.acquire(timeout=self._busy_timeout):
            raise StoreUnavailable(
                f"the database {self.path} cannot be used: no turn to write in "
                f"{self._busy_timeout:g} s"
            )
        try:
            yield
        finally:
            self._turn.release()

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            with super()._translate():
                yield
        except sqlite3.OperationalError as error:  # raised by our own connect hook, unwrapped
            raise StoreUnavailable(f"the database {self.path} cannot be used: {error}") from error


def _engine(path: Path, busy_timeout: float, pool_size: int, *, begin: str) -> Engine:
    """An engine on ``path`` whose transactions start with ``begin`` (pysqlite recipe).

    Its pool keeps ``pool_size`` connections open for good, so that a request reuses one: opening
    a connection runs the PRAGMAs of the connect hook, which under load cost more than the query.
    Past ``pool_size`` up to as many again are opened and closed when returned (a burst of
    threads); past that a thread waits for one up to ``busy_timeout`` (then StoreUnavailable).
    ``check_same_thread`` is off because a pooled connection serves one thread at a time, but not
    always the same one (the pool's own contract).
    """
    url = URL.create("sqlite+pysqlite", database=str(path))
    engine = create_engine(
        url,
        connect_args={"timeout": busy_timeout, "check_same_thread": False},
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=busy_timeout,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Switch off the driver's own BEGIN (it skips SELECTs and cannot say IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # NORMAL is durable across application crashes in WAL mode; only power loss may
            # undo the last commits, and it never corrupts the file.
            cursor.execute("PRAGMA synchronous = NORMAL")
            _ensure_wal(cursor, busy_timeout)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


def _ensure_wal(cursor: sqlite3.Cursor, busy_timeout: float) -> None:
    """Switch the file to WAL (persistent, so usually already done by another process).

    Changing the journal mode can answer "database is locked" without waiting on the busy timeout
    while another process opens a fresh file, so it is retried up to the same time.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)
