"""Where the routes run the store's hot reads: on the event loop's thread when the store says its
reads are quick (SQLite: a local file, WAL readers wait for no writer), else on a worker thread.

A trip to a worker thread and back costs the event loop more than a read of an indexed row in
SQLite; a PostgreSQL read waits on the network, which must never block the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from kirin_api.store.base import TaskStore

P = ParamSpec("P")
T = TypeVar("T")


async def read(store: TaskStore, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``call(*args, **kwargs)``, a read of ``store``: here if its reads are quick, else on the
    threadpool."""
    if store.quick_reads:
        return call(*args, **kwargs)
    return await run_in_threadpool(call, *args, **kwargs)
