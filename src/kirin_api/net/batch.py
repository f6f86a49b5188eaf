"""A task's input URLs, fetched concurrently under one deadline for the task.

Each URL keeps its own limits (the fetcher's per-URL timeout, size cap, every address check);
the task deadline bounds them all together, so a task whose eight URLs each trickle for 28 s
costs 28 s, not eight times that, and never more than the task deadline. The first failure
stops the others (the task fails anyway), and so does the caller's ``should_stop`` (a cancel),
within :data:`POLL_SECONDS`: their sockets are cut, nothing waits for them to notice.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kirin_api.net.deadline import Deadline
from kirin_api.net.errors import FetchError
from kirin_api.net.fetch import FetchResult, SafeFetcher

__all__ = ["MAX_PARALLEL", "POLL_SECONDS", "FetchRequest", "Fetched", "fetch_all"]

MAX_PARALLEL = 8
"""URLs of one task fetched at once (an i2v task has at most 8)."""
POLL_SECONDS = 0.1
"""How often ``should_stop`` is asked while fetches run."""


@dataclass(frozen=True)
class FetchRequest:
    """One URL to fetch to ``dest``, capped at ``max_bytes``; ``param`` names it in errors.
    ``classify``: also find whether its host is public (for engines that relay URLs)."""

    url: str
    param: str
    max_bytes: int
    dest: Path
    classify: bool = False


@dataclass(frozen=True)
class Fetched:
    result: FetchResult
    public: bool


def fetch_all(
    fetcher: SafeFetcher,
    requests: Sequence[FetchRequest],
    *,
    deadline_seconds: float,
    should_stop: Callable[[], bool] = lambda: False,
    max_parallel: int = MAX_PARALLEL,
) -> dict[str, Fetched]:
    """Fetch every request at once (at most ``max_parallel`` together) within
    ``deadline_seconds`` in all; results by ``param``.

    Raises:
        FetchError: the first URL to fail (reason ``"timeout"`` when the task deadline passed
            first); reason ``"cancelled"`` when ``should_stop`` turned true.
    """
    if not requests:
        return {}
    deadline = Deadline(deadline_seconds)
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=min(len(requests), max_parallel), thread_name_prefix="fetch"
    )
    try:
        futures = {pool.submit(_one, fetcher, request, deadline): request for request in requests}
        done: dict[str, Fetched] = {}
        pending = set(futures)
        while pending:
            if should_stop():
                deadline.abort()
                raise FetchError("inputs: fetch stopped", "inputs", "cancelled")
            finished, pending = concurrent.futures.wait(
                pending, timeout=POLL_SECONDS, return_when=concurrent.futures.FIRST_COMPLETED
            )
            # In request order, so that of two failures the one reported does not depend on
            # which thread lost a race.
            for future in sorted(finished, key=lambda f: requests.index(futures[f])):
                error = future.exception()
                if error is not None:
                    deadline.abort()  # the task fails anyway: stop the others
                    raise error
                done[futures[future].param] = future.result()
        return done
    finally:
        # Nothing waits on a thread stuck in a connect: its sockets are cut or it is bounded by
        # the per-URL timeout; its file lands in a work dir that is removed with the task.
        pool.shutdown(wait=False, cancel_futures=True)
        deadline.close()


def _one(fetcher: SafeFetcher, request: FetchRequest, deadline: Deadline) -> Fetched:
    result = fetcher.fetch(
        request.url,
        max_bytes=request.max_bytes,
        param=request.param,
        dest=request.dest,
        within=deadline,
    )
    public = request.classify and fetcher.is_public(request.url)
    return Fetched(result, public)
