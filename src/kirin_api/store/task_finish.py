"""The statements that finish a task a worker holds: processing -> completed, failed or
cancelled, fenced by the lease (:func:`.task_leases.fenced`); on PostgreSQL with the release of
what the task reserved of its account's money and the charge of what it cost, in the same
statement (elsewhere the store settles the money: :func:`.accounts.settle`).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Double,
    Numeric,
    String,
    Text,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    update,
)

from kirin_api.contract.status import TaskStatus
from kirin_api.store.rows import dump_json
from kirin_api.store.schema import accounts, tasks
from kirin_api.store.task_leases import fenced

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
    values = {
        "result": dump_json(result),
        "usage_cost": usage_cost,
        "metadata": dump_json(metadata),
    }
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
        .where(fenced())
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
    fence = fenced(tasks.c.id == held.c.id)
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
