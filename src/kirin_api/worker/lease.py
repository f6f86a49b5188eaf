"""Keeps a claimed task's lease alive from a background thread while the render runs.

The heartbeat also carries progress to the store and brings back the two reasons to stop: the
account cancelled the task, or another worker took it over (we were too slow to renew).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kirin_api.store.base import StoreUnavailable, TaskStore

log = logging.getLogger("kirin_api.worker")


class LeaseKeeper:
    def __init__(
        self,
        store: TaskStore,
        task_id: str,
        attempt: int,
        *,
        lease_seconds: float,
        interval: float,
        also: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._task_id = task_id
        self._attempt = attempt
        self._lease_seconds = lease_seconds
        self._interval = interval
        # Called with every heartbeat (what else the task holds: an upstream's slots).
        self._also = also
        self._progress = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{task_id}", daemon=True)
        self.cancel_requested = False
        self.lease_lost = False

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()

    def set_progress(self, fraction: float) -> None:
        # Progress never goes down, whatever the caller reports.
        self._progress = max(self._progress, min(max(fraction, 0.0), 1.0))

    def should_stop(self) -> bool:
        return self.cancel_requested or self.lease_lost

    def _run(self) -> None:
        while not self._done.wait(self._interval):
            try:
                beat = self._store.heartbeat(
                    self._task_id, self._attempt, self._progress, self._lease_seconds
                )
            except StoreUnavailable as exc:
                # Keep rendering: the lease is long enough to ride out a short outage, and if
                # it is not, the fenced completion will simply be refused.
                log.warning("heartbeat for %s failed: %s", self._task_id, exc)
                continue
            if not beat.lease_held:
                log.warning("lost the lease of %s (attempt %d)", self._task_id, self._attempt)
                self.lease_lost = True
                return
            if beat.cancel_requested:
                self.cancel_requested = True
            try:
                self._also()
            except StoreUnavailable as exc:
                log.warning("renewing what %s holds failed: %s", self._task_id, exc)
