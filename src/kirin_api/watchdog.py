"""No task waits forever: the tasks of a model that no live worker serves, and (if set) tasks
that waited in the queue too long, fail with their model's ``...094`` code and release what
they hold.

A worker is live while it heartbeats (``WorkerInfo.last_seen`` within ``stale_after``). A model
counts as unserved from the last time a live worker served it, or, if none ever did, from the
task's creation: a task fails once ``unserved_timeout`` seconds have passed since the later of
the two. Any process may run the watchdog (``kirin serve`` does, in its API process); two at once
do no harm, since a task is failed only while it is still pending.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kirin_api.contract.errors import TaskErrorKind, task_error_code
from kirin_api.contract.registry import served_models
from kirin_api.store.base import StoreUnavailable, TaskStore, WorkerInfo

log = logging.getLogger("kirin_api.watchdog")

# Rows of workers silent for this long are dropped (they are kept a while to tell when a model
# was last served).
FORGET_AFTER_SECONDS = 7 * 24 * 3600.0


def live_workers(workers: Sequence[WorkerInfo], now: float, stale_after: float) -> list[WorkerInfo]:
    return [w for w in workers if now - w.last_seen <= stale_after]


def served_now(workers: Sequence[WorkerInfo], now: float, stale_after: float) -> set[str]:
    """The models some live worker serves."""
    return {m for w in live_workers(workers, now, stale_after) for m in w.models}


@dataclass(frozen=True)
class WatchdogConfig:
    unserved_timeout: float = 600.0
    max_queue_seconds: float | None = None
    stale_after: float = 30.0
    interval: float = 5.0


class Watchdog:
    def __init__(
        self,
        store: TaskStore,
        config: WatchdogConfig,
        clock: Callable[[], float] = time.time,
        also: Sequence[Callable[[], object]] = (),
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        # Other sweeps on the same beat (the purge of expired uploads), each on its own.
        self._also = tuple(also)

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="watchdog", daemon=True)
        thread.start()
        return thread

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self._config.interval):
            try:
                self.sweep()
            except StoreUnavailable as exc:
                log.warning("watchdog: database unavailable: %s", exc)
            except Exception:  # a bug must not end the watchdog
                log.exception("watchdog sweep failed")
            for sweep in self._also:
                name = getattr(sweep, "__qualname__", sweep)
                try:
                    sweep()
                except StoreUnavailable as exc:  # an outage, not a bug: one line, no traceback
                    log.warning("watchdog: %s: database unavailable: %s", name, exc)
                except Exception:
                    log.exception("watchdog: %s failed", name)

    def sweep(self) -> list[str]:
        """Fail what waits too long now; the ids failed."""
        now = self._clock()
        config = self._config
        workers = self._store.list_workers()
        serving = served_now(workers, now, config.stale_after)
        failed: list[str] = []
        for model in served_models():
            code = task_error_code(model, TaskErrorKind.RESOURCE_INSUFFICIENT)
            if model not in serving:
                seen = [w.last_seen for w in workers if model in w.models]
                cutoff = now - config.unserved_timeout
                if not seen or max(seen) < cutoff:
                    message = (
                        f"no worker serves {model}: none has been live for "
                        f"{config.unserved_timeout:.0f}s (KIRIN_UNSERVED_TIMEOUT_SECONDS); "
                        "start a worker with an engine for it"
                    )
                    failed += self._store.fail_waiting(model, cutoff, code, message)
            if config.max_queue_seconds is not None:
                message = (
                    f"the task waited in the queue for more than {config.max_queue_seconds:.0f}s "
                    "(KIRIN_MAX_QUEUE_SECONDS) without a worker taking it"
                )
                cutoff = now - config.max_queue_seconds
                failed += self._store.fail_waiting(model, cutoff, code, message)
        self._store.forget_workers(now - FORGET_AFTER_SECONDS)
        if failed:
            log.warning("watchdog failed %d waiting tasks with 094: %s", len(failed), failed)
        return failed
