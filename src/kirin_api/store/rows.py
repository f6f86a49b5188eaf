"""What the store's statement modules share: the statuses as values and as SQL literals, the
dialect's own INSERT, JSON columns, and a task row as a :class:`~kirin_api.store.base.TaskRecord`.

The statements themselves live by what they are about: :mod:`.queries` (health, secrets, tasks
as the API sees them), :mod:`.task_leases` and :mod:`.task_finish` (tasks as workers see
them), :mod:`.accounts`, :mod:`.elements` and :mod:`.outbox` (callbacks).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, CursorResult, Row, String, literal_column
from sqlalchemy.dialects import postgresql, sqlite

from kirin_api import fastjson
from kirin_api.contract.status import TaskStatus
from kirin_api.store.base import TaskRecord

PENDING = TaskStatus.PENDING.value
PROCESSING = TaskStatus.PROCESSING.value
# The same, written into the SQL text (see ``task_leases._claim_statement``).
PENDING_SQL = literal_column(f"'{PENDING}'", String)
PROCESSING_SQL = literal_column(f"'{PROCESSING}'", String)


def insert_for(conn: Connection, table: Any) -> sqlite.Insert | postgresql.Insert:
    """The dialect's own INSERT, which knows ``ON CONFLICT DO NOTHING``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def changed(result: CursorResult[Any]) -> bool:
    return result.rowcount > 0


def dump_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def load_json(text: str | None) -> Any:
    return None if text is None else fastjson.loads(text)


def task_record(row: Row[Any]) -> TaskRecord:
    return task_of(row._mapping)


def task_of(m: Mapping[Any, Any]) -> TaskRecord:
    return TaskRecord(
        id=m["id"],
        account_id=m["account_id"],
        model=m["model"],
        status=TaskStatus(m["status"]),
        progress=m["progress"],
        params=load_json(m["params"]),
        external_task_id=m["external_task_id"],
        callback_url=m["callback_url"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        completed_at=m["completed_at"],
        error_code=m["error_code"],
        error_message=m["error_message"],
        result=load_json(m["result"]),
        usage_cost=m["usage_cost"],
        metadata=load_json(m["metadata"]) or {},
        attempt=m["attempt"],
        lease_expires_at=m["lease_expires_at"],
        worker_id=m["worker_id"],
        cancel_requested=bool(m["cancel_requested"]),
        dialect=m["dialect"],
    )


def unbase64(text: str) -> str:
    """The text of a base64 cursor of before (``:`` read as ``_``); "" if it is not one."""
    try:
        raw = base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))
        return raw.decode("ascii").replace(":", "_")
    except (ValueError, binascii.Error, UnicodeError):
        return ""
