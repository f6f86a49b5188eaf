"""Where the routes run the store's reads, so that none blocks the event loop for long:

- the reads of nearly every request (a key's account, a JWT's access-key pair, one task, the
  first page of the list: :func:`account_for_key`, :func:`access_key_pair`, :func:`get_task`,
  :func:`list_tasks`) as the store's coroutines on the event loop where it has them
  (``TaskStore.async_reads``: PostgreSQL, whose reads wait on the network, over an async
  driver);
- else on the event loop's thread when the store says its reads are quick (SQLite: a local file,
  WAL readers wait for no writer);
- else on a worker thread (:func:`read`).

A trip to a worker thread and back costs the event loop more than a read of an indexed row in
SQLite (about a hundred microseconds of Python), and threads share the loop's GIL; a PostgreSQL
read waits on the network, which must never block the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from kirin_api.contract.status import TaskStatus
from kirin_api.store.base import AccessKeyPair, Account, Page, TaskRecord, TaskStore

P = ParamSpec("P")
T = TypeVar("T")


async def read(store: TaskStore, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``call(*args, **kwargs)``, a read of ``store``: here if its reads are quick, else on the
    threadpool."""
    if store.quick_reads:
        return call(*args, **kwargs)
    return await run_in_threadpool(call, *args, **kwargs)


async def account_for_key(store: TaskStore, key_hash: str) -> Account | None:
    """``store.account_for_key``, on the loop where the store can."""
    if store.async_reads is not None:
        return await store.async_reads.account_for_key(key_hash)
    return await read(store, store.account_for_key, key_hash)


async def access_key_pair(store: TaskStore, access_key: str) -> AccessKeyPair | None:
    """``store.access_key_pair``, on the loop where the store can."""
    if store.async_reads is not None:
        return await store.async_reads.access_key_pair(access_key)
    return await read(store, store.access_key_pair, access_key)


async def get_task(store: TaskStore, account_id: str, task_id: str) -> TaskRecord | None:
    """``store.get_task``, on the loop where the store can."""
    if store.async_reads is not None:
        return await store.async_reads.get_task(account_id, task_id)
    return await read(store, store.get_task, account_id, task_id)


async def list_tasks(
    store: TaskStore,
    account_id: str,
    *,
    limit: int,
    cursor: str | None = None,
    status: TaskStatus | None = None,
    model: str | None = None,
    external_task_id: str | None = None,
    models: Sequence[str] | None = None,
    offset: int = 0,
) -> Page:
    """``store.list_tasks``; the first page without filters (what a client listing its tasks
    asks) on the loop where the store can, any other page as :func:`read`."""
    unfiltered = (cursor, status, model, external_task_id, models) == (None,) * 5 and not offset
    if unfiltered and store.async_reads is not None:
        return await store.async_reads.first_page(account_id, limit)
    return await read(
        store,
        store.list_tasks,
        account_id,
        limit=limit,
        cursor=cursor,
        status=status,
        model=model,
        external_task_id=external_task_id,
        models=models,
        offset=offset,
    )


async def close(store: TaskStore) -> None:
    """Close the connections the store's reads opened on the running loop (app shutdown)."""
    if store.async_reads is not None:
        await store.async_reads.close()
