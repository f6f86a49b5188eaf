"""What watching tasks needs of the store: the status and progress of many tasks in one read
(the live events of ``GET .../events`` and ``Prefer: wait`` poll this, once per process)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from sqlalchemy import Connection, select

from kirin_api.store.schema import tasks

# Ids per statement: far below any database's limit on bound parameters.
BATCH = 500

TaskState = tuple[str, float]
"""(status, progress): what a watcher compares to tell that a task changed."""


class TaskWatchStore(Protocol):
    def task_states(self, task_ids: Sequence[str]) -> dict[str, TaskState]:
        """The (status, progress) of each of ``task_ids`` that exists (any account: callers
        have checked the account already)."""
        ...


class TaskWatchMixin:
    """Needs the store's ``_read``."""

    _read: Callable[[], AbstractContextManager[Connection]]

    def task_states(self, task_ids: Sequence[str]) -> dict[str, TaskState]:
        states: dict[str, TaskState] = {}
        with self._read() as conn:
            for start in range(0, len(task_ids), BATCH):
                chunk = list(task_ids[start : start + BATCH])
                stmt = select(tasks.c.id, tasks.c.status, tasks.c.progress).where(
                    tasks.c.id.in_(chunk)
                )
                for task_id, status, progress in conn.execute(stmt):
                    states[task_id] = (status, float(progress))
        return states
