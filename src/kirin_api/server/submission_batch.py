"""Submissions gathered on the event loop and created in batches, one trip to a thread each.

Each ``POST`` of a task used to take its own trip to a thread and its own write transaction.
Under a burst that cost the event loop (the trip through Starlette's threadpool) and the
database (one commit each; on PostgreSQL the account's row locked from admission to commit, so
one account's submissions went one at a time, several round trips each).

Here a submission waits on a future in its account's queue. While a batch of that account is
being created, the next submissions queue; when it returns, up to :data:`MAX_BATCH` of them go
to a thread together and are created in one transaction by :meth:`TaskStore.create_tasks` (each
admitted in order, seeing the ones before it: limits and balances hold exactly). Batches are
per account: on PostgreSQL a transaction then locks one account's row, once, and different
accounts' batches run side by side (no transaction holds two accounts' locks, so no new
deadlock); on SQLite the write turn serialises them anyway.

A task is answered created only after the commit that holds it; if the transaction fails,
every submission of the batch gets that error and none was stored. A request that goes away
(its client gone: the waiting coroutine is cancelled) before its batch leaves is dropped from the
queue and never created; once its batch has left, the batch goes on for the others (the task is
created, as a request cancelled during its trip to a thread always was).
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kirin_api.store.base import (
    NewTask,
    StoreError,
    StoreUnavailable,
    Submission,
    TaskRecord,
    TaskStore,
)

# At most this many submissions in one transaction: bounds how long a write lock is held.
MAX_BATCH = 64
# Batches (of different accounts) created at once; each holds one pooled connection.
THREADS = 4


@dataclass(eq=False)
class _Waiting:
    submission: Submission
    future: asyncio.Future[TaskRecord]


class SubmissionBatcher:
    """Creates tasks in ``store`` from the coroutines of one event loop.

    Its threads are its own (a plain executor: a trip through it costs the loop a fraction of
    Starlette's ``run_in_threadpool``), started on first use, and again in a process forked
    after that."""

    def __init__(self, store: TaskStore, *, max_batch: int = MAX_BATCH, threads: int = THREADS):
        self._store = store
        self._max_batch = max_batch
        self._threads = threads
        self._queues: dict[str, deque[_Waiting]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._pid = os.getpid()
        # The running drains (a task the loop holds only weakly would be collected).
        self._drains: set[asyncio.Task[None]] = set()

    async def create(self, task: NewTask, max_unfinished: int | None) -> TaskRecord:
        """``TaskStore.create_task``, batched with the account's other submissions: the record,
        or the store's refusal raised (:class:`DuplicateExternalId`, :class:`InsufficientFunds`,
        :class:`TooManyUnfinished`, :class:`StoreUnavailable`)."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(Submission(task, max_unfinished), loop.create_future())
        queue = self._queues.get(task.account_id)
        if queue is None:  # no batch of this account in flight: this one starts one
            queue = self._queues[task.account_id] = deque()
            drain = loop.create_task(self._drain(task.account_id, queue))
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        queue.append(waiting)
        # Awaited directly: cancelling this request cancels its future only, never the drain.
        return await waiting.future

    async def _drain(self, account_id: str, queue: deque[_Waiting]) -> None:
        """Create the account's queued submissions, a batch at a time, until none is left."""
        batch: list[_Waiting] = []
        try:
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), self._max_batch))]
                # Gone before their batch left (client away): never created.
                batch = [w for w in batch if not w.future.done()]
                if batch:
                    await self._run(batch)
                batch = []
        finally:
            del self._queues[account_id]
            # Only when this drain is itself cancelled (the loop shutting down): nobody waits.
            for waiting in (*batch, *queue):
                waiting.future.cancel()

    async def _run(self, batch: list[_Waiting]) -> None:
        submissions = [w.submission for w in batch]
        loop = asyncio.get_running_loop()
        outcomes: Sequence[TaskRecord | BaseException]
        try:
            outcomes = await loop.run_in_executor(
                self._executor_now(), self._store.create_tasks, submissions
            )
        except StoreError as error:  # the transaction failed: nothing of the batch was stored
            outcomes = [_each(error) for _ in batch]
        except Exception as error:  # a bug: every request of the batch answers it (500)
            outcomes = [error] * len(batch)
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if waiting.future.done():  # its request went away meanwhile
                continue
            if isinstance(outcome, BaseException):
                waiting.future.set_exception(outcome)
            else:
                waiting.future.set_result(outcome)

    def _executor_now(self) -> ThreadPoolExecutor:
        if self._executor is None or self._pid != os.getpid():  # never the parent's threads
            self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="kirin-submit")
            self._pid = os.getpid()
        return self._executor

    def close(self) -> None:
        """Let the threads end once idle (a later submission starts new ones)."""
        if self._executor is not None and self._pid == os.getpid():
            self._executor.shutdown(wait=False)
        self._executor = None


def _each(error: StoreError) -> StoreError:
    """The batch's failure as an exception of its own per request (one instance raised in many
    coroutines would collect all their tracebacks)."""
    copy = (
        StoreUnavailable(str(error))
        if isinstance(error, StoreUnavailable)
        else StoreError(str(error))
    )
    copy.__cause__ = error
    return copy
