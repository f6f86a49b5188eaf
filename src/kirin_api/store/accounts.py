"""The statements of accounts, their API keys and access-key pairs, and their money and limits;
and :func:`settle`, the money of tasks that a status change finished. See :mod:`.queries` for
what every statement module shares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, bindparam, case, func, or_, select, update
from sqlalchemy.sql.dml import Insert

from kirin_api.store.base import AccessKeyPair, Account, ApiKey
from kirin_api.store.fast_reads import FastReads
from kirin_api.store.rows import PENDING, PROCESSING, insert_for
from kirin_api.store.schema import accounts, api_keys, tasks

# --- accounts and keys -----------------------------------------------------------------------


def insert_account_if_absent(conn: Connection, account_id: str, name: str, now: float) -> None:
    stmt = insert_for(conn, accounts).values(id=account_id, name=name, created_at=now)
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
    stmt: Insert = insert_for(conn, api_keys).values(
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


# Built once, as every request runs it (see the docstring of kirin_api.store.queries).
ACCOUNT_FOR_KEY_HASH = (
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
    rows = reads.rows(ACCOUNT_FOR_KEY_HASH, {"key_hash": key_hash})
    return account_of(rows[0]) if rows else None


def select_account_for_key_hash(conn: Connection, key_hash: str) -> Account | None:
    row = conn.execute(ACCOUNT_FOR_KEY_HASH, {"key_hash": key_hash}).one_or_none()
    return None if row is None else account_record(row)


# The pair of a JWT's issuer: read by every request of a Kling client (built once, as above).
ACCESS_KEY_PAIR = (
    select(accounts, api_keys.c.sealed_secret)
    .join(api_keys, api_keys.c.account_id == accounts.c.id)
    .where(api_keys.c.access_key == bindparam("access_key"), api_keys.c.revoked_at.is_(None))
)


def read_access_key_pair(reads: FastReads, access_key: str) -> AccessKeyPair | None:
    """The account and sealed secret of the unrevoked pair with this access key, as a fast
    read (see :mod:`.fast_reads`)."""
    rows = reads.rows(ACCESS_KEY_PAIR, {"access_key": access_key})
    return access_key_pair_of(rows[0]) if rows else None


def access_key_pair_of(m: Mapping[Any, Any]) -> AccessKeyPair:
    return AccessKeyPair(account=account_of(m), sealed_secret=str(m["sealed_secret"]))


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


# Built once: every submission runs these (see ``ACCOUNT_FOR_KEY_HASH``).
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
        tasks.c.status.in_([PENDING, PROCESSING]),
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


def settle(conn: Connection, task_ids: Sequence[str], charge: str | None = None) -> None:
    """Release what finished tasks held; a completed task (``charge``) is charged what it cost.
    Runs in the transaction of the status change, like the outbox, which holds the tasks' rows
    already (their status was just changed)."""
    released: dict[str, Decimal] = {}
    charged: dict[str, int] = {}
    for task_id in task_ids:
        found = take_reservation(conn, task_id)
        if found is None:  # pragma: no cover - the caller just changed the task
            continue
        account_id, held = found
        if held is None and charge is None:
            continue
        released[account_id] = released.get(account_id, Decimal(0)) + Decimal(held or 0)
        if charge is not None:
            charged[account_id] = charged.get(account_id, 0) + 1
    # Accounts are locked in one fixed order, so two transactions that settle tasks of the
    # same accounts never wait on each other in a circle (a deadlock on PostgreSQL).
    for account_id in sorted(released):
        if released[account_id] == 0:
            # Only a charge: nothing to do for an unlimited account, and looking without the
            # lock spares every completion of such an account a wait on its row.
            peek = select_account_by_id(conn, account_id)
            if peek is None or peek.balance is None:
                continue
        account = select_account_by_id(conn, account_id, lock=True)
        if account is None:  # pragma: no cover - tasks reference accounts
            continue
        reserved = Decimal(account.reserved) - released[account_id]
        balance = account.balance
        if charge is not None and balance is not None:
            balance = str(Decimal(balance) - Decimal(charge) * charged.get(account_id, 0))
        update_account_money(
            conn, account.id, balance=balance, reserved=str(max(reserved, Decimal(0)))
        )


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
