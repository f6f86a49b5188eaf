"""The statements of tasks as workers hold them: the claim, the lease's heartbeat, a deferral,
and the sweeps that finish tasks whose lease expired for good. See :mod:`.queries` for what
every statement module shares; finishing a task is :mod:`.task_finish`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Double,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    false,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql

from kirin_api.contract.status import TaskStatus
from kirin_api.store.base import TaskRecord
from kirin_api.store.outbox import enqueue_delivery, snapshot_insert
from kirin_api.store.rows import (
    PENDING,
    PENDING_SQL,
    PROCESSING,
    PROCESSING_SQL,
    changed,
    task_record,
)
from kirin_api.store.schema import tasks


def _lease_expired(models: Sequence[str], now: float, *more: ColumnElement[bool]) -> Any:
    """The ids of the lease-expired tasks of ``models`` that also meet ``more``, as a subquery
    that locks them ``FOR UPDATE SKIP LOCKED``: concurrent claimers sweep disjoint rows and never
    wait on one another (nor deadlock); SQLite drops the clause."""
    return (
        select(tasks.c.id)
        .where(
            tasks.c.model.in_(models),
            tasks.c.status == PROCESSING_SQL,
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
        .where(fenced())
        .values(
            status=PENDING,
            lease_expires_at=until,
            worker_id=None,
            deferrals=tasks.c.deferrals + 1,
            updated_at=now,
        )
    )
    params = {"task_id": task_id, "held_attempt": attempt}
    return changed(conn.execute(stmt, params))


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
            tasks.c.status == PENDING_SQL,
            or_(tasks.c.lease_expires_at.is_(None), tasks.c.lease_expires_at <= now),
        ),
        and_(
            tasks.c.status == PROCESSING_SQL,
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
            status=PROCESSING,
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
    outbox = snapshot_insert(
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
            tasks.c.status == PROCESSING_SQL,
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


def fenced(*more: ColumnElement[bool]) -> ColumnElement[bool]:
    """The fence: only the worker holding this attempt of a processing task may write it."""
    return and_(
        tasks.c.id == bindparam("task_id", type_=String),
        tasks.c.attempt == bindparam("held_attempt", type_=Integer),
        tasks.c.status == PROCESSING_SQL,
        *more,
    )
