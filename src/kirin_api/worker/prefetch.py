"""Tasks in hand: claimed, their inputs being fetched beside the render, then rendered.

Fetching is not rendering. While the worker renders one task, the inputs of the next ones are
fetched on threads of their own, so a slow URL costs its own task's time (bounded by the task
deadline), not the queue's, and a GPU never waits on the network while a task with ready inputs
waits. What the worker holds is bounded:

- by count: at most ``max_tasks`` tasks are being fetched at once;
- by bytes: no claim is made once the inputs of the tasks in hand may reach ``max_bytes`` on
  disk, counted by what their rules allow (the sum of each input's size cap), so a burst of
  video tasks does not fill the scratch disk;
- no task is claimed while one whose inputs are ready is waiting to be rendered, and none is
  claimed ahead while another live worker serving these models renders nothing (the registry
  says so): a worker does not hoard tasks that an idle worker could render at once;
- tasks of an engine with upstream slots, or that relays to an upstream, are claimed only by a
  worker with nothing in hand (their slots are held one task at a time; a relay has no render
  slot to keep busy).

Every task in hand keeps its lease alive (its own heartbeat thread) from the claim on, so a
cancel is seen within a heartbeat whatever phase the task is in, and a worker that dies leaves
its tasks to their leases, as before.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kirin_api.contract.registry import media_refs
from kirin_api.engines.base import RenderControl
from kirin_api.store.base import StoreUnavailable, TaskRecord, TaskStore
from kirin_api.worker.inputs import PreparedInputs
from kirin_api.worker.lease import LeaseKeeper

__all__ = [
    "DEFAULT_PREFETCH_BYTES",
    "DEFAULT_PREFETCH_TASKS",
    "InHand",
    "Ticket",
    "input_bytes",
    "peer_is_idle",
]

DEFAULT_PREFETCH_TASKS = 8
"""Tasks whose inputs one worker fetches at once (``KIRIN_PREFETCH_TASKS``)."""
DEFAULT_PREFETCH_BYTES = 1 << 30
"""Size caps of the inputs one worker holds at most (``KIRIN_PREFETCH_BYTES``)."""


def peer_is_idle(store: TaskStore, worker_id: str, models: list[str], stale_after: float) -> bool:
    """Whether another live worker serving any of ``models`` renders nothing (as the registry
    says, up to a registry interval late): then the queue is left to it rather than claimed
    ahead by ``worker_id``, where a task would wait for that worker's render."""
    now = time.time()
    try:
        workers = store.list_workers()
    except StoreUnavailable:
        return False
    mine = set(models)
    return any(
        w.id != worker_id
        and w.current_task is None
        and now - w.last_seen < stale_after
        and mine & set(w.models)
        for w in workers
    )


def input_bytes(task: TaskRecord) -> int:
    """The most bytes ``task``'s inputs may take on disk: the sum of their size caps."""
    return sum(ref.rules.max_bytes for ref in media_refs(task.model, task.params))


@dataclass
class Ticket:
    """One task in hand, from its claim until its status is written."""

    task: TaskRecord
    lease: LeaseKeeper
    control: RenderControl
    workdir: Path
    # What else the task holds until it ends (an upstream's slots).
    holds: contextlib.ExitStack
    size: int
    prepared: PreparedInputs | None = None
    future: concurrent.futures.Future[bool] | None = field(default=None, repr=False)


class InHand:
    """The tickets of one worker: started (their inputs fetched on a pool), then taken, in claim
    order among the ready ones, by the render loop, and done once their status is written.
    Thread-safe: a claiming thread starts tickets while the render loop takes them."""

    def __init__(self, max_tasks: int, max_bytes: int) -> None:
        self.max_tasks = max(1, max_tasks)
        self.max_bytes = max_bytes
        self._tickets: list[Ticket] = []  # preparing or ready
        self._rendering: Ticket | None = None
        self._changed = threading.Condition()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.max_tasks, thread_name_prefix="prefetch"
        )

    def busy(self) -> bool:
        """Whether any task is in hand (preparing, ready or rendering)."""
        with self._changed:
            return bool(self._tickets) or self._rendering is not None

    def room_for_more(self) -> bool:
        """Whether a claim may be made now: fewer than ``max_tasks`` preparing, no task with
        ready inputs waiting for the render, and the size caps in hand under ``max_bytes``."""
        with self._changed:
            ready = sum(1 for t in self._tickets if _done(t))
            preparing = len(self._tickets) - ready
            held = sum(t.size for t in self._tickets)
            if self._rendering is not None:
                held += self._rendering.size
            return ready == 0 and preparing < self.max_tasks and held < self.max_bytes

    def start(self, ticket: Ticket, prepare: Callable[[Ticket], bool]) -> None:
        """Fetch and check ``ticket``'s inputs aside; ``prepare`` returns False if it settled
        the task itself (failed, cancelled, given back)."""
        with self._changed:
            self._tickets.append(ticket)
            ticket.future = self._pool.submit(self._run, prepare, ticket)

    def _run(self, prepare: Callable[[Ticket], bool], ticket: Ticket) -> bool:
        try:
            return prepare(ticket)
        finally:
            with self._changed:
                self._changed.notify_all()

    def take_ready(self, wait: float) -> Ticket | None:
        """The first ticket (in claim order) whose inputs are ready, waiting up to ``wait``
        seconds for one; tickets settled while preparing are dropped on the way."""
        deadline = time.monotonic() + wait
        with self._changed:
            while True:
                for ticket in list(self._tickets):
                    if not _done(ticket):
                        continue
                    self._tickets.remove(ticket)
                    assert ticket.future is not None
                    if ticket.future.result():
                        self._rendering = ticket
                        return ticket
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def take_stopped(self) -> list[Ticket]:
        """Ready tickets whose task must stop before its render (a cancel came while it
        waited): the caller settles them now rather than when the render slot frees."""
        with self._changed:
            stopped = [
                t
                for t in self._tickets
                if _done(t)
                and t.future is not None
                and t.future.result()
                and t.control.should_stop()
            ]
            for ticket in stopped:
                self._tickets.remove(ticket)
        return stopped

    def finished(self, ticket: Ticket) -> None:
        with self._changed:
            if self._rendering is ticket:
                self._rendering = None
            self._changed.notify_all()

    def wait(self, seconds: float) -> None:
        """Until something changes (a ticket ready or finished), at most ``seconds``."""
        with self._changed:
            self._changed.wait(seconds)

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def close(self) -> list[Ticket]:
        """Wait for every ticket still preparing to settle (the worker is stopping: their
        ``should_stop`` is true, so they give their tasks back promptly); return those that
        became ready but were never rendered, for the caller to give back."""
        self._pool.shutdown(wait=True)
        with self._changed:
            left = [t for t in self._tickets if t.future is not None and t.future.result()]
            self._tickets = []
        return left


def _done(ticket: Ticket) -> bool:
    return ticket.future is not None and ticket.future.done()
