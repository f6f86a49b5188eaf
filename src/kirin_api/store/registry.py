"""The registry of workers and the failing of tasks that wait too long: statements, and the
part of :class:`~kirin_api.store.sql.SqlTaskStore` that runs them (a mixin, to keep the store's
module about tasks)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from kirin_api.contract.status import TaskStatus
from kirin_api.store import accounts
from kirin_api.store.base import QueueStat, WorkerInfo
from kirin_api.store.schema import tasks, webhook_deliveries, workers

_PENDING = TaskStatus.PENDING.value


def _record(row: Any) -> WorkerInfo:
    m = row._mapping
    return WorkerInfo(
        id=m["id"],
        host=m["host"],
        pid=m["pid"],
        models=list(json.loads(m["models"])),
        engines=dict(json.loads(m["engines"])),
        version=m["version"],
        started_at=m["started_at"],
        last_seen=m["last_seen"],
        current_task=m["current_task"],
    )


class RegistryMixin:
    """Needs the store's ``_write``, ``_read``, ``_clock`` and ``_enqueue``."""

    _write: Callable[[], AbstractContextManager[Connection]]
    _read: Callable[[], AbstractContextManager[Connection]]
    _clock: Callable[[], float]
    _enqueue: Callable[[Connection, Sequence[str]], None]

    def register_worker(self, worker: WorkerInfo) -> None:
        values = {
            "id": worker.id,
            "host": worker.host,
            "pid": worker.pid,
            "models": json.dumps(worker.models),
            "engines": json.dumps(worker.engines),
            "version": worker.version,
            "started_at": worker.started_at,
            "last_seen": self._clock(),
            "current_task": worker.current_task,
        }
        with self._write() as conn:
            conn.execute(delete(workers).where(workers.c.id == worker.id))
            conn.execute(workers.insert().values(**values))

    def beat_worker(self, worker_id: str, current_task: str | None) -> None:
        with self._write() as conn:
            conn.execute(
                update(workers)
                .where(workers.c.id == worker_id)
                .values(last_seen=self._clock(), current_task=current_task)
            )

    def unregister_worker(self, worker_id: str) -> None:
        with self._write() as conn:
            conn.execute(delete(workers).where(workers.c.id == worker_id))

    def list_workers(self) -> list[WorkerInfo]:
        with self._read() as conn:
            rows = conn.execute(select(workers).order_by(workers.c.started_at.desc()))
            return [_record(row) for row in rows]

    def forget_workers(self, last_seen_before: float) -> int:
        with self._write() as conn:
            gone = conn.execute(delete(workers).where(workers.c.last_seen < last_seen_before))
            return int(gone.rowcount)

    def queue_stats(self) -> dict[str, QueueStat]:
        stmt = (
            select(tasks.c.model, func.count(), func.min(tasks.c.created_at))
            .where(tasks.c.status == _PENDING)
            .group_by(tasks.c.model)
        )
        with self._read() as conn:
            return {
                model: QueueStat(pending=int(count), oldest_created_at=oldest)
                for model, count, oldest in conn.execute(stmt)
            }

    def task_counts(self) -> dict[tuple[str, str], int]:
        stmt = select(tasks.c.model, tasks.c.status, func.count()).group_by(
            tasks.c.model, tasks.c.status
        )
        with self._read() as conn:
            return {(model, status): int(n) for model, status, n in conn.execute(stmt)}

    def delivery_counts(self) -> dict[str, int]:
        state = webhook_deliveries.c.state
        stmt = (
            select(state, func.count())
            .where(state.in_(["delivered", "failed", "gone"]))
            .group_by(state)
        )
        with self._read() as conn:
            return {outcome: int(n) for outcome, n in conn.execute(stmt)}

    def usage_costs(
        self, account_id: str | None, since: float | None, until: float | None
    ) -> list[tuple[str, str | None]]:
        conditions = [tasks.c.status == TaskStatus.COMPLETED.value]
        if account_id is not None:
            conditions.append(tasks.c.account_id == account_id)
        if since is not None:
            conditions.append(tasks.c.completed_at >= since)
        if until is not None:
            conditions.append(tasks.c.completed_at < until)
        stmt = select(tasks.c.model, tasks.c.usage_cost).where(*conditions)
        with self._read() as conn:
            return [(row.model, row.usage_cost) for row in conn.execute(stmt)]

    def fail_waiting(
        self, model: str, created_before: float, error_code: str, error_message: str
    ) -> list[str]:
        now = self._clock()
        stmt = (
            update(tasks)
            .where(
                tasks.c.model == model,
                tasks.c.status == _PENDING,
                tasks.c.created_at < created_before,
            )
            .values(
                status=TaskStatus.FAILED.value,
                error_code=error_code,
                error_message=error_message,
                lease_expires_at=None,
                updated_at=now,
                completed_at=now,
            )
            .returning(tasks.c.id, tasks.c.callback_url)
        )
        with self._write() as conn:
            failed = list(conn.execute(stmt))
            ids = [row.id for row in failed]
            self._enqueue(conn, [row.id for row in failed if row.callback_url is not None])
            accounts.settle(conn, ids)
        return ids
