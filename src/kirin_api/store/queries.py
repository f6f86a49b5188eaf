"""Every statement the task store runs, named and parameterised, and the mapping of rows to records.

Each function takes an open :class:`~sqlalchemy.engine.Connection` inside a transaction that the
caller chose (the SQLite store begins writes with ``BEGIN IMMEDIATE``). The statements are
SQLAlchemy Core expressions written to mean the same on SQLite and PostgreSQL:

- upserts use each dialect's ``INSERT ... ON CONFLICT DO NOTHING`` (:func:`_insert`);
- claiming is one ``UPDATE ... WHERE id = (SELECT ... ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING ...``; SQLite drops the ``FOR UPDATE`` clause (its ``BEGIN IMMEDIATE`` already made the
  transaction the only writer), PostgreSQL uses it so concurrent claimers skip each other's row;
- every write by a worker is fenced by ``status = 'processing' AND attempt = :held_attempt``.

Where a statement runs once per task (claim, heartbeat, finish, outbox) it is built once
(``functools.cache``, values as named bind parameters): building a Core statement costs more than
running it. Where it pays, PostgreSQL gets its own statement: the claim writes its outbox row,
and a finish releases and charges money, in the same statement (data-modifying CTEs), so that
the store can run them in autocommit mode, one round trip each.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Double,
    Integer,
    Numeric,
    Row,
    String,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from kirin_api import fastjson
from kirin_api.contract.errors import InvalidParameter
from kirin_api.contract.status import TaskStatus
from kirin_api.store.base import (
    Account,
    ApiKey,
    DeliveryRecord,
    Element,
    NewElement,
    NewTask,
    Page,
    TaskRecord,
    WebhookSecrets,
)
from kirin_api.store.fast_reads import FastReads
from kirin_api.store.schema import (
    accounts,
    api_keys,
    elements,
    secrets,
    tasks,
    webhook_deliveries,
    webhook_secrets,
)

_PENDING = TaskStatus.PENDING.value
_PROCESSING = TaskStatus.PROCESSING.value
# The same, written into the SQL text (see ``_claim_statement``).
_PENDING_SQL = literal_column(f"'{_PENDING}'", String)
_PROCESSING_SQL = literal_column(f"'{_PROCESSING}'", String)


def _insert(conn: Connection, table: Any) -> sqlite.Insert | postgresql.Insert:
    """The dialect's own INSERT, which knows ``ON CONFLICT DO NOTHING``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _changed(result: CursorResult[Any]) -> bool:
    return result.rowcount > 0


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
    stmt = _insert(conn, secrets).values(name=name, value=value, created_at=now)
    conn.execute(stmt.on_conflict_do_nothing(index_elements=[secrets.c.name]))


def select_secret(conn: Connection, name: str) -> bytes | None:
    value = conn.execute(select(secrets.c.value).where(secrets.c.name == name)).scalar_one_or_none()
    return None if value is None else bytes(value)


# --- accounts and keys -----------------------------------------------------------------------


def insert_account_if_absent(conn: Connection, account_id: str, name: str, now: float) -> None:
    stmt = _insert(conn, accounts).values(id=account_id, name=name, created_at=now)
    conn.execute(stmt.on_conflict_do_nothing(index_elements=[accounts.c.name]))


def select_account_by_name(conn: Connection, name: str) -> Account | None:
    row = conn.execute(select(accounts).where(accounts.c.name == name)).one_or_none()
    return None if row is None else account_record(row)


def insert_api_key(
    conn: Connection,
    *,
    key_id: str,
    account_id: str,
    name: str,
    key_hash: str,
    prefix: str,
    now: float,
    access_key: str | None = None,
    sealed_secret: str | None = None,
) -> ApiKey:
    stmt: Insert = _insert(conn, api_keys).values(
        id=key_id,
        account_id=account_id,
        name=name,
        key_hash=key_hash,
        prefix=prefix,
        created_at=now,
        revoked_at=None,
        access_key=access_key,
        sealed_secret=sealed_secret,
    )
    return api_key_record(conn.execute(stmt.returning(*api_keys.c)).one())


# The statements of every request (authenticate, read a task, list, create) are built once, with
# bound parameters: building one per call, and its cache key, cost more than running it.
_ACCOUNT_FOR_KEY_HASH = (
    select(accounts)
    .join(api_keys, api_keys.c.account_id == accounts.c.id)
    .where(
        api_keys.c.key_hash == bindparam("key_hash"),
        api_keys.c.revoked_at.is_(None),
        api_keys.c.access_key.is_(None),
    )
)


def read_account_for_key_hash(reads: FastReads, key_hash: str) -> Account | None:
    """:func:`select_account_for_key_hash` as a fast read (see :mod:`.fast_reads`)."""
    rows = reads.rows(_ACCOUNT_FOR_KEY_HASH, {"key_hash": key_hash})
    return account_of(rows[0]) if rows else None


def select_account_for_key_hash(conn: Connection, key_hash: str) -> Account | None:
    row = conn.execute(_ACCOUNT_FOR_KEY_HASH, {"key_hash": key_hash}).one_or_none()
    return None if row is None else account_record(row)


def select_access_key_pair(conn: Connection, access_key: str) -> tuple[Account, str] | None:
    """The account and sealed secret of the unrevoked pair with this access key."""
    stmt = (
        select(accounts, api_keys.c.sealed_secret)
        .join(api_keys, api_keys.c.account_id == accounts.c.id)
        .where(api_keys.c.access_key == access_key, api_keys.c.revoked_at.is_(None))
    )
    row = conn.execute(stmt).one_or_none()
    return None if row is None else (account_record(row), str(row._mapping["sealed_secret"]))


def select_sealed_secrets(conn: Connection) -> list[tuple[str, str, str]]:
    """(key id, access key, sealed secret) of every access-key pair, revoked ones too."""
    stmt = select(api_keys.c.id, api_keys.c.access_key, api_keys.c.sealed_secret).where(
        api_keys.c.sealed_secret.is_not(None)
    )
    return [(row.id, row.access_key, row.sealed_secret) for row in conn.execute(stmt)]


def update_sealed_secret(conn: Connection, key_id: str, sealed_secret: str) -> None:
    stmt = update(api_keys).where(api_keys.c.id == key_id).values(sealed_secret=sealed_secret)
    conn.execute(stmt)


def select_api_keys(conn: Connection, account_id: str | None) -> list[ApiKey]:
    stmt = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
    if account_id is not None:
        stmt = stmt.where(api_keys.c.account_id == account_id)
    return [api_key_record(row) for row in conn.execute(stmt)]


def select_api_keys_by_id_or_prefix(conn: Connection, key_id_or_prefix: str) -> list[ApiKey]:
    """The key with this id (or access key) if there is one, else every key with this prefix."""
    named = or_(api_keys.c.id == key_id_or_prefix, api_keys.c.access_key == key_id_or_prefix)
    by_id = conn.execute(select(api_keys).where(named)).one_or_none()
    if by_id is not None:
        return [api_key_record(by_id)]
    stmt = select(api_keys).where(api_keys.c.prefix == key_id_or_prefix).order_by(api_keys.c.id)
    return [api_key_record(row) for row in conn.execute(stmt)]


def revoke_api_key(conn: Connection, key_id: str, now: float) -> ApiKey | None:
    """Revoke the key (keeping the first revocation time); None if no such key."""
    stmt = (
        update(api_keys)
        .where(api_keys.c.id == key_id)
        .values(
            revoked_at=case((api_keys.c.revoked_at.is_(None), now), else_=api_keys.c.revoked_at)
        )
        .returning(*api_keys.c)
    )
    row = conn.execute(stmt).one_or_none()
    return None if row is None else api_key_record(row)


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
        status=_PENDING,
        progress=0.0,
        params=_dump(task.params),
        external_task_id=task.external_task_id,
        callback_url=task.callback_url,
        created_at=task.created_at,
        updated_at=task.created_at,
        metadata=_dump({}),
        attempt=0,
        cancel_requested=False,
        reserved_cost=task.reserve,
        dialect=task.dialect,
    )


_SELECT_TASK = select(tasks).where(
    tasks.c.id == bindparam("task_id"), tasks.c.account_id == bindparam("account_id")
)
# The page without filters (what a client listing its tasks asks); filtered pages are built.
_SELECT_PAGE = (
    select(tasks)
    .where(tasks.c.account_id == bindparam("account_id"))
    .order_by(tasks.c.id.desc())
    .limit(bindparam("page_limit"))
)


def read_task(reads: FastReads, account_id: str, task_id: str) -> TaskRecord | None:
    """:func:`select_task` as a fast read (see :mod:`.fast_reads`)."""
    records = reads.records(_SELECT_TASK, {"task_id": task_id, "account_id": account_id}, task_of)
    return records[0] if records else None


def read_task_page(reads: FastReads, account_id: str, limit: int) -> list[TaskRecord]:
    """The newest ``limit`` tasks of the account (no filter, no cursor), as a fast read."""
    return reads.records(_SELECT_PAGE, {"account_id": account_id, "page_limit": limit}, task_of)


def select_task(conn: Connection, account_id: str, task_id: str) -> TaskRecord | None:
    row = conn.execute(_SELECT_TASK, {"task_id": task_id, "account_id": account_id}).one_or_none()
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
            tasks.c.status == _PENDING,
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
            tasks.c.status == _PROCESSING,
        )
        .values(cancel_requested=True, updated_at=now)
        .returning(*tasks.c)
    )
    row = conn.execute(stmt).one_or_none()
    return None if row is None else task_record(row)


# --- tasks, as workers see them --------------------------------------------------------------


def _lease_expired(models: Sequence[str], now: float, *more: ColumnElement[bool]) -> Any:
    """The ids of the lease-expired tasks of ``models`` that also meet ``more``, as a subquery
    that locks them ``FOR UPDATE SKIP LOCKED``: concurrent claimers sweep disjoint rows and never
    wait on one another (nor deadlock); SQLite drops the clause."""
    return (
        select(tasks.c.id)
        .where(
            tasks.c.model.in_(models),
            tasks.c.status == _PROCESSING_SQL,
            tasks.c.lease_expires_at <= now,
            *more,
        )
        .order_by(tasks.c.id)
        .with_for_update(skip_locked=True)
    )


def _attempts_lost() -> ColumnElement[int]:
    """Claims of a task that did not end it: its attempts less the times it was deferred."""
    return tasks.c.attempt - tasks.c.deferrals


def defer_task(conn: Connection, task_id: str, attempt: int, until: float, now: float) -> bool:
    """Processing -> pending again, claimable from ``until``, if ``attempt`` holds the task.
    Not a status a client is told about (no callback): the task waits in the queue."""
    stmt = (
        update(tasks)
        .where(_fenced())
        .values(
            status=_PENDING,
            lease_expires_at=until,
            worker_id=None,
            deferrals=tasks.c.deferrals + 1,
            updated_at=now,
        )
    )
    params = {"task_id": task_id, "held_attempt": attempt}
    return _changed(conn.execute(stmt, params))


def cancel_expired_cancel_requested(
    conn: Connection, models: Sequence[str], now: float
) -> list[str]:
    """Cancel the tasks whose cancel was requested and whose worker then lost the lease; their
    ids (each status change gets its callback)."""
    stmt = (
        update(tasks)
        .where(tasks.c.id.in_(_lease_expired(models, now, tasks.c.cancel_requested == true())))
        .values(
            status=TaskStatus.CANCELLED.value,
            lease_expires_at=None,
            updated_at=now,
            completed_at=now,
        )
        .returning(tasks.c.id)
    )
    return list(conn.execute(stmt).scalars())


def fail_exhausted(
    conn: Connection,
    models: Sequence[str],
    error_codes: Mapping[str, str],
    max_attempts: int,
    now: float,
) -> list[str]:
    """Fail the tasks whose lease expired on their last allowed attempt; their ids.

    ``error_codes`` maps each model to its "status check" (``...098``) code; the message counts
    the attempts in SQL so one statement handles any number of tasks.
    """
    message = (
        literal("the task lost its worker ")
        + cast(tasks.c.attempt, String)
        + literal(" times (its lease expired on every attempt); it is not retried again")
    )
    stmt = (
        update(tasks)
        .where(tasks.c.id.in_(_lease_expired(models, now, _attempts_lost() >= max_attempts)))
        .values(
            status=TaskStatus.FAILED.value,
            error_code=case(dict(error_codes), value=tasks.c.model),
            error_message=message,
            lease_expires_at=None,
            updated_at=now,
            completed_at=now,
        )
        .returning(tasks.c.id)
    )
    return list(conn.execute(stmt).scalars())


def claim_next(
    conn: Connection,
    *,
    models: Sequence[str],
    worker_id: str,
    max_attempts: int,
    lease_expires_at: float,
    now: float,
    delivery_id: str,
) -> TaskRecord | None:
    """Take the oldest claimable task: pending, or processing with an expired lease and attempts
    left and no cancel requested (those two are finished by the sweeps above).

    A claim of a pending task (attempt 1) is a status change: a task with a ``callback_url`` gets
    its delivery (id ``delivery_id``) in the same transaction. PostgreSQL: one statement, the
    claim and the outbox row in a data-modifying CTE, so the caller may run it on its own (no
    BEGIN/COMMIT round trips). SQLite: the claim, then the outbox row if there is one to write.
    """
    params = {
        "models": list(models),
        "worker_id": worker_id,
        "max_attempts": max_attempts,
        "lease_expires_at": lease_expires_at,
        "now": now,
        "delivery_id": delivery_id,
    }
    postgres = conn.dialect.name == "postgresql"
    row = conn.execute(_claim_statement(postgres), params).one_or_none()
    if row is None:
        return None
    task = task_record(row)
    if not postgres and task.attempt == 1 and task.callback_url is not None:
        enqueue_delivery(conn, delivery_id, task.id, now)
    return task


@functools.cache
def _claim_statement(postgres: bool) -> Any:
    """Built once per dialect. Parameters: ``models``, ``worker_id``, ``max_attempts``,
    ``lease_expires_at``, ``now`` (and ``delivery_id`` on PostgreSQL).

    The statuses are literals, not parameters: the partial index ``ix_tasks_queue`` (the
    unfinished tasks in id order) serves the search only where the planner can prove its
    predicate from the statement, which a prepared statement's generic plan cannot do through a
    parameter."""
    now = bindparam("now", type_=Double)
    if postgres:
        # One array parameter: the same text (one prepared statement) for any number of models.
        of_models = tasks.c.model == any_(bindparam("models", type_=postgresql.ARRAY(String)))
    else:
        of_models = tasks.c.model.in_(bindparam("models", expanding=True))
    claimable = or_(
        # A pending task that a worker deferred waits until its time has come.
        and_(
            tasks.c.status == _PENDING_SQL,
            or_(tasks.c.lease_expires_at.is_(None), tasks.c.lease_expires_at <= now),
        ),
        and_(
            tasks.c.status == _PROCESSING_SQL,
            tasks.c.lease_expires_at <= now,
            _attempts_lost() < bindparam("max_attempts", type_=Integer),
            tasks.c.cancel_requested == false(),
        ),
    )
    oldest = (
        select(tasks.c.id)
        .where(of_models, claimable)
        .order_by(tasks.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claim = (
        update(tasks)
        .where(tasks.c.id == oldest)
        .values(
            status=_PROCESSING,
            attempt=tasks.c.attempt + 1,
            lease_expires_at=bindparam("lease_expires_at", type_=Double),
            worker_id=bindparam("worker_id", type_=String),
            updated_at=now,
        )
        .returning(*tasks.c)
    )
    if not postgres:
        return claim
    # The outbox row reads the claimed row as the UPDATE left it (its RETURNING), not the table:
    # sibling statements of a WITH all see the snapshot taken before any of them ran.
    claimed = claim.cte("claimed")
    outbox = _snapshot_insert(
        claimed,
        delivery_id=bindparam("delivery_id", type_=String),
        now=now,
        where=and_(claimed.c.attempt == 1, claimed.c.callback_url.is_not(None)),
    ).cte("outbox")
    return select(*claimed.c).add_cte(outbox)


@functools.cache
def _extend_lease_statement() -> Any:
    progress = bindparam("new_progress", type_=Double)
    return (
        update(tasks)
        .where(
            tasks.c.id == bindparam("task_id", type_=String),
            tasks.c.attempt == bindparam("held_attempt", type_=Integer),
            tasks.c.status == _PROCESSING_SQL,
        )
        .values(
            # CASE rather than MAX/GREATEST: the same text on SQLite and PostgreSQL.
            progress=case((tasks.c.progress < progress, progress), else_=tasks.c.progress),
            lease_expires_at=bindparam("lease_expires_at", type_=Double),
            updated_at=bindparam("now", type_=Double),
        )
        .returning(tasks.c.cancel_requested)
    )


def extend_lease(
    conn: Connection,
    task_id: str,
    attempt: int,
    progress: float,
    lease_expires_at: float,
    now: float,
) -> bool | None:
    """Extend the lease and raise progress; the task's ``cancel_requested``, or None if the lease
    was lost. One statement."""
    params = {
        "task_id": task_id,
        "held_attempt": attempt,
        "new_progress": progress,
        "lease_expires_at": lease_expires_at,
        "now": now,
    }
    value = conn.execute(_extend_lease_statement(), params).scalar_one_or_none()
    return None if value is None else bool(value)


def select_cancel_requested(conn: Connection, task_id: str) -> bool:
    stmt = select(tasks.c.cancel_requested).where(tasks.c.id == task_id)
    return bool(conn.execute(stmt).scalar_one_or_none())


# A worker finishes a task: processing -> completed, failed or cancelled, fenced by the lease.
# What else each kind of finish writes into the task row (each value a parameter of that name).
_FINISHES: dict[TaskStatus, dict[str, Any]] = {
    TaskStatus.COMPLETED: {
        "progress": 1.0,
        "result": bindparam("result", type_=Text),
        "usage_cost": bindparam("usage_cost", type_=String),
        "metadata": bindparam("metadata", type_=Text),
    },
    TaskStatus.FAILED: {
        "error_code": bindparam("error_code", type_=String),
        "error_message": bindparam("error_message", type_=Text),
    },
    TaskStatus.CANCELLED: {},
}


class Finished(NamedTuple):
    """What the statement that finished a task tells the rest of its transaction."""

    account_id: str
    callback_url: str | None  # None: no delivery to write
    # True: the statement also released the task's reservation and charged its cost
    # (PostgreSQL). False: that is left to the caller, with the two facts below.
    settled: bool
    reserved_cost: str | None = None  # what the task holds of its account (None: nothing)
    balance: str | None = None  # the account's balance, read without a lock (None: unlimited)


def complete_task(
    conn: Connection,
    task_id: str,
    attempt: int,
    *,
    result: dict[str, Any],
    usage_cost: str,
    metadata: dict[str, Any],
    now: float,
    alone: bool = False,
) -> Finished | None:
    """Processing -> completed, charged ``usage_cost``, if ``attempt`` holds the task; None
    otherwise. See :func:`_finish` for ``alone``."""
    values = {"result": _dump(result), "usage_cost": usage_cost, "metadata": _dump(metadata)}
    return _finish(conn, TaskStatus.COMPLETED, task_id, attempt, values, usage_cost, now, alone)


def fail_task(
    conn: Connection,
    task_id: str,
    attempt: int,
    error_code: str,
    error_message: str,
    now: float,
    *,
    alone: bool = False,
) -> Finished | None:
    """Processing -> failed (nothing charged) if ``attempt`` holds the task; None otherwise."""
    values = {"error_code": error_code, "error_message": error_message}
    return _finish(conn, TaskStatus.FAILED, task_id, attempt, values, None, now, alone)


def cancel_claimed_task(
    conn: Connection, task_id: str, attempt: int, now: float, *, alone: bool = False
) -> Finished | None:
    """Processing -> cancelled (nothing charged) if ``attempt`` holds the task; None otherwise."""
    return _finish(conn, TaskStatus.CANCELLED, task_id, attempt, {}, None, now, alone)


def _finish(
    conn: Connection,
    status: TaskStatus,
    task_id: str,
    attempt: int,
    values: dict[str, Any],
    charge: str | None,
    now: float,
    alone: bool,
) -> Finished | None:
    """One statement that finishes the task if ``attempt`` holds it.

    PostgreSQL: the status change, the release of the task's reservation and the charge of
    ``charge`` to its account (if the account has a balance), in one statement of
    data-modifying CTEs, so that the account's row is locked only while the server runs it.
    ``alone``: only a task without a ``callback_url`` is finished (None otherwise), so that the
    statement is the whole transaction and may commit on its own. SQLite: the status change;
    the caller settles the money with the facts returned (``alone`` is not supported there).
    """
    postgres = conn.dialect.name == "postgresql"
    if alone and not postgres:
        raise ValueError("only PostgreSQL finishes a task and settles its money in one statement")
    params = {"task_id": task_id, "held_attempt": attempt, "now": now, **values}
    if postgres:
        charged = charge is not None
        if charged:
            params["charge"] = charge
        row = conn.execute(_finish_statement_pg(status, charged, alone), params).one_or_none()
        return None if row is None else Finished(row[0], row[1], settled=True)
    row = conn.execute(_finish_statement(status), params).one_or_none()
    return None if row is None else Finished(row[0], row[1], False, row[2], row[3])


def _fenced(*more: ColumnElement[bool]) -> ColumnElement[bool]:
    """The fence: only the worker holding this attempt of a processing task may write it."""
    return and_(
        tasks.c.id == bindparam("task_id", type_=String),
        tasks.c.attempt == bindparam("held_attempt", type_=Integer),
        tasks.c.status == _PROCESSING_SQL,
        *more,
    )


@functools.cache
def _finish_statement(status: TaskStatus) -> Any:
    """SQLite: ``UPDATE tasks`` fenced by the lease, returning what the settling and the outbox
    that follow need, so that they read nothing more when there is nothing to settle."""
    balance = (
        select(accounts.c.balance)
        .where(accounts.c.id == tasks.c.account_id)
        .correlate(tasks)
        .scalar_subquery()
    )
    now = bindparam("now", type_=Double)
    return (
        update(tasks)
        .where(_fenced())
        .values(
            status=status.value,
            lease_expires_at=None,
            updated_at=now,
            completed_at=now,
            **_FINISHES[status],
        )
        .returning(tasks.c.account_id, tasks.c.callback_url, tasks.c.reserved_cost, balance)
    )


@functools.cache
def _finish_statement_pg(status: TaskStatus, charged: bool, alone: bool) -> Any:
    """PostgreSQL: finish, release and charge in one statement; returns the task's account and
    ``callback_url``. Parameters: ``task_id``, ``held_attempt``, ``now``, the values of the
    finish, and ``charge`` if ``charged``.

    - ``held``: the task row, locked, with what it holds (the UPDATE below clears it; its
      RETURNING could only give the new value).
    - ``done``: the fenced status change. One UPDATE of the row in the transaction: a second one
      would make the foreign key take a ``KEY SHARE`` lock on the account.
    - ``money``: the account's ``reserved`` less what the task held (never below 0) and, for a
      charge, its ``balance`` less the charge when it has one (NULL: unlimited, untouched), as
      the SQLite path computes them in Python: the same decimal text. An account with nothing
      to change is not written, nor locked.
    """
    now = bindparam("now", type_=Double)
    held = (
        select(tasks.c.id, tasks.c.reserved_cost)
        .where(tasks.c.id == bindparam("task_id", type_=String))
        .with_for_update(key_share=True)
        .cte("held")
    )
    fence = _fenced(tasks.c.id == held.c.id)
    if alone:
        fence = and_(fence, tasks.c.callback_url.is_(None))
    done = (
        update(tasks)
        .where(fence)
        .values(
            status=status.value,
            lease_expires_at=None,
            updated_at=now,
            completed_at=now,
            reserved_cost=None,
            **_FINISHES[status],
        )
        .returning(tasks.c.account_id, tasks.c.callback_url, held.c.reserved_cost.label("released"))
        .cte("done")
    )
    released = func.coalesce(cast(done.c.released, Numeric), 0)
    changes: dict[str, Any] = {
        "reserved": cast(func.greatest(cast(accounts.c.reserved, Numeric) - released, 0), String)
    }
    touched: ColumnElement[bool] = done.c.released.is_not(None)
    if charged:
        charge = cast(bindparam("charge", type_=String), Numeric)
        # NULL - charge is NULL: an unlimited account stays unlimited.
        changes["balance"] = cast(cast(accounts.c.balance, Numeric) - charge, String)
        touched = or_(touched, accounts.c.balance.is_not(None))
    money = (
        update(accounts)
        .where(accounts.c.id == done.c.account_id, touched)
        .values(**changes)
        .cte("money")
    )
    return select(done.c.account_id, done.c.callback_url).add_cte(money)


# --- elements --------------------------------------------------------------------------------


def insert_element_if_absent(
    conn: Connection, element_id: int, element: NewElement, now: float
) -> None:
    """Insert unless the source task already made one (then the earlier one stands)."""
    stmt = (
        _insert(conn, elements)
        .values(
            id=element_id,
            account_id=element.account_id,
            name=element.name,
            description=element.description,
            reference_type=element.reference_type,
            frontal_key=element.frontal_key,
            refer_keys=json.dumps(element.refer_keys),
            source_task_id=element.source_task_id,
            upstream=_dump(element.upstream),
            created_at=now,
            deleted_at=None,
        )
        .on_conflict_do_nothing(index_elements=["source_task_id"])
    )
    conn.execute(stmt)


def select_element_by_source_task(conn: Connection, task_id: str) -> Element | None:
    row = conn.execute(select(elements).where(elements.c.source_task_id == task_id)).one_or_none()
    return None if row is None else element_record(row)


def select_element(conn: Connection, account_id: str, element_id: int) -> Element | None:
    stmt = select(elements).where(
        elements.c.id == element_id,
        elements.c.account_id == account_id,
        elements.c.deleted_at.is_(None),
    )
    row = conn.execute(stmt).one_or_none()
    return None if row is None else element_record(row)


def select_element_page(
    conn: Connection, account_id: str, *, limit: int, after: tuple[float, int] | None
) -> list[Element]:
    """Up to ``limit`` live elements newest first, continuing below ``after`` (created_at, id)."""
    conditions: list[ColumnElement[bool]] = [
        elements.c.account_id == account_id,
        elements.c.deleted_at.is_(None),
    ]
    if after is not None:
        created_at, element_id = after
        conditions.append(
            or_(
                elements.c.created_at < created_at,
                and_(elements.c.created_at == created_at, elements.c.id < element_id),
            )
        )
    stmt = (
        select(elements)
        .where(*conditions)
        .order_by(elements.c.created_at.desc(), elements.c.id.desc())
        .limit(limit)
    )
    return [element_record(row) for row in conn.execute(stmt)]


def soft_delete_element(conn: Connection, account_id: str, element_id: int, now: float) -> bool:
    # Kept as a row, so the tasks that used it still point at something explainable.
    stmt = (
        update(elements)
        .where(
            elements.c.id == element_id,
            elements.c.account_id == account_id,
            elements.c.deleted_at.is_(None),
        )
        .values(deleted_at=now)
    )
    return _changed(conn.execute(stmt))


def encode_element_cursor(last: Element) -> str:
    """The opaque ``next_cursor`` of an element page: ``<created_at>_<id>`` of its last one."""
    return f"{last.created_at!r}_{last.id}"


_ELEMENT_CURSOR = re.compile(r"^([0-9]{1,12}(?:\.[0-9]{1,9})?)_([0-9]{1,19})$")


def decode_element_cursor(cursor: str) -> tuple[float, int]:
    """(created_at, id) the page continues after; also reads the base64 cursors of before."""
    found = _ELEMENT_CURSOR.match(cursor) or _ELEMENT_CURSOR.match(_unbase64(cursor))
    if found is None:
        raise InvalidParameter(
            "cursor is not valid: pass the next_cursor of a previous page unchanged",
            param="cursor",
        )
    # Ids are below 2**63; a larger number still names a place in the order, the end.
    return float(found.group(1)), min(int(found.group(2)), 2**63 - 1)


def _unbase64(text: str) -> str:
    try:
        raw = base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))
        return raw.decode("ascii").replace(":", "_")
    except (ValueError, binascii.Error, UnicodeError):
        return ""


# --- money and limits ------------------------------------------------------------------------
# Amounts are decimal text, computed in Python inside the caller's write transaction (the
# account's row is locked by it: BEGIN IMMEDIATE on SQLite), so concurrent submissions can never
# both spend the same balance.


def select_account_by_id(
    conn: Connection, account_id: str, *, lock: bool = False
) -> Account | None:
    """The account; ``lock``: ``FOR NO KEY UPDATE``, held to the end of the transaction
    (PostgreSQL), so a read-then-write of its money or limit cannot interleave with another
    (SQLite drops the clause: its write transaction is the only writer already).

    Not ``FOR UPDATE``: that one also waits for the ``KEY SHARE`` locks that foreign keys take on
    the account (inserting a task or a delivery; updating a task row a second time in one
    transaction). Two transactions that each took one of those, then ``FOR UPDATE``, would wait
    on each other: a deadlock. ``NO KEY UPDATE`` still excludes every other writer of the row."""
    stmt = _ACCOUNT_BY_ID_LOCKED if lock else _ACCOUNT_BY_ID
    row = conn.execute(stmt, {"account_id": account_id}).one_or_none()
    return None if row is None else account_record(row)


# Built once: every submission runs these (see ``_ACCOUNT_FOR_KEY_HASH``).
_ACCOUNT_BY_ID = select(accounts).where(accounts.c.id == bindparam("account_id"))
_ACCOUNT_BY_ID_LOCKED = _ACCOUNT_BY_ID.with_for_update(key_share=True)
_UPDATE_MONEY = (
    update(accounts)
    .where(accounts.c.id == bindparam("account_id"))
    .values(balance=bindparam("new_balance"), reserved=bindparam("new_reserved"))
)
_COUNT_UNFINISHED = (
    select(func.count())
    .select_from(tasks)
    .where(
        tasks.c.account_id == bindparam("account_id"),
        tasks.c.status.in_([_PENDING, _PROCESSING]),
    )
)


def select_accounts(conn: Connection) -> list[Account]:
    return [account_record(row) for row in conn.execute(select(accounts).order_by(accounts.c.name))]


def update_account_money(
    conn: Connection, account_id: str, *, balance: str | None, reserved: str
) -> None:
    conn.execute(
        _UPDATE_MONEY,
        {"account_id": account_id, "new_balance": balance, "new_reserved": reserved},
    )


def update_account_limit(conn: Connection, account_id: str, max_unfinished: int | None) -> None:
    conn.execute(
        update(accounts).where(accounts.c.id == account_id).values(max_unfinished=max_unfinished)
    )


def count_unfinished_tasks(conn: Connection, account_id: str) -> int:
    return int(conn.execute(_COUNT_UNFINISHED, {"account_id": account_id}).scalar_one())


def take_reservation(conn: Connection, task_id: str) -> tuple[str, str | None] | None:
    """The task's account id and what it holds (None: nothing), cleared so that it is settled
    only once; None if there is no such task.

    Read, then cleared: RETURNING would give the column's new value (NULL). The caller's write
    transaction holds the row (it just changed the task's status), so nothing settles it in
    between."""
    row = conn.execute(
        select(tasks.c.account_id, tasks.c.reserved_cost).where(tasks.c.id == task_id)
    ).one_or_none()
    if row is None:
        return None
    if row[1] is not None:
        conn.execute(update(tasks).where(tasks.c.id == task_id).values(reserved_cost=None))
    return str(row[0]), None if row[1] is None else str(row[1])


# --- cursors and rows ------------------------------------------------------------------------


def encode_cursor(last_id: str) -> str:
    """The opaque ``next_cursor``: the id of the last task on the page (keyset paging)."""
    return last_id


def page_of(tasks: Sequence[TaskRecord], *, more: bool) -> Page:
    """A page of ``tasks``, with the cursor after its last task when ``more`` follow it."""
    return Page(tasks=tasks, next_cursor=encode_cursor(tasks[-1].id) if more else None)


def decode_cursor(cursor: str) -> str:
    """The task id a cursor continues below (the base64 cursors of before are read too);
    :class:`InvalidParameter` if it is not one of ours."""
    last_id = cursor if _is_task_id(cursor) else _unbase64(cursor)
    if not _is_task_id(last_id):
        raise InvalidParameter(
            "cursor is not valid: pass the next_cursor of a previous page unchanged",
            param="cursor",
        )
    return last_id


def _is_task_id(value: str) -> bool:
    prefix, _, rest = value.partition("_")
    return prefix == "task" and bool(rest) and rest.isascii() and rest.isalnum()


def _dump(value: Mapping[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _load(text: str | None) -> Any:
    return None if text is None else fastjson.loads(text)


def account_record(row: Row[Any]) -> Account:
    return account_of(row._mapping)


def account_of(m: Mapping[Any, Any]) -> Account:
    return Account(
        id=m["id"],
        name=m["name"],
        created_at=m["created_at"],
        balance=m["balance"],
        reserved=m["reserved"],
        max_unfinished=m["max_unfinished"],
    )


def api_key_record(row: Row[Any]) -> ApiKey:
    m = row._mapping
    return ApiKey(
        id=m["id"],
        account_id=m["account_id"],
        name=m["name"],
        prefix=m["prefix"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
        access_key=m["access_key"],
    )


def task_record(row: Row[Any]) -> TaskRecord:
    return task_of(row._mapping)


def task_of(m: Mapping[Any, Any]) -> TaskRecord:
    return TaskRecord(
        id=m["id"],
        account_id=m["account_id"],
        model=m["model"],
        status=TaskStatus(m["status"]),
        progress=m["progress"],
        params=_load(m["params"]),
        external_task_id=m["external_task_id"],
        callback_url=m["callback_url"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        completed_at=m["completed_at"],
        error_code=m["error_code"],
        error_message=m["error_message"],
        result=_load(m["result"]),
        usage_cost=m["usage_cost"],
        metadata=_load(m["metadata"]) or {},
        attempt=m["attempt"],
        lease_expires_at=m["lease_expires_at"],
        worker_id=m["worker_id"],
        cancel_requested=bool(m["cancel_requested"]),
        dialect=m["dialect"],
    )


def element_record(row: Row[Any]) -> Element:
    m = row._mapping
    return Element(
        id=int(m["id"]),
        account_id=m["account_id"],
        name=m["name"],
        description=m["description"],
        reference_type=m["reference_type"],
        frontal_key=m["frontal_key"],
        refer_keys=list(json.loads(m["refer_keys"])),
        source_task_id=m["source_task_id"],
        created_at=m["created_at"],
        upstream=dict(json.loads(m["upstream"] or "{}")),
    )


# --- webhooks: the callback outbox and the signing secrets ------------------------------------
#
# A delivery is written by ``enqueue_delivery`` in the transaction of the status change it
# reports, as a copy of the task row's changing columns (the snapshot); the sender builds the body
# from it, so a delivery sent late still reports its own change. Deliveries are claimed like
# tasks (one ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``) and every
# result is fenced by ``state = 'pending' AND attempts = :attempt``.

_wd = webhook_deliveries
_GONE_ERROR = "the receiver answered 410 Gone to a delivery of this task; no more are sent"


def enqueue_delivery(conn: Connection, delivery_id: str, task_id: str, now: float) -> bool:
    """Snapshot the task into a new delivery if it has a ``callback_url``; whether one was made.

    It is due at once, with the next ``seq`` of the task. If the receiver already answered 410 to
    the task, the delivery is born ``gone`` (kept, so the list shows every status change).
    """
    params = {"delivery_id": delivery_id, "task_id": task_id, "now": now}
    return _changed(conn.execute(_enqueue_statement(), params))


@functools.cache
def _enqueue_statement() -> Any:
    """Built once: it runs in every status change, and building it costs more than running it.
    Parameters: ``delivery_id``, ``task_id``, ``now``."""
    return _snapshot_insert(
        tasks,
        delivery_id=bindparam("delivery_id", type_=String),
        now=bindparam("now", type_=Double),
        where=and_(
            tasks.c.id == bindparam("task_id", type_=String), tasks.c.callback_url.is_not(None)
        ),
    )


def _snapshot_insert(
    source: Any, *, delivery_id: Any, now: Any, where: ColumnElement[bool]
) -> Insert:
    """``INSERT INTO webhook_deliveries SELECT`` the snapshot of each row of ``source`` (the
    tasks table, or a CTE that returned task rows) that meets ``where``."""
    gone = exists().where(_wd.c.task_id == source.c.id, _wd.c.state == "gone").correlate(source)
    next_seq = (
        select(func.coalesce(func.max(_wd.c.seq), 0) + 1)
        .where(_wd.c.task_id == source.c.id)
        .correlate(source)
        .scalar_subquery()
    )
    snapshot = select(
        delivery_id,
        source.c.id,
        source.c.account_id,
        next_seq,
        source.c.status,
        source.c.progress,
        source.c.updated_at,
        source.c.completed_at,
        source.c.error_code,
        source.c.error_message,
        source.c.result,
        source.c.usage_cost,
        source.c.metadata,
        case((gone, literal("gone")), else_=literal("pending")),
        literal(0),
        case((gone, None), else_=now),
        case((gone, literal(_GONE_ERROR)), else_=None),
        now,
    ).where(where)
    columns = [
        "id",
        "task_id",
        "account_id",
        "seq",
        "status_reported",
        "progress",
        "task_updated_at",
        "completed_at",
        "error_code",
        "error_message",
        "result",
        "usage_cost",
        "metadata",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
    ]
    return _wd.insert().from_select(columns, snapshot)


def _sendable(now: float | None) -> ColumnElement[bool]:
    """Pending, not leased (or its lease expired), and no earlier delivery of the same task
    still pending: that is what keeps one task's callbacks in order."""
    earlier = _wd.alias("earlier")
    earlier_pending = exists().where(
        earlier.c.task_id == _wd.c.task_id,
        earlier.c.seq < _wd.c.seq,
        earlier.c.state == "pending",
    )
    conditions: list[ColumnElement[bool]] = [_wd.c.state == "pending", ~earlier_pending]
    if now is not None:
        conditions += [
            _wd.c.next_attempt_at <= now,
            or_(_wd.c.lease_expires_at.is_(None), _wd.c.lease_expires_at <= now),
        ]
    return and_(*conditions)


def claim_next_delivery(
    conn: Connection, *, lease_expires_at: float, now: float
) -> DeliveryRecord | None:
    """Take the delivery due soonest (then oldest): ``attempts`` + 1 and a lease."""
    soonest = (
        select(_wd.c.id)
        .where(_sendable(now))
        .order_by(_wd.c.next_attempt_at, _wd.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(_wd)
        .where(_wd.c.id == soonest)
        .values(attempts=_wd.c.attempts + 1, lease_expires_at=lease_expires_at, last_attempt_at=now)
        .returning(*_wd.c)
    )
    row = conn.execute(stmt).one_or_none()
    return None if row is None else delivery_record(row)


def select_next_delivery_due(conn: Connection) -> float | None:
    """When the next sendable delivery is due: its ``next_attempt_at``, or its lease's end if a
    sender holds it (a sender that died gives it back then)."""
    due = case(
        (
            and_(
                _wd.c.lease_expires_at.is_not(None),
                _wd.c.lease_expires_at > _wd.c.next_attempt_at,
            ),
            _wd.c.lease_expires_at,
        ),
        else_=_wd.c.next_attempt_at,
    )
    value = conn.execute(select(func.min(due)).where(_sendable(None))).scalar_one_or_none()
    return None if value is None else float(value)


def select_delivery_task(conn: Connection, delivery_id: str) -> tuple[TaskRecord, str] | None:
    """The task as the delivery's status change left it, and its ``callback_url``."""
    snap = [
        _wd.c.status_reported,
        _wd.c.progress.label("snap_progress"),
        _wd.c.task_updated_at,
        _wd.c.completed_at.label("snap_completed_at"),
        _wd.c.error_code.label("snap_error_code"),
        _wd.c.error_message.label("snap_error_message"),
        _wd.c.result.label("snap_result"),
        _wd.c.usage_cost.label("snap_usage_cost"),
        _wd.c.metadata.label("snap_metadata"),
    ]
    stmt = (
        select(*tasks.c, *snap)
        .join(_wd, _wd.c.task_id == tasks.c.id)
        .where(_wd.c.id == delivery_id)
    )
    row = conn.execute(stmt).one_or_none()
    if row is None:
        return None
    m = row._mapping
    current = task_record(row)
    as_reported = replace(
        current,
        status=TaskStatus(m["status_reported"]),
        progress=m["snap_progress"],
        updated_at=m["task_updated_at"],
        completed_at=m["snap_completed_at"],
        error_code=m["snap_error_code"],
        error_message=m["snap_error_message"],
        result=_load(m["snap_result"]),
        usage_cost=m["snap_usage_cost"],
        metadata=_load(m["snap_metadata"]) or {},
    )
    return as_reported, str(m["callback_url"])


def finish_delivery(
    conn: Connection,
    delivery_id: str,
    attempt: int,
    *,
    state: str,
    next_attempt_at: float | None,
    status_code: int | None,
    error: str | None,
    now: float,
) -> DeliveryRecord | None:
    """Record an attempt's result if ``attempt`` still holds the delivery; None otherwise."""
    stmt = (
        update(_wd)
        .where(_wd.c.id == delivery_id, _wd.c.attempts == attempt, _wd.c.state == "pending")
        .values(
            state=state,
            next_attempt_at=next_attempt_at,
            lease_expires_at=None,
            last_status_code=status_code,
            last_error=error,
            delivered_at=now if state == "delivered" else None,
        )
        .returning(*_wd.c)
    )
    row = conn.execute(stmt).one_or_none()
    return None if row is None else delivery_record(row)


def drop_pending_deliveries(conn: Connection, task_id: str) -> int:
    """After a 410: the task's other pending deliveries become ``gone`` (never sent)."""
    stmt = (
        update(_wd)
        .where(_wd.c.task_id == task_id, _wd.c.state == "pending")
        .values(state="gone", next_attempt_at=None, lease_expires_at=None, last_error=_GONE_ERROR)
    )
    return conn.execute(stmt).rowcount


def select_deliveries(conn: Connection, account_id: str, task_id: str) -> list[DeliveryRecord]:
    stmt = (
        select(_wd)
        .where(_wd.c.task_id == task_id, _wd.c.account_id == account_id)
        .order_by(_wd.c.seq)
    )
    return [delivery_record(row) for row in conn.execute(stmt)]


def insert_webhook_secret_if_absent(
    conn: Connection, account_id: str, secret: bytes, now: float
) -> None:
    stmt = _insert(conn, webhook_secrets).values(
        account_id=account_id, secret=secret, created_at=now
    )
    conn.execute(stmt.on_conflict_do_nothing(index_elements=[webhook_secrets.c.account_id]))


def select_webhook_secrets(conn: Connection, account_id: str) -> WebhookSecrets | None:
    stmt = select(webhook_secrets).where(webhook_secrets.c.account_id == account_id)
    row = conn.execute(stmt).one_or_none()
    return None if row is None else webhook_secrets_record(row)


def rotate_webhook_secret(
    conn: Connection, account_id: str, new_secret: bytes, previous_expires_at: float, now: float
) -> WebhookSecrets | None:
    """The current secret becomes the previous one (UPDATE reads the old row on the right-hand
    side, on SQLite and PostgreSQL alike); ``new_secret`` becomes current."""
    stmt = (
        update(webhook_secrets)
        .where(webhook_secrets.c.account_id == account_id)
        .values(
            secret=new_secret,
            previous_secret=webhook_secrets.c.secret,
            previous_expires_at=previous_expires_at,
            rotated_at=now,
        )
        .returning(*webhook_secrets.c)
    )
    row = conn.execute(stmt).one_or_none()
    return None if row is None else webhook_secrets_record(row)


def end_webhook_rotation(conn: Connection, account_id: str) -> WebhookSecrets | None:
    stmt = (
        update(webhook_secrets)
        .where(webhook_secrets.c.account_id == account_id)
        .values(previous_secret=None, previous_expires_at=None)
        .returning(*webhook_secrets.c)
    )
    row = conn.execute(stmt).one_or_none()
    return None if row is None else webhook_secrets_record(row)


def delivery_record(row: Row[Any]) -> DeliveryRecord:
    m = row._mapping
    return DeliveryRecord(
        id=m["id"],
        task_id=m["task_id"],
        account_id=m["account_id"],
        seq=m["seq"],
        status_reported=TaskStatus(m["status_reported"]),
        state=m["state"],
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        last_attempt_at=m["last_attempt_at"],
        last_status_code=m["last_status_code"],
        last_error=m["last_error"],
        delivered_at=m["delivered_at"],
        created_at=m["created_at"],
    )


def webhook_secrets_record(row: Row[Any]) -> WebhookSecrets:
    m = row._mapping
    previous = m["previous_secret"]
    return WebhookSecrets(
        account_id=m["account_id"],
        current=bytes(m["secret"]),
        previous=None if previous is None else bytes(previous),
        previous_expires_at=m["previous_expires_at"],
    )
