"""The statements of callbacks: the outbox of deliveries and each account's signing secrets.
See :mod:`.queries` for what every statement module shares; the store's methods that run them
are :mod:`.sql_outbox`.

A delivery is written by :func:`enqueue_delivery` in the transaction of the status change it
reports, as a copy of the task row's changing columns (the snapshot); the sender builds the body
from it, so a delivery sent late still reports its own change. Deliveries are claimed like
tasks (one ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``) and every
result is fenced by ``state = 'pending' AND attempts = :attempt``.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Double,
    Row,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.sql.dml import Insert

from kirin_api.contract.status import TaskStatus
from kirin_api.store.base import TaskRecord
from kirin_api.store.delivery_records import DeliveryRecord, WebhookSecrets
from kirin_api.store.rows import changed, insert_for, load_json, task_record
from kirin_api.store.schema import tasks, webhook_deliveries, webhook_secrets

_wd = webhook_deliveries
_GONE_ERROR = "the receiver answered 410 Gone to a delivery of this task; no more are sent"


def enqueue_delivery(conn: Connection, delivery_id: str, task_id: str, now: float) -> bool:
    """Snapshot the task into a new delivery if it has a ``callback_url``; whether one was made.

    It is due at once, with the next ``seq`` of the task. If the receiver already answered 410 to
    the task, the delivery is born ``gone`` (kept, so the list shows every status change).
    """
    params = {"delivery_id": delivery_id, "task_id": task_id, "now": now}
    return changed(conn.execute(_enqueue_statement(), params))


@functools.cache
def _enqueue_statement() -> Any:
    """Built once: it runs in every status change, and building it costs more than running it.
    Parameters: ``delivery_id``, ``task_id``, ``now``."""
    return snapshot_insert(
        tasks,
        delivery_id=bindparam("delivery_id", type_=String),
        now=bindparam("now", type_=Double),
        where=and_(
            tasks.c.id == bindparam("task_id", type_=String), tasks.c.callback_url.is_not(None)
        ),
    )


def snapshot_insert(
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
        result=load_json(m["snap_result"]),
        usage_cost=m["snap_usage_cost"],
        metadata=load_json(m["snap_metadata"]) or {},
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
    stmt = insert_for(conn, webhook_secrets).values(
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
