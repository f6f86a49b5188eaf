"""Tasks: create, get, list, cancel."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from kirin_api.contract.errors import (
    Conflict,
    InsufficientBalance,
    InvalidParameter,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
)
from kirin_api.contract.ids import new_task_id
from kirin_api.contract.pricing import format_cost
from kirin_api.contract.registry import model_schemas, served_models, validate_request
from kirin_api.contract.status import TaskStatus
from kirin_api.server.auth import authenticate
from kirin_api.server.context import ServerContext
from kirin_api.server.intake import check_submission
from kirin_api.server.views import task_object
from kirin_api.store.base import (
    Account,
    DuplicateExternalId,
    InsufficientFunds,
    NewTask,
    TaskAlreadyFinished,
    TooManyUnfinished,
)
from kirin_api.webhooks import check_callback_url

router = APIRouter(prefix="/model/v1", tags=["generation"])
# The poll hint: a preview task takes seconds; a GPU task takes minutes but reports progress.
POLL_AFTER_SECONDS = 1
# When an account at its unfinished-task limit may try again: about one preview render.
UNFINISHED_RETRY_AFTER_SECONDS = 5
CurrentAccount = Annotated[Account, Depends(authenticate)]


def _context(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


async def _read_json(request: Request, limit: int) -> Any:
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


def _create_body_schema() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"oneOf": [m["parameters"] for m in model_schemas()]}
                }
            },
        }
    }


@router.post(
    "/generation",
    summary="Create a generation task",
    openapi_extra=_create_body_schema(),
)
async def create_task(request: Request, account: CurrentAccount) -> dict[str, Any]:
    context = _context(request)
    body = await _read_json(request, context.max_body_bytes)
    validated = validate_request(body)
    if validated.callback_url is not None:
        # No DNS here (see kirin_api.webhooks.urls): each delivery resolves and checks again.
        check_callback_url(validated.callback_url, allow_private=context.allow_private_networks)
    await run_in_threadpool(check_submission, validated, account, context.store)
    new = NewTask(
        id=new_task_id(),
        account_id=account.id,
        model=validated.model,
        params=validated.params,
        external_task_id=validated.external_task_id,
        callback_url=validated.callback_url,
        created_at=time.time(),
        reserve=format_cost(context.pricing.max_cost(validated.model, validated.params)),
    )
    try:
        task = await run_in_threadpool(
            lambda: context.store.create_task(new, max_unfinished=context.max_unfinished)
        )
    except InsufficientFunds as short:
        raise InsufficientBalance(f"insufficient balance: {short}; top the account up") from None
    except TooManyUnfinished as busy:
        raise TooManyRequests(str(busy), retry_after=UNFINISHED_RETRY_AFTER_SECONDS) from None
    except DuplicateExternalId:
        raise Conflict(
            f"external_task_id {validated.external_task_id!r} is already used by this account",
            param="external_task_id",
        ) from None
    return task_object(task, context, str(request.base_url))


@router.get("/generation/task/{task_id}", summary="Get one task (poll this)")
async def get_task(
    task_id: str, request: Request, response: Response, account: CurrentAccount
) -> dict[str, Any]:
    """While the task is unfinished, ``Retry-After`` says when polling again is worth it."""
    context = _context(request)
    task = await run_in_threadpool(context.store.get_task, account.id, task_id)
    if task is None:
        raise NotFound(f"no task {task_id!r}", param="task_id")
    if not task.status.finished:
        response.headers["Retry-After"] = str(POLL_AFTER_SECONDS)
    return task_object(task, context, str(request.base_url))


@router.get("/generation/tasks", summary="List the account's tasks, newest first")
async def list_tasks(
    request: Request,
    account: CurrentAccount,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
    status: str | None = None,
    model: str | None = None,
    external_task_id: str | None = None,
) -> dict[str, Any]:
    context = _context(request)
    status_filter = None
    if status is not None:
        try:
            status_filter = TaskStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in TaskStatus)
            raise InvalidParameter(
                f"status must be one of {allowed}; got {status!r}", param="status"
            ) from None
    if model is not None and model not in served_models():
        raise InvalidParameter(
            f"model must be one of {', '.join(served_models())}; got {model!r}", param="model"
        )
    page = await run_in_threadpool(
        lambda: context.store.list_tasks(
            account.id,
            limit=limit,
            cursor=cursor,
            status=status_filter,
            model=model,
            external_task_id=external_task_id,
        )
    )
    base_url = str(request.base_url)
    return {
        "object": "list",
        "data": [task_object(task, context, base_url) for task in page.tasks],
        "next_cursor": page.next_cursor,
    }


@router.post("/generation/task/{task_id}/cancel", summary="Cancel a task that has not finished")
async def cancel_task(task_id: str, request: Request, account: CurrentAccount) -> dict[str, Any]:
    context = _context(request)
    try:
        task = await run_in_threadpool(context.store.request_cancel, account.id, task_id)
    except TaskAlreadyFinished:
        raise Conflict(f"task {task_id!r} has already finished", param="task_id") from None
    if task is None:
        raise NotFound(f"no task {task_id!r}", param="task_id")
    return task_object(task, context, str(request.base_url))
