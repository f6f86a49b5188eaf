"""Live events of a task (``GET .../events``, Server-Sent Events) and ``Prefer: wait`` on
create: both follow the task through the process's :class:`TaskWatcher`.

A stream sends ``event: task`` with the task object (as ``GET`` answers it) at once, then on
every change of status or progress (progress at most every 250 ms), and ends after a finished
status; a comment line every ``events_keepalive_seconds`` keeps proxies from closing it. Each
event's ``id`` is the state it reports, so a client that reconnects with ``Last-Event-ID`` is
not sent the state it already has; one that already has a finished state is answered ``204``,
which tells an ``EventSource`` to stop reconnecting.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from kirin_api.metrics import count_event_stream
from kirin_api.server import tasks_service
from kirin_api.server.auth import authenticate
from kirin_api.server.context import ServerContext
from kirin_api.server.task_watcher import watcher_of
from kirin_api.server.views import task_object
from kirin_api.store.base import Account, TaskRecord

router = APIRouter(prefix="/model/v1", tags=["generation"])
CurrentAccount = Annotated[Account, Depends(authenticate)]
# Progress events of one stream are at least this far apart (status changes are not held).
MIN_PROGRESS_GAP = 0.25
# What a client waits before reconnecting a dropped stream (the SSE "retry" field), in ms.
RECONNECT_MS = 1000


def event_id(task: TaskRecord) -> str:
    return f"{task.status.value}-{task.progress:.4f}"


def _event(task: TaskRecord, context: ServerContext, base_url: str) -> str:
    data = json.dumps(task_object(task, context, base_url), separators=(",", ":"))
    return f"id: {event_id(task)}\nevent: task\ndata: {data}\n\n"


@router.get(
    "/generation/task/{task_id}/events",
    summary="Follow a task live (Server-Sent Events)",
    response_class=StreamingResponse,
)
async def task_events(task_id: str, request: Request, account: CurrentAccount) -> Response:
    context = tasks_service.context_of(request)
    task = await tasks_service.get(context, account, task_id)  # 404 before any stream
    last_id = request.headers.get("last-event-id")
    if task.status.finished and last_id == event_id(task):
        return Response(status_code=204)
    return StreamingResponse(
        _stream(request, context, account, task, last_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(
    request: Request,
    context: ServerContext,
    account: Account,
    task: TaskRecord,
    last_id: str | None,
) -> AsyncIterator[str]:
    base_url = str(request.base_url)
    keepalive = context.events_keepalive_seconds
    count_event_stream(+1)
    try:
        yield f"retry: {RECONNECT_MS}\n\n"
        if event_id(task) != last_id:
            yield _event(task, context, base_url)
        if task.status.finished:
            return
        sent_at = time.monotonic()
        known = (task.status.value, task.progress)
        async with watcher_of(request).watching(task.id, known) as changed:
            while True:
                try:
                    await asyncio.wait_for(changed.wait(), timeout=keepalive)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                changed.clear()
                current = await tasks_service.get(context, account, task.id)
                if current.status == task.status:
                    if current.progress == task.progress:
                        continue
                    gap = MIN_PROGRESS_GAP - (time.monotonic() - sent_at)
                    if gap > 0:
                        await asyncio.sleep(gap)
                        changed.clear()
                        current = await tasks_service.get(context, account, task.id)
                task = current
                yield _event(task, context, base_url)
                sent_at = time.monotonic()
                if task.status.finished:
                    return
    finally:
        count_event_stream(-1)
