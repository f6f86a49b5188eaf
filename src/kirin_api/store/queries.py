"""The statements of the database's health and secrets and of tasks as the API sees them
(create, read, list, cancel), and the task list's cursors.

Every statement of the task store is a function of an open :class:`~sqlalchemy.engine.Connection`
inside a transaction that the caller chose (the SQLite store begins writes with
``BEGIN IMMEDIATE``), in a module by what it is about: this one, :mod:`.task_leases` (claims,
heartbeats, sweeps), :mod:`.task_finish`, :mod:`.accounts` (keys and money), :mod:`.elements`
and :mod:`.outbox` (callbacks); what they share is in :mod:`.rows`. The statements are
SQLAlchemy Core expressions written to mean the same on SQLite and PostgreSQL:

- upserts use each dialect's ``INSERT ... ON CONFLICT DO NOTHING`` (:func:`.rows.insert_for`);
- claiming is one ``UPDATE ... WHERE id = (SELECT ... ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING ...``; SQLite drops the ``FOR UPDATE`` clause (its ``BEGIN IMMEDIATE`` already made the
  transaction the only writer), PostgreSQL uses it so concurrent claimers skip each other's row;
- every write by a worker is fenced by ``status = 'processing' AND attempt = :held_attempt``.

Where a statement runs once per request or per task (authenticate, read, list, claim,
heartbeat, finish, outbox) it is built once (a module constant or ``functools.cache``, values as
named bind parameters): building a Core statement costs more than running it. Where it pays,
PostgreSQL gets its own statement: the claim writes its outbox row, and a finish releases and
charges money, in the same statement (data-modifying CTEs), so that the store can run them in
autocommit mode, one round trip each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, func, literal, select, update

from kirin_api.contract.errors import InvalidParameter
from kirin_api.contract.status import TaskStatus
from kirin_api.store.base import NewTask, Page, TaskRecord
from kirin_api.store.fast_reads import FastReads
from kirin_api.store.rows import (
    PENDING,
    PROCESSING,
    dump_json,
    insert_for,
    task_of,
    task_record,
    unbase64,
)
from kirin_api.store.schema import secrets, tasks

# --- health and secrets ----------------------------------------------------------------------


# Keys of PostgreSQL advisory locks and the channel of NOTIFY; arbitrary, but fixed forever.
MIGRATION_LOCK_KEY = 0x4B6972696E  # "Kirin"
TASKS_CHANNEL = "kirin_tasks"


def lock_for_migration(conn: Connection) -> None:
    """PostgreSQL: wait for a transaction-scoped advisory lock, so that of many processes
    starting at once one migrates and the others then find the schema current. SQLite: nothing
    (its ``BEGIN IMMEDIATE`` already made the transaction the only writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))


def notify_new_task(conn: Connection, model: str) -> None:
    """PostgreSQL: ``NOTIFY kirin_tasks, model``, delivered to listening workers when the
    transaction commits (and never if it rolls back). SQLite: nothing (workers poll)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_notify(TASKS_CHANNEL, model)))


def listen_tasks_sql() -> str:
    """The statement a worker's listening connection runs (PostgreSQL only)."""
    return f"LISTEN {TASKS_CHANNEL}"


def select_one(conn: Connection) -> None:
    """A round trip to the database (``ping``)."""
    conn.execute(select(literal(1))).scalar_one()


def insert_secret_if_absent(conn: Connection, name: str, value: bytes, now: float) -> None:
    """The first process to ask creates the secret; every other keeps the first one's."""
    stmt = insert_for(conn, secrets).values(name=name, value=value, created_at=now)
    conn.execute(stmt.on_conflict_do_nothing(index_elements=[secrets.c.name]))


def select_secret(conn: Connection, name: str) -> bytes | None:
    value = conn.execute(select(secrets.c.value).where(secrets.c.name == name)).scalar_one_or_none()
    return None if value is None else bytes(value)


# --- tasks, as the API sees them -------------------------------------------------------------


def insert_tasks(conn: Connection, new: Sequence[NewTask]) -> list[TaskRecord]:
    """Insert pending tasks, in one statement where the driver can (SQLAlchemy's "insertmanyvalues"
    on PostgreSQL, the driver's executemany on SQLite); their records, built from what was
    written (RETURNING them would read back the same values, at a cost per row). The caller has
    made sure that no ``external_task_id`` is taken (under its account's lock): a unique
    constraint that refuses one fails the statement."""
    values = [_task_values(task) for task in new]
    if values:
        conn.execute(tasks.insert(), values)
    return [task_of({**_NEW_TASK_COLUMNS, **row}) for row in values]


# The columns of a new task that ``_task_values`` leaves to their defaults (all NULL).
_NEW_TASK_COLUMNS: dict[str, Any] = dict.fromkeys(
    (
        "completed_at",
        "error_code",
        "error_message",
        "result",
        "usage_cost",
        "lease_expires_at",
        "worker_id",
    )
)


def taken_external_ids(conn: Connection, account_id: str, wanted: Sequence[str]) -> set[str]:
    """Which of ``wanted`` the account's tasks already carry as their ``external_task_id``."""
    rows = conn.execute(
        select(tasks.c.external_task_id).where(
            tasks.c.account_id == account_id, tasks.c.external_task_id.in_(wanted)
        )
    )
    return {str(row[0]) for row in rows}


def _task_values(task: NewTask) -> dict[str, Any]:
    return dict(
        id=task.id,
        account_id=task.account_id,
        model=task.model,
        status=PENDING,
        progress=0.0,
        params=dump_json(task.params),
        external_task_id=task.external_task_id,
        callback_url=task.callback_url,
        created_at=task.created_at,
        updated_at=task.created_at,
        metadata=dump_json({}),
        attempt=0,
        cancel_requested=False,
        reserved_cost=task.reserve,
        dialect=task.dialect,
    )


# Built once, as every request runs them (see the module docstring).
SELECT_TASK = select(tasks).where(
    tasks.c.id == bindparam("task_id"), tasks.c.account_id == bindparam("account_id")
)
# The page without filters (what a client listing its tasks asks); filtered pages are built.
SELECT_PAGE = (
    select(tasks)
    .where(tasks.c.account_id == bindparam("account_id"))
    .order_by(tasks.c.id.desc())
    .limit(bindparam("page_limit"))
)


def read_task(reads: FastReads, account_id: str, task_id: str) -> TaskRecord | None:
    """:func:`select_task` as a fast read (see :mod:`.fast_reads`)."""
    records = reads.records(SELECT_TASK, {"task_id": task_id, "account_id": account_id}, task_of)
    return records[0] if records else None


def read_task_page(reads: FastReads, account_id: str, limit: int) -> list[TaskRecord]:
    """The newest ``limit`` tasks of the account (no filter, no cursor), as a fast read."""
    return reads.records(SELECT_PAGE, {"account_id": account_id, "page_limit": limit}, task_of)


def select_task(conn: Connection, account_id: str, task_id: str) -> TaskRecord | None:
    row = conn.execute(SELECT_TASK, {"task_id": task_id, "account_id": account_id}).one_or_none()
    return None if row is None else task_record(row)


def select_task_page(
    conn: Connection,
    account_id: str,
    *,
    limit: int,
    before_id: str | None,
    status: str | None,
    model: str | None,
    external_task_id: str | None,
    models: Sequence[str] | None = None,
    offset: int = 0,
) -> list[TaskRecord]:
    """Up to ``limit`` tasks newest first (ids are ULIDs), starting below ``before_id``, after
    skipping ``offset`` of them."""
    conditions: list[ColumnElement[bool]] = [tasks.c.account_id == account_id]
    if before_id is not None:
        conditions.append(tasks.c.id < before_id)
    if status is not None:
        conditions.append(tasks.c.status == status)
    if model is not None:
        conditions.append(tasks.c.model == model)
    if external_task_id is not None:
        conditions.append(tasks.c.external_task_id == external_task_id)
    if models is not None:
        conditions.append(tasks.c.model.in_(list(models)))
    stmt = select(tasks).where(*conditions).order_by(tasks.c.id.desc()).limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return [task_record(row) for row in conn.execute(stmt)]


def cancel_pending_task(
    conn: Connection, account_id: str, task_id: str, now: float
) -> TaskRecord | None:
    """Pending -> cancelled at once (no worker holds it); None if the task is not pending."""
    stmt = (
        update(tasks)
        .where(
            tasks.c.id == task_id,
            tasks.c.account_id == account_id,
            tasks.c.status == PENDING,
        )
        .values(
            status=TaskStatus.CANCELLED.value,
            cancel_requested=True,
            updated_at=now,
            completed_at=now,
        )
        .returning(*tasks.c)
    )
    row = conn.execute(stmt).one_or_none()
    return None if row is None else task_record(row)


def request_cancel_processing(
    conn: Connection, account_id: str, task_id: str, now: float
) -> TaskRecord | None:
    """Processing: ask its worker to stop; None if the task is not processing."""
    stmt = (
        update(tasks)
        .where(
            tasks.c.id == task_id,
            tasks.c.account_id == account_id,
            tasks.c.status == PROCESSING,
        )
        .values(cancel_requested=True, updated_at=now)
        .returning(*tasks.c)
    )
    row = conn.execute(stmt).one_or_none()
    return None if row is None else task_record(row)


# --- the task list's cursors --------------------------------------------------------------


def encode_cursor(last_id: str) -> str:
    """The opaque ``next_cursor``: the id of the last task on the page (keyset paging)."""
    return last_id


def page_of(tasks: Sequence[TaskRecord], *, more: bool) -> Page:
    """A page of ``tasks``, with the cursor after its last task when ``more`` follow it."""
    return Page(tasks=tasks, next_cursor=encode_cursor(tasks[-1].id) if more else None)


def decode_cursor(cursor: str) -> str:
    """The task id a cursor continues below (the base64 cursors of before are read too);
    :class:`InvalidParameter` if it is not one of ours."""
    last_id = cursor if _is_task_id(cursor) else unbase64(cursor)
    if not _is_task_id(last_id):
        raise InvalidParameter(
            "cursor is not valid: pass the next_cursor of a previous page unchanged",
            param="cursor",
        )
    return last_id


def _is_task_id(value: str) -> bool:
    prefix, _, rest = value.partition("_")
    return prefix == "task" and bool(rest) and rest.isascii() and rest.isalnum()
