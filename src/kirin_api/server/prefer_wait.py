"""``Prefer: wait=N`` (RFC 7240) on ``POST /model/v1/generation``: hold the answer until the task
finishes or N seconds (at most 60) pass, then answer the task as it is then, with
``Preference-Applied: wait=N``. The wait follows the task through the process's
:class:`~kirin_api.server.task_watcher.TaskWatcher`, like an event stream, so a held request
costs no query of its own."""

from __future__ import annotations

import asyncio
import time

from fastapi import Request

from kirin_api.server import tasks_service
from kirin_api.server.task_watcher import watcher_of
from kirin_api.store.base import Account, TaskRecord

MAX_PREFER_WAIT = 60


def preferred_wait(request: Request) -> int | None:
    """The seconds of ``Prefer: wait=N`` (RFC 7240), at most 60; None where not asked (or not
    understood: a preference the server cannot read is ignored, as the RFC says)."""
    for header in request.headers.getlist("prefer"):
        for preference in header.split(","):
            name, _, value = preference.split(";")[0].strip().partition("=")
            value = value.strip().strip('"')
            if name.strip().lower() == "wait" and value.isdecimal():
                return min(int(value), MAX_PREFER_WAIT)
    return None


async def wait_for_finish(
    request: Request, account: Account, task: TaskRecord, seconds: int
) -> TaskRecord:
    """The task once finished, or as it is after ``seconds``."""
    if task.status.finished or seconds <= 0:
        return task
    context = tasks_service.context_of(request)
    deadline = time.monotonic() + seconds
    known = (task.status.value, task.progress)
    async with watcher_of(request).watching(task.id, known) as changed:
        while not task.status.finished:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(changed.wait(), timeout=remaining)
            except TimeoutError:
                break
            changed.clear()
            task = await tasks_service.get(context, account, task.id)
    if not task.status.finished:
        task = await tasks_service.get(context, account, task.id)
    return task
