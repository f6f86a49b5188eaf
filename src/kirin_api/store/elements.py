"""The subject library in the database: the statements of elements, and the part of
:class:`~kirin_api.store.sql.SqlTaskStore` that runs them (a mixin, as :mod:`.uploads`).

An element is made by the task that created it (at most one per task, so a retried task never
makes two) and deleted softly: kept as a row, so the tasks that used it still point at
something explainable.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, or_, select, update

from kirin_api.contract.errors import InvalidParameter
from kirin_api.store.base import Element, ElementPage, NewElement, StoreError
from kirin_api.store.rows import changed, dump_json, insert_for, unbase64
from kirin_api.store.schema import elements


def insert_element_if_absent(
    conn: Connection, element_id: int, element: NewElement, now: float
) -> None:
    """Insert unless the source task already made one (then the earlier one stands)."""
    stmt = (
        insert_for(conn, elements)
        .values(
            id=element_id,
            account_id=element.account_id,
            name=element.name,
            description=element.description,
            reference_type=element.reference_type,
            frontal_key=element.frontal_key,
            refer_keys=json.dumps(element.refer_keys),
            source_task_id=element.source_task_id,
            upstream=dump_json(element.upstream),
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
    return changed(conn.execute(stmt))


def encode_element_cursor(last: Element) -> str:
    """The opaque ``next_cursor`` of an element page: ``<created_at>_<id>`` of its last one."""
    return f"{last.created_at!r}_{last.id}"


_ELEMENT_CURSOR = re.compile(r"^([0-9]{1,12}(?:\.[0-9]{1,9})?)_([0-9]{1,19})$")


def decode_element_cursor(cursor: str) -> tuple[float, int]:
    """(created_at, id) the page continues after; also reads the base64 cursors of before."""
    found = _ELEMENT_CURSOR.match(cursor) or _ELEMENT_CURSOR.match(unbase64(cursor))
    if found is None:
        raise InvalidParameter(
            "cursor is not valid: pass the next_cursor of a previous page unchanged",
            param="cursor",
        )
    # Ids are below 2**63; a larger number still names a place in the order, the end.
    return float(found.group(1)), min(int(found.group(2)), 2**63 - 1)


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


class ElementsMixin:
    """Needs the store's ``_write``, ``_read`` and ``_clock``."""

    _write: Callable[[], AbstractContextManager[Connection]]
    _read: Callable[[], AbstractContextManager[Connection]]
    _clock: Callable[[], float]

    def create_element(self, element: NewElement) -> Element:
        with self._write() as conn:
            insert_element_if_absent(conn, new_element_id(), element, self._clock())
            made = select_element_by_source_task(conn, element.source_task_id)
        if made is None:  # pragma: no cover - inserted or kept in the same transaction
            raise StoreError(f"the element of task {element.source_task_id} vanished")
        return made

    def get_element(self, account_id: str, element_id: int) -> Element | None:
        with self._read() as conn:
            return select_element(conn, account_id, element_id)

    def list_elements(
        self, account_id: str, *, limit: int, cursor: str | None = None
    ) -> ElementPage:
        after = decode_element_cursor(cursor) if cursor else None
        with self._read() as conn:
            rows = select_element_page(conn, account_id, limit=limit + 1, after=after)
        page = rows[:limit]
        next_cursor = encode_element_cursor(page[-1]) if len(rows) > limit else None
        return ElementPage(elements=page, next_cursor=next_cursor)

    def delete_element(self, account_id: str, element_id: int) -> bool:
        with self._write() as conn:
            return soft_delete_element(conn, account_id, element_id, self._clock())


def new_element_id() -> int:
    """A random positive 63-bit id, at least 10^17 so that ids all look alike (18-19 digits)."""
    return 10**17 + secrets.randbelow(2**63 - 1 - 10**17)
