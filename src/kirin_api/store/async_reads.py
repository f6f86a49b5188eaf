"""The API's hot reads as coroutines, for a store whose reads wait on the network.

The reads of nearly every API request (the account of a key or of a JWT's access key, one
task, the first page of the task list) are, on PostgreSQL, a round trip on the network. Run
from a worker thread, each costs the event loop a trip to the thread and back (about a hundred
microseconds of Python) and the threads and the loop take turns at one GIL; run on the event
loop with an async driver, the loop does other requests' work while the database answers. A
store offers them as its ``async_reads`` (:class:`AsyncReads`); a store whose reads are local and
quick (SQLite) has none, and the API calls its ordinary methods on the loop (see
``TaskStore.quick_reads``).

Errors are the store's: :class:`~kirin_api.store.base.StoreUnavailable` when the database cannot
be reached or used (the API answers 503), never the driver's own.
"""

from __future__ import annotations

from typing import Protocol

from kirin_api.store.base import AccessKeyPair, Account, Page, TaskRecord


class AsyncReads(Protocol):
    """The same answers as the store's ``account_for_key``, ``access_key_pair``, ``get_task``
    and the unfiltered first page of ``list_tasks``, read on the running event loop.

    Connections belong to the event loop (and process) that opened them: the first read on a
    loop opens them there; :meth:`close` closes them and must be awaited on that loop (the API
    does so when it shuts down)."""

    async def account_for_key(self, key_hash: str) -> Account | None:
        """The account of an unrevoked API key with this hash, else None."""
        ...

    async def access_key_pair(self, access_key: str) -> AccessKeyPair | None:
        """The account and sealed secret of an unrevoked access-key pair, else None."""
        ...

    async def get_task(self, account_id: str, task_id: str) -> TaskRecord | None:
        """The account's task, None also when it belongs to another account."""
        ...

    async def first_page(self, account_id: str, limit: int) -> Page:
        """The account's newest ``limit`` tasks, as ``list_tasks(account_id, limit=limit)``."""
        ...

    async def close(self) -> None:
        """Close the connections opened on the running loop (reopened if used again)."""
        ...
