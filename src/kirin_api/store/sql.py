"""The behaviour of the SQL task stores, shared by SQLite and PostgreSQL.

:class:`SqlTaskStore` implements every method of :class:`~kirin_api.store.base.TaskStore` once,
on two SQLAlchemy engines (``_writer`` for write transactions, ``_reader`` for reads) and the
statements of :mod:`kirin_api.store.queries` and its sibling modules. This module holds the
transactions and the tasks' life; accounts, elements, callbacks, uploads and the worker
registry are mixins beside it (:mod:`.sql_accounts`, :mod:`.elements`, :mod:`.sql_outbox`,
:mod:`.uploads`, :mod:`.registry`). A subclass builds the engines (how a write transaction
begins, the pool) and may widen :meth:`SqlTaskStore._translate`.

Why one implementation is correct on both databases:

- SQLite: every write transaction is the only writer (``BEGIN IMMEDIATE``), so reads inside it
  cannot race anything.
- PostgreSQL (``READ COMMITTED``): every write that depends on what it read locks that row first.
  Status changes are ``UPDATE`` statements fenced by status and attempt (the row is locked by the
  update itself); the account row is read ``FOR NO KEY UPDATE`` before money or the
  unfinished-task limit is checked in Python, or changed by one ``UPDATE`` that computes the new
  amounts itself; claiming and the lease sweeps lock with ``FOR UPDATE SKIP LOCKED`` so concurrent
  claimers pass each other by; accounts are locked in a fixed order. The ``FOR ...`` clauses
  compile to nothing on SQLite.

Round trips (PostgreSQL): a write that is one statement runs on its own, in autocommit mode
(``_write_statement``), with no ``BEGIN`` and ``COMMIT``: a claim (its outbox row included),
a heartbeat, and the completion, failure or cancellation of a task that has no callback_url (its
money included). Anything that writes twice runs in a transaction (``_write``). Pooled
connections are checked without a round trip (see :mod:`kirin_api.store.postgres`).

Errors: SQLAlchemy's ``OperationalError``/``InterfaceError``/``DatabaseError`` and a pool that
times out become :class:`StoreUnavailable` (503); ``IntegrityError`` is handled where it can
happen (a duplicate ``external_task_id`` is found before the insert, under the account's lock:
:class:`DuplicateExternalId`, see :mod:`kirin_api.store.task_admission`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, exc

from kirin_api.contract.errors import TaskErrorKind, task_error_code
from kirin_api.contract.ids import ulid
from kirin_api.contract.status import TaskStatus
from kirin_api.store import (
    accounts,
    migrations,
    queries,
    slots,
    task_admission,
    task_finish,
    task_leases,
)
from kirin_api.store.async_reads import AsyncReads
from kirin_api.store.base import (
    Heartbeat,
    NewTask,
    Page,
    StoreError,
    StoreUnavailable,
    Submission,
    TaskAlreadyFinished,
    TaskRecord,
)
from kirin_api.store.elements import ElementsMixin
from kirin_api.store.fast_reads import FastReads
from kirin_api.store.registry import RegistryMixin
from kirin_api.store.sql_accounts import AccountsMixin
from kirin_api.store.sql_outbox import OutboxMixin
from kirin_api.store.task_watch import TaskWatchMixin
from kirin_api.store.uploads import UploadsMixin

# Seconds between two sweeps of expired leases by one store (see ``claim``).
SWEEP_INTERVAL = 1.0
# At most this many claimed tasks are remembered to have no callback_url (see ``claim``); a
# worker holds a few at a time, the rest are tasks it never finished (a lost lease, an outage).
MAX_REMEMBERED = 1024


class SqlTaskStore(
    AccountsMixin, ElementsMixin, OutboxMixin, RegistryMixin, UploadsMixin, TaskWatchMixin
):
    """:class:`~kirin_api.store.base.TaskStore` on SQLAlchemy engines; see the module docstring.

    ``writer`` runs write transactions, ``reader`` read-only ones (it may be the same engine);
    ``single``, if given, the writes that are one statement, each its own transaction (the same
    pool as ``writer`` in autocommit mode: PostgreSQL). ``describe`` names the database in error
    messages (never a password). ``clock`` gives every time the store writes (Unix seconds);
    tests inject a fake one. One instance serves all threads of a process; a child process
    created by ``fork`` gets fresh connections on first use.
    """

    quick_reads = False
    async_reads: AsyncReads | None = None

    def __init__(
        self,
        writer: Engine,
        reader: Engine,
        *,
        describe: str,
        clock: Callable[[], float] = time.time,
        single: Engine | None = None,
    ) -> None:
        self._writer = writer
        self._reader = reader
        # The reads of every request, each one statement (see kirin_api.store.fast_reads).
        self._fast = FastReads(reader)
        # Runs the writes that are one statement (see ``_write_statement``).
        self._single = writer if single is None else single
        # Whether a task without a callback_url is finished by one statement on its own
        # (``task_finish._finish``'s ``alone``): where single statements commit on their own.
        self._finish_alone = single is not None
        # The tasks claimed by this store that have no callback_url (see ``_finish_task``).
        self._without_callback: set[str] = set()
        self._describe = describe
        self._clock = clock
        self._pid = os.getpid()
        self._secrets: dict[str, bytes] = {}
        # Slot groups whose rows this store has made sure of (see ``acquire_slot``).
        self._slot_groups: set[str] = set()
        # By the store's clock, per set of models: when ``claim`` sweeps expired leases next.
        self._next_sweep: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close every pooled connection (the store reopens them if used again)."""
        self._writer.dispose()
        self._reader.dispose()

    # --- transactions and errors ---------------------------------------------------------

    def _check_fork(self) -> None:
        # Connections must never be shared with a forked child: drop (without closing, which
        # would disturb the parent) the ones inherited from the parent.
        if os.getpid() != self._pid:
            with self._lock:
                if os.getpid() != self._pid:
                    self._writer.dispose(close=False)
                    self._reader.dispose(close=False)
                    self._pid = os.getpid()

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """Foreign database errors into :class:`StoreUnavailable`; integrity errors pass."""
        try:
            yield
        except exc.IntegrityError:
            raise
        except (exc.OperationalError, exc.InterfaceError, exc.DatabaseError) as error:
            # Unreachable, locked past the timeout, not migrated, a corrupt file, a deadlock
            # victim: the request may be retried later; nothing the caller sent was wrong.
            raise StoreUnavailable(
                f"the database {self._describe} cannot be used: {error.orig}"
            ) from error
        except exc.TimeoutError as error:  # the pool had no connection to give in time
            raise StoreUnavailable(
                f"the database {self._describe} cannot be used: {error}"
            ) from error

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on error."""
        self._check_fork()
        with self._translate(), self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _write_statement(self) -> Iterator[Connection]:
        """For work whose writes are one statement (reads may follow it): on the ``single``
        engine, where each statement may be its own transaction (PostgreSQL in autocommit mode:
        no BEGIN and COMMIT round trips); without one, a write transaction as ``_write``. Two
        writes that must commit together never belong here."""
        self._check_fork()
        with self._translate(), self._single.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        self._check_fork()
        with self._translate(), self._reader.begin() as conn:
            yield conn

    @contextmanager
    def _fast_read(self) -> Iterator[FastReads]:
        """For a read that is one statement, without a transaction (see :mod:`.fast_reads`)."""
        self._check_fork()
        with self._translate():
            yield self._fast

    # --- schema and health ---------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest revision, safe when many processes start at once.

        The upgrade runs inside one write transaction on the connection Alembic uses, which first
        takes the migration lock (SQLite: ``BEGIN IMMEDIATE`` already is one; PostgreSQL: a
        transaction-scoped advisory lock, as its DDL is transactional): concurrent callers wait,
        then find the schema current and do nothing."""
        with self._write() as conn:
            queries.lock_for_migration(conn)
            migrations.upgrade(conn)

    def ping(self) -> None:
        with self._read() as conn:
            queries.select_one(conn)

    def secret(self, name: str) -> bytes:
        cached = self._secrets.get(name)
        if cached is not None:
            return cached
        with self._write() as conn:
            queries.insert_secret_if_absent(conn, name, os.urandom(32), self._clock())
            value = queries.select_secret(conn, name)
        if value is None:  # pragma: no cover - inserted or kept in the same transaction
            raise StoreError(f"secret {name!r} vanished")
        self._secrets[name] = value
        return value

    # --- tasks, as the API sees them -----------------------------------------------------

    def create_task(self, task: NewTask, *, max_unfinished: int | None = None) -> TaskRecord:
        outcome = self.create_tasks([Submission(task, max_unfinished)])[0]
        if isinstance(outcome, StoreError):
            raise outcome
        return outcome

    def create_tasks(self, submissions: Sequence[Submission]) -> list[TaskRecord | StoreError]:
        """All of ``submissions`` in one write transaction (see
        :mod:`kirin_api.store.task_admission`)."""
        if not submissions:
            return []
        try:
            with self._write() as conn:
                return task_admission.create_batch(conn, submissions, self._enqueue)
        except exc.IntegrityError as error:  # only under a broken lock or file
            raise StoreError(f"tasks cannot be stored: {error.orig}") from error

    def get_task(self, account_id: str, task_id: str) -> TaskRecord | None:
        with self._fast_read() as reads:
            return queries.read_task(reads, account_id, task_id)

    def list_tasks(
        self,
        account_id: str,
        *,
        limit: int,
        cursor: str | None = None,
        status: TaskStatus | None = None,
        model: str | None = None,
        external_task_id: str | None = None,
        models: Sequence[str] | None = None,
        offset: int = 0,
    ) -> Page:
        """Newest first. ``cursor`` is opaque (an invalid one raises ``InvalidParameter``)."""
        if limit < 1 or offset < 0:
            raise ValueError(f"limit must be at least 1 and offset at least 0: {limit}, {offset}")
        before_id = queries.decode_cursor(cursor) if cursor else None
        # One more than asked tells whether there is a next page without a second query.
        if (before_id, status, model, external_task_id, models, offset) == (None,) * 5 + (0,):
            # The first page, unfiltered: what a client listing its tasks asks most.
            with self._fast_read() as reads:
                rows = queries.read_task_page(reads, account_id, limit + 1)
        else:
            with self._read() as conn:
                rows = queries.select_task_page(
                    conn,
                    account_id,
                    limit=limit + 1,
                    before_id=before_id,
                    status=None if status is None else TaskStatus(status).value,
                    model=model,
                    external_task_id=external_task_id,
                    models=models,
                    offset=offset,
                )
        return queries.page_of(rows[:limit], more=len(rows) > limit)

    def request_cancel(self, account_id: str, task_id: str) -> TaskRecord | None:
        now = self._clock()
        with self._write() as conn:
            record = queries.cancel_pending_task(conn, account_id, task_id, now)
            if record is not None:  # pending -> cancelled: a status change, so a callback
                self._enqueue(conn, [record.id])
                accounts.settle(conn, [record.id])
            else:
                record = queries.request_cancel_processing(conn, account_id, task_id, now)
            if record is not None:
                return record
            existing = queries.select_task(conn, account_id, task_id)
        if existing is None:
            return None
        raise TaskAlreadyFinished(f"task {task_id} is already {existing.status.value}")

    # --- tasks, as workers see them ------------------------------------------------------

    def claim(
        self, worker_id: str, models: Sequence[str], lease_seconds: float, max_attempts: int
    ) -> TaskRecord | None:
        models = list(models)
        if not models:
            return None
        now = self._clock()
        # First finish the lease-expired tasks that must not run again. The claim below never
        # hands those out (it wants attempts left and no cancel requested), so this sweep only
        # decides how soon they are finished: at most every SWEEP_INTERVAL per process, which
        # spares a busy worker two statements a claim.
        key = tuple(sorted(models))
        if now >= self._next_sweep.get(key, float("-inf")):
            self._next_sweep[key] = now + SWEEP_INTERVAL
            self._sweep(models, max_attempts, now)
        # Attempt 1 is the claim of a pending task (pending -> processing), a status change with
        # its delivery; a later attempt takes over a lease-expired task that was processing
        # already: no status change. On PostgreSQL both are one statement.
        with self._write_statement() as conn:
            task = task_leases.claim_next(
                conn,
                models=models,
                worker_id=worker_id,
                max_attempts=max_attempts,
                lease_expires_at=now + lease_seconds,
                now=now,
                delivery_id="msg_" + ulid(now),
            )
        if task is not None and task.callback_url is None and self._finish_alone:
            if len(self._without_callback) >= MAX_REMEMBERED:  # tasks never finished here
                self._without_callback.clear()
            self._without_callback.add(task.id)
        return task

    def _sweep(self, models: list[str], max_attempts: int, now: float) -> None:
        """Finish the lease-expired tasks of ``models`` that must not run again: cancel those
        whose cancel was requested, fail those out of attempts (their model's ``...098``)."""
        codes = {model: task_error_code(model, TaskErrorKind.STATUS_CHECK) for model in models}
        with self._write() as conn:
            finished = task_leases.cancel_expired_cancel_requested(conn, models, now)
            finished += task_leases.fail_exhausted(conn, models, codes, max_attempts, now)
            self._enqueue(conn, finished)
            accounts.settle(conn, finished)

    def wait_for_work(self, models: Sequence[str], timeout: float, stop: threading.Event) -> None:
        """No notifications here (SQLite): wait ``timeout`` or until ``stop``; the worker then
        polls ``claim`` again."""
        stop.wait(max(timeout, 0.0))

    def heartbeat(
        self, task_id: str, attempt: int, progress: float, lease_seconds: float
    ) -> Heartbeat:
        now = self._clock()
        progress = min(max(progress, 0.0), 1.0)
        # One write (the read after it only informs a worker that lost the lease).
        with self._write_statement() as conn:
            cancel = task_leases.extend_lease(
                conn, task_id, attempt, progress, now + lease_seconds, now
            )
            if cancel is None:
                return Heartbeat(
                    lease_held=False,
                    cancel_requested=task_leases.select_cancel_requested(conn, task_id),
                )
        return Heartbeat(lease_held=True, cancel_requested=cancel)

    def complete(
        self,
        task_id: str,
        attempt: int,
        result: dict[str, Any],
        usage_cost: str,
        metadata: dict[str, Any],
    ) -> bool:
        now = self._clock()

        def finish(conn: Connection, alone: bool) -> task_finish.Finished | None:
            return task_finish.complete_task(
                conn,
                task_id,
                attempt,
                result=result,
                usage_cost=usage_cost,
                metadata=metadata,
                now=now,
                alone=alone,
            )

        return self._finish_task(task_id, finish, charge=usage_cost)

    def fail(self, task_id: str, attempt: int, error_code: str, error_message: str) -> bool:
        now = self._clock()

        def finish(conn: Connection, alone: bool) -> task_finish.Finished | None:
            return task_finish.fail_task(
                conn, task_id, attempt, error_code, error_message, now, alone=alone
            )

        return self._finish_task(task_id, finish)

    def mark_cancelled(self, task_id: str, attempt: int) -> bool:
        now = self._clock()

        def finish(conn: Connection, alone: bool) -> task_finish.Finished | None:
            return task_finish.cancel_claimed_task(conn, task_id, attempt, now, alone=alone)

        return self._finish_task(task_id, finish)

    def defer(self, task_id: str, attempt: int, delay: float) -> bool:
        now = self._clock()
        with self._write() as conn:
            return task_leases.defer_task(conn, task_id, attempt, now + delay, now)

    # --- upstream engines: parallel-task slots --------------------------------------------

    def acquire_slot(self, group: str, capacity: int, holder: str, seconds: float) -> int | None:
        now = self._clock()
        with self._write() as conn:
            if group not in self._slot_groups:
                slots.ensure_slots(conn, group, capacity)
            slot = slots.acquire_slot(conn, group, capacity, holder, now + seconds, now)
        self._slot_groups.add(group)
        return slot

    def renew_slot(self, group: str, slot: int, holder: str, seconds: float) -> bool:
        with self._write() as conn:
            return slots.renew_slot(conn, group, slot, holder, self._clock() + seconds)

    def release_slot(self, group: str, slot: int, holder: str) -> None:
        with self._write() as conn:
            slots.release_slot(conn, group, slot, holder)

    def _finish_task(
        self,
        task_id: str,
        finish: Callable[[Connection, bool], task_finish.Finished | None],
        charge: str | None = None,
    ) -> bool:
        """Run ``finish`` (a fenced status change; ``alone``: see ``task_finish._finish``), then
        what must commit with it: the delivery if the task has a callback_url, and the money if
        ``finish`` did not settle it (SQLite); ``charge`` is what a completion costs."""
        if task_id in self._without_callback:
            # Claimed here without a callback_url, which never changes: on PostgreSQL the
            # status change, with its money, is the whole transaction, one statement on its own.
            # It finishes nothing if the lease was lost (or the task has a callback_url after
            # all): the transaction below then decides.
            self._without_callback.discard(task_id)
            with self._write_statement() as conn:
                if finish(conn, True) is not None:
                    return True
        with self._write() as conn:
            done = finish(conn, False)
            if done is None:
                return False
            if done.callback_url is not None:
                self._enqueue(conn, [task_id])
            if done.settled or (
                # Nothing held and nothing to charge (no charge, or an unlimited account).
                done.reserved_cost is None and (charge is None or done.balance is None)
            ):
                return True
            accounts.settle(conn, [task_id], charge=charge)
            return True
