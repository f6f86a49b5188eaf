"""Submissions created together in one write transaction, each admitted as if it were alone.

The API hands the store a batch of submissions (see :mod:`kirin_api.server.submission_batch`);
one transaction creates them all, so the batch costs one commit (SQLite: one WAL write; PostgreSQL:
one ``BEGIN``/``COMMIT``, the account's row locked once) instead of one per task.

Admission runs in the order of the batch, each submission seeing the ones admitted before it:
the accounts' rows are read once, locked (PostgreSQL ``FOR NO KEY UPDATE``; SQLite's write
transaction is the only writer already), and their unfinished count, reserved money, limits and
taken ``external_task_id``s are then followed here in Python, exactly as one transaction per
submission would have found them in the rows. Every task is inserted under its account's lock,
so what was read under it stays true until the commit. A refused submission (its account's
limit, its balance, a duplicate ``external_task_id``) changes nothing and is answered alone; the
others go on. The admitted tasks are then inserted together, and the accounts' money written
once per account. A task is reported created only once the commit that holds it has succeeded:
if the commit (or the database) fails, the caller gets that error for the whole batch, and none
was stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from sqlalchemy import Connection

from kirin_api.store import accounts, queries
from kirin_api.store.base import (
    Account,
    DuplicateExternalId,
    InsufficientFunds,
    NewTask,
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
        self.reserved_changed = False
        self.admitted = 0  # tasks of this batch admitted so far
        self.stored_unfinished: int | None = None  # counted when a limit first applies
        self.taken: set[str] | None = None  # external ids in use, read when one is first asked


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
    # Locked in one fixed order, as ``accounts.settle`` does: two transactions never wait in a
    # circle.
    # Every task is inserted under its account's lock, so what is read under it stays true.
    ledgers: dict[str, _Ledger | None] = {}
    for account_id in sorted({s.task.account_id for s in submissions}):
        account = accounts.select_account_by_id(conn, account_id, lock=True)
        ledgers[account_id] = None if account is None else _Ledger(account)
    outcomes: list[TaskRecord | StoreError | None] = []
    admitted: list[NewTask] = []
    for submission in submissions:
        ledger = ledgers[submission.task.account_id]
        if ledger is None:
            outcomes.append(StoreError(f"no account {submission.task.account_id}"))
            continue
        refusal = _refusal(conn, ledger, submission, submissions)
        outcomes.append(refusal)
        if refusal is not None:
            continue
        task = submission.task
        admitted.append(task)
        ledger.admitted += 1
        if task.external_task_id is not None:
            assert ledger.taken is not None  # read by _refusal
            ledger.taken.add(task.external_task_id)
        if task.reserve is not None:
            ledger.reserved += Decimal(task.reserve)
            ledger.reserved_changed = True
    records = iter(queries.insert_tasks(conn, admitted))
    for ledger in ledgers.values():
        if ledger is not None and ledger.reserved_changed:
            accounts.update_account_money(
                conn,
                ledger.account.id,
                balance=ledger.account.balance,
                reserved=str(ledger.reserved),
            )
    with_callback = [task.id for task in admitted if task.callback_url is not None]
    if with_callback:
        enqueue(conn, with_callback)
    # The admitted ones' places, in order, get their records.
    return [next(records) if outcome is None else outcome for outcome in outcomes]


def _refusal(
    conn: Connection, ledger: _Ledger, submission: Submission, batch: Sequence[Submission]
) -> StoreError | None:
    """Why the account cannot take this task now, checked in the order one transaction would
    meet them: its unfinished-task limit, its balance, then its ``external_task_id`` (the
    insert's unique constraint); or None."""
    account = ledger.account
    task = submission.task
    limit = account.max_unfinished
    if limit is None:
        limit = submission.max_unfinished
    if limit is not None:
        if ledger.stored_unfinished is None:
            ledger.stored_unfinished = accounts.count_unfinished_tasks(conn, account.id)
        if ledger.stored_unfinished + ledger.admitted >= limit:
            return TooManyUnfinished(limit)
    if task.reserve is not None and account.balance is not None:
        available = Decimal(account.balance) - ledger.reserved
        if Decimal(task.reserve) > available:
            return InsufficientFunds(task.reserve, str(available))
    if task.external_task_id is not None:
        if ledger.taken is None:  # one read for all the batch's ids of this account
            wanted = {
                s.task.external_task_id
                for s in batch
                if s.task.account_id == account.id and s.task.external_task_id is not None
            }
            ledger.taken = queries.taken_external_ids(conn, account.id, sorted(wanted))
        if task.external_task_id in ledger.taken:
            return DuplicateExternalId(
                f"external_task_id {task.external_task_id!r} is already used by this account"
            )
    return None
