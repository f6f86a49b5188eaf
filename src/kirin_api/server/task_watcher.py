"""Which watched tasks changed: one poller per API process for all its event streams and
``Prefer: wait`` requests.

Every ``interval`` (250 ms) while anything is watched, the poller reads the (status, progress)
of every watched task in one indexed statement and wakes the watchers of those that changed.
So an idle stream costs no database connection and no query of its own, a thousand streams cost
the same one query, and it works the same on SQLite and PostgreSQL and with any number of API
processes (each has its own poller; the database is the one thing they share). A change is seen
within ``interval``; changes closer together than that are seen as one (the latest state).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from kirin_api.store.base import StoreUnavailable, TaskStore
from kirin_api.store.task_watch import TaskState

log = logging.getLogger("kirin_api.server.events")

POLL_INTERVAL = 0.25


class TaskWatcher:
    def __init__(self, store: TaskStore, interval: float = POLL_INTERVAL) -> None:
        self._store = store
        self._interval = interval
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self._states: dict[str, TaskState] = {}
        self._poller: asyncio.Task[None] | None = None

    @property
    def watched(self) -> int:
        """Watchers now (event streams and waits of this process)."""
        return sum(len(events) for events in self._watchers.values())

    @contextlib.asynccontextmanager
    async def watching(self, task_id: str, known: TaskState) -> AsyncIterator[asyncio.Event]:
        """An event set whenever the task's state changes from ``known`` (clear it before
        reading the task, so no change is lost); unwatched when the block ends, however it
        ends (a client that went away cancels it)."""
        changed = asyncio.Event()
        self._watchers.setdefault(task_id, set()).add(changed)
        self._states.setdefault(task_id, known)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())
        try:
            yield changed
        finally:
            events = self._watchers.get(task_id)
            if events is not None:
                events.discard(changed)
                if not events:
                    del self._watchers[task_id]
                    self._states.pop(task_id, None)

    async def _poll(self) -> None:
        while self._watchers:
            await asyncio.sleep(self._interval)
            ids = list(self._watchers)
            if not ids:
                break
            try:
                states = await run_in_threadpool(self._store.task_states, ids)
            except StoreUnavailable as exc:  # the streams wait; the next poll tries again
                log.warning("task events: database unavailable: %s", exc)
                continue
            except Exception:  # a bug must not stop every stream of the process
                log.exception("task events: poll failed")
                continue
            for task_id, state in states.items():
                if task_id in self._watchers and self._states.get(task_id) != state:
                    self._states[task_id] = state
                    for event in self._watchers[task_id]:
                        event.set()


def watcher_of(request: Request) -> TaskWatcher:
    """The app's one watcher, made on first use (inside the server's event loop)."""
    state = request.app.state
    watcher: TaskWatcher | None = getattr(state, "task_watcher", None)
    if watcher is None:
        watcher = state.task_watcher = TaskWatcher(state.context.store)
    return watcher
