"""Submissions created together in one write transaction, each admitted as if it were alone.

The API hands the store a batch of submissions (see :mod:`kirin_api.server.submission_batch`);
one transaction creates them all, so the batch costs one commit (SQLite: one WAL write; PostgreSQL:
one ``BEGIN``/``COMMIT``, the account's row locked once) instead of one per task.

Admission runs in the order of the batch, each submission seeing the ones admitted before it:
the accounts' rows are read once, locked (PostgreSQL ``FOR NO KEY UPDATE``; SQLite's write
transaction is the only writer already), and their unfinished count, reserved money and limits
are then followed here in Python, exactly as one transaction per submission would have found
them in the rows. A refused submission (its account's limit, its balance, a duplicate
``external_task_id``) changes nothing and is answered alone; the others go on. The duplicate is
found by the insert itself (``ON CONFLICT DO NOTHING``: no error, so PostgreSQL's transaction is
not aborted, and no savepoint round trips). The accounts' money is written once per account at the
end. A task is reported created only once the commit that holds it has succeeded: if the commit
(or the database) fails, the caller gets that error for the whole batch, and none was stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from sqlalchemy import Connection

from kirin_api.store import queries
from kirin_api.store.base import (
    Account,
    DuplicateExternalId,
    InsufficientFunds,
    StoreError,
    Submission,
    TaskRecord,
    TooManyUnfinished,
)


class _Ledger:
    """One account as the batch has changed it so far."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.reserved = Decimal(account.reserved)
        self.unfinished: int | None = None  # counted when a limit first applies
        self.reserved_changed = False


def create_batch(
    conn: Connection,
    submissions: Sequence[Submission],
    enqueue: Callable[[Connection, Sequence[str]], None],
) -> list[TaskRecord | StoreError]:
    """Create ``submissions`` inside the caller's write transaction ``conn``: for each, its
    record, or the refusal (not raised). ``enqueue`` puts the first callback of new tasks that
    have a ``callback_url`` in the outbox, in the same transaction."""
    # Wakes idle workers (PostgreSQL NOTIFY, sent at commit, never on rollback; nothing on
    # SQLite), once per model. Sent first: the accounts' rows are then locked one round trip less.
    for model in sorted({s.task.model for s in submissions}):
        queries.notify_new_task(conn, model)
    # Locked in one fixed order, as ``_settle`` does: two transactions never wait in a circle.
    ledgers: dict[str, _Ledger | None] = {}
    for account_id in sorted({s.task.account_id for s in submissions}):
        account = queries.select_account_by_id(conn, account_id, lock=True)
        ledgers[account_id] = None if account is None else _Ledger(account)
    outcomes: list[TaskRecord | StoreError] = []
    with_callback: list[str] = []
    for submission in submissions:
        task = submission.task
        ledger = ledgers[task.account_id]
        if ledger is None:
            outcomes.append(StoreError(f"no account {task.account_id}"))
            continue
        refusal = _refusal(conn, ledger, submission)
        if refusal is not None:
            outcomes.append(refusal)
            continue
        record = queries.insert_task_unless_duplicate(conn, task)
        if record is None:
            outcomes.append(
                DuplicateExternalId(
                    f"external_task_id {task.external_task_id!r} is already used by this account"
                )
            )
            continue
        if ledger.unfinished is not None:
            ledger.unfinished += 1
        if task.reserve is not None:
            ledger.reserved += Decimal(task.reserve)
            ledger.reserved_changed = True
        if record.callback_url is not None:
            with_callback.append(record.id)
        outcomes.append(record)
    for ledger in ledgers.values():
        if ledger is not None and ledger.reserved_changed:
            queries.update_account_money(
                conn,
                ledger.account.id,
                balance=ledger.account.balance,
                reserved=str(ledger.reserved),
            )
    if with_callback:
        enqueue(conn, with_callback)
    return outcomes


def _refusal(conn: Connection, ledger: _Ledger, submission: Submission) -> StoreError | None:
    """Why the account cannot take this task now (its unfinished-task limit, else its balance),
    or None."""
    account = ledger.account
    limit = (
        account.max_unfinished if account.max_unfinished is not None else submission.max_unfinished
    )
    if limit is not None:
        if ledger.unfinished is None:
            ledger.unfinished = queries.count_unfinished_tasks(conn, account.id)
        if ledger.unfinished >= limit:
            return TooManyUnfinished(limit)
    reserve = submission.task.reserve
    if reserve is not None and account.balance is not None:
        available = Decimal(account.balance) - ledger.reserved
        if Decimal(reserve) > available:
            return InsufficientFunds(reserve, str(available))
    return None
