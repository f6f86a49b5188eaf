"""Tasks submitted at once by many threads of one process, created in one SQLite transaction.

SQLite commits one transaction at a time, and each commit writes the WAL: under a burst of
submissions, the commit, not the work, is what each waits for. The thread whose turn it is to
write (:meth:`SqliteTaskStore._in_turn`) creates every submission queued by then, each inside its
own ``SAVEPOINT`` (so one refused, a duplicate ``external_task_id``, a balance or limit it does not
pass, is rolled back alone), then commits them together; the others find theirs done when their
turn comes. Admission runs in order inside the one transaction, each seeing the tasks created
before it, so limits and balances hold exactly as with one transaction each. A task is reported
created only once the commit that holds it succeeded: if that commit fails, every submission of
the batch gets the error (:class:`StoreUnavailable`) and none was stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, exc

from kirin_api.store.base import NewTask, StoreError, StoreUnavailable, TaskRecord

if TYPE_CHECKING:
    from kirin_api.store.sql import SqlTaskStore

# At most this many submissions in one transaction: bounds how long the write lock is held.
MAX_BATCH = 64


@dataclass(eq=False)  # compared by identity
class _Submission:
    task: NewTask
    max_unfinished: int | None
    done: bool = False
    record: TaskRecord | None = None
    error: BaseException | None = None


class GroupCommit:
    """Creates tasks for ``store``; ``turn`` is its write turn, ``write`` its write transaction."""

    def __init__(
        self,
        store: SqlTaskStore,
        turn: Callable[[], AbstractContextManager[None]],
        write: Callable[[], AbstractContextManager[Connection]],
    ) -> None:
        self._store = store
        self._turn = turn
        self._write = write
        self._queue: list[_Submission] = []
        self._lock = threading.Lock()

    def create(self, task: NewTask, max_unfinished: int | None) -> TaskRecord:
        mine = _Submission(task, max_unfinished)
        with self._lock:
            self._queue.append(mine)
        while not mine.done:
            try:
                with self._turn():
                    if mine.done:  # created (or refused) by the thread whose turn came first
                        break
                    with self._lock:
                        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                    self._run(batch)
            except StoreUnavailable:  # no turn in time
                with self._lock:
                    if mine in self._queue:  # never attempted: the caller may be told so
                        self._queue.remove(mine)
                        raise
                # Taken into a batch that is running now: its outcome is this one's; wait.
        if mine.error is not None:
            raise mine.error
        assert mine.record is not None
        return mine.record

    def _run(self, batch: list[_Submission]) -> None:
        try:
            with self._write() as conn:
                for submission in batch:
                    self._create_one(conn, submission)
        except Exception as error:  # the commit (or the database) failed: nothing was stored
            for submission in batch:
                submission.record, submission.error = None, error
        finally:
            for submission in batch:
                submission.done = True

    def _create_one(self, conn: Connection, submission: _Submission) -> None:
        try:
            with conn.begin_nested():
                submission.record = self._store._create_in(
                    conn, submission.task, submission.max_unfinished
                )
        except exc.IntegrityError as error:
            submission.error = self._store._refusal(submission.task, error)
        except StoreError as error:  # refused by admission (balance, limit)
            submission.error = error
