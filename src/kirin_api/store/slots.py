"""The statements of upstream engines' parallel-task slots (``engine_slots``).

A group's slots are rows 0..capacity-1, made on first use. Taking one is one ``UPDATE`` of the
first free or expired row, chosen ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) or under SQLite's
write lock: two workers never hold the same slot, so a group never runs more than its capacity.
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from kirin_api.store.schema import engine_slots

_s = engine_slots


def ensure_slots(conn: Connection, group: str, capacity: int) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    rows = [{"group_key": group, "slot": n} for n in range(capacity)]
    conn.execute(insert(_s).values(rows).on_conflict_do_nothing())


def acquire_slot(
    conn: Connection, group: str, capacity: int, holder: str, until: float, now: float
) -> int | None:
    free = (
        select(_s.c.slot)
        .where(
            _s.c.group_key == group,
            _s.c.slot < capacity,
            or_(_s.c.holder.is_(None), _s.c.expires_at <= now),
        )
        .order_by(_s.c.slot)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(_s)
        .where(_s.c.group_key == group, _s.c.slot == free)
        .values(holder=holder, expires_at=until)
        .returning(_s.c.slot)
    )
    slot = conn.execute(stmt).scalar_one_or_none()
    return None if slot is None else int(slot)


def renew_slot(conn: Connection, group: str, slot: int, holder: str, until: float) -> bool:
    stmt = (
        update(_s)
        .where(and_(_s.c.group_key == group, _s.c.slot == slot, _s.c.holder == holder))
        .values(expires_at=until)
    )
    return conn.execute(stmt).rowcount > 0


def release_slot(conn: Connection, group: str, slot: int, holder: str) -> None:
    conn.execute(
        update(_s)
        .where(_s.c.group_key == group, _s.c.slot == slot, _s.c.holder == holder)
        .values(holder=None, expires_at=None)
    )
