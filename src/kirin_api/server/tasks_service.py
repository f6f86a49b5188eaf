"""The one core behind every dialect: submit, read and cancel tasks.

A dialect parses its request into the Kirin body (``{"model": ..., flat parameters}``) and
calls these; they run the same validation, the same checks of media and elements, the same
admission (limits, money, ``external_task_id``) and raise the same :class:`RequestError` tree.
The dialect then renders the task record in its own shape, and its errors through its own table.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from kirin_api.contract.errors import (
    ConcurrencyLimited,
    Conflict,
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
)
from kirin_api.contract.ids import new_task_id
from kirin_api.contract.pricing import format_cost
from kirin_api.contract.registry import validate_request
from kirin_api.server import reads
from kirin_api.server.context import ServerContext
from kirin_api.server.intake import check_submission, has_checks
from kirin_api.store.base import (
    Account,
    DuplicateExternalId,
    InsufficientFunds,
    NewTask,
    Page,
    TaskAlreadyFinished,
    TaskRecord,
    TooManyUnfinished,
)
from kirin_api.webhooks import check_callback_url

# When an account at its unfinished-task limit may try again: about one preview render.
UNFINISHED_RETRY_AFTER_SECONDS = 5


def context_of(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


async def read_json(request: Request, limit: int) -> Any:
    """The request's JSON body, read up to ``limit`` bytes (413 above it, 400 if not JSON)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks), parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidRequest(f"body is not valid JSON: {exc}") from None


def _refuse_constant(name: str) -> None:
    # Python's json module reads NaN and Infinity, which JSON does not have.
    raise ValueError(f"{name} is not a JSON value")


async def submit(
    context: ServerContext, account: Account, body: object, *, dialect: str
) -> TaskRecord:
    """Validate a Kirin body and queue its task for ``account``, created in ``dialect``."""
    validated = validate_request(body)
    if validated.callback_url is not None:
        # No DNS here (see kirin_api.webhooks.urls): each delivery resolves and checks again.
        check_callback_url(validated.callback_url, allow_private=context.allow_private_networks)
    checks = functools.partial(
        check_submission,
        validated,
        account,
        context.store,
        context.url_secret,
        allow_private=context.allow_private_networks,
    )
    if has_checks(validated, context.url_secret):
        await run_in_threadpool(checks)  # decoding images, reading uploads and elements
    else:
        checks()  # addresses and the relations between URL media: pure and quick, no thread
    new = NewTask(
        id=new_task_id(),
        account_id=account.id,
        model=validated.model,
        params=validated.params,
        external_task_id=validated.external_task_id,
        callback_url=validated.callback_url,
        created_at=time.time(),
        reserve=format_cost(context.pricing.max_cost(validated.model, validated.params)),
        dialect=dialect,
    )
    try:
        return await context.submissions.create(new, context.max_unfinished)
    except InsufficientFunds as short:
        raise InsufficientBalance(f"insufficient balance: {short}; top the account up") from None
    except TooManyUnfinished as busy:
        raise ConcurrencyLimited(str(busy), retry_after=UNFINISHED_RETRY_AFTER_SECONDS) from None
    except DuplicateExternalId:
        raise Conflict(
            f"external_task_id {validated.external_task_id!r} is already used by this account",
            param="external_task_id",
        ) from None


async def get(context: ServerContext, account: Account, task_id: str) -> TaskRecord:
    """The account's task, or :class:`NotFound` (also for another account's)."""
    task = await reads.get_task(context.store, account.id, task_id)
    if task is None:
        raise NotFound(f"no task {task_id!r}", param="task_id")
    return task


async def find_by_external_id(
    context: ServerContext, account: Account, external_task_id: str, models: Sequence[str]
) -> TaskRecord:
    """The account's task of one of ``models`` with this ``external_task_id``, or NotFound."""
    page = await list_page(
        context, account, limit=1, external_task_id=external_task_id, models=models
    )
    if not page.tasks:
        raise NotFound(
            f"no task with external_task_id {external_task_id!r}", param="external_task_id"
        )
    return page.tasks[0]


async def list_page(context: ServerContext, account: Account, **filters: Any) -> Page:
    """``TaskStore.list_tasks`` of the account (filters as there)."""
    return await reads.list_tasks(context.store, account.id, **filters)


async def cancel(context: ServerContext, account: Account, task_id: str) -> TaskRecord:
    try:
        task = await run_in_threadpool(context.store.request_cancel, account.id, task_id)
    except TaskAlreadyFinished:
        raise Conflict(f"task {task_id!r} has already finished", param="task_id") from None
    if task is None:
        raise NotFound(f"no task {task_id!r}", param="task_id")
    return task
