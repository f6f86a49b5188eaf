"""Upstreams' parallel-task limits, held through the store so that every worker respects them.

Before a claim, the worker takes one slot of each limited group its models count against
(:meth:`SlotHolder.reserve`); only the models whose groups all gave a slot are claimed, so a
task beyond the limit is never taken from the queue: it stays ``pending``. After the claim, the
slots of the claimed task's model are kept until it finishes (renewed with its heartbeats) and
the others are given back at once. A worker that dies frees its slots when they expire.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from kirin_api.engines.base import SlotGroup
from kirin_api.store.base import TaskStore

log = logging.getLogger("kirin_api.worker")


@dataclass
class Claimable:
    """The models a claim may take; :meth:`keep_for` the claimed task's model then gives back,
    at once, the slots that task does not need."""

    models: list[str]
    release_unneeded: Callable[[str | None], None]

    def keep_for(self, model: str | None) -> None:
        self.release_unneeded(model)


class SlotHolder:
    def __init__(
        self,
        store: TaskStore,
        groups: Mapping[str, Sequence[SlotGroup]],
        *,
        holder: str,
        seconds: float,
    ) -> None:
        self._store = store
        self._groups = {model: list(g) for model, g in groups.items() if g}
        self._holder = holder
        self._seconds = seconds
        self._held: dict[str, tuple[SlotGroup, int]] = {}
        self._renewed_at = 0.0
        self._lock = threading.Lock()

    @contextmanager
    def reserve(self, models: Sequence[str]) -> Iterator[Claimable]:
        """Yield the models that may be claimed now; give every slot back when the block ends
        (the task, if one was claimed, has finished by then)."""
        wanted = {g.key: g for m in models for g in self._groups.get(m, [])}
        for key, group in wanted.items():
            slot = self._store.acquire_slot(key, group.capacity, self._holder, self._seconds)
            if slot is not None:
                with self._lock:
                    self._held[key] = (group, slot)
        free = [m for m in models if all(g.key in self._held for g in self._groups.get(m, []))]
        try:
            yield Claimable(free, self._keep_only)
        finally:
            self._release(lambda key: True)

    def _keep_only(self, model: str | None) -> None:
        needed = {g.key for g in self._groups.get(model or "", [])}
        self._release(lambda key: key not in needed)

    def renew(self) -> None:
        """Called with every heartbeat: keep the held slots a while longer (at most a few
        times a lease, not at every beat)."""
        now = time.monotonic()
        with self._lock:
            if not self._held or now - self._renewed_at < self._seconds / 4:
                return
            self._renewed_at = now
            held = list(self._held.values())
        for group, slot in held:
            if not self._store.renew_slot(group.key, slot, self._holder, self._seconds):
                log.warning("slot %d of %s expired while held", slot, group.key)

    def _release(self, which: Callable[[str], bool]) -> None:
        with self._lock:
            going = [key for key in self._held if which(key)]
            released = [self._held.pop(key) for key in going]
        for group, slot in released:
            self._store.release_slot(group.key, slot, self._holder)
