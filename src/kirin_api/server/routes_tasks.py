"""Tasks in the Kirin dialect: create, get, list, cancel.

The Vtrix CLI speaks this dialect with an envelope around the parameters and its own decoding of
the answer (see :mod:`kirin_api.server.dialects.vtrix_cli`): its bodies are unwrapped here and
its requests get the task object in the shape it decodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from kirin_api.contract.errors import InvalidParameter
from kirin_api.contract.registry import model_schemas, served_models
from kirin_api.contract.status import TaskStatus
from kirin_api.server import tasks_service
from kirin_api.server.auth import authenticate
from kirin_api.server.dialects import vtrix_cli
from kirin_api.server.prefer_wait import preferred_wait, wait_for_finish
from kirin_api.server.views import task_object
from kirin_api.store.base import Account, TaskRecord

router = APIRouter(prefix="/model/v1", tags=["generation"])
# The poll hint: a preview task takes seconds; a GPU task takes minutes but reports progress.
POLL_AFTER_SECONDS = 1
DEFAULT_LIST_LIMIT = 20
CurrentAccount = Annotated[Account, Depends(authenticate)]
DIALECT = "kirin"


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


def answer(request: Request, task: TaskRecord) -> dict[str, Any]:
    return _answers(request, [task])[0]


def _answers(request: Request, tasks: Sequence[TaskRecord]) -> list[dict[str, Any]]:
    """The task objects in the shape of the request's client (looked at once per request)."""
    context = tasks_service.context_of(request)
    shape = vtrix_cli.render_for(request)
    base_url = str(request.base_url)
    return [shape(task_object(task, context, base_url)) for task in tasks]


@router.post(
    "/generation",
    summary="Create a generation task",
    openapi_extra=_create_body_schema(),
)
async def create_task(
    request: Request, response: Response, account: CurrentAccount
) -> dict[str, Any]:
    """With ``Prefer: wait=N`` (N <= 60), answers once the task has finished or N seconds have
    passed, with ``Preference-Applied: wait=N``."""
    body, headers = await create_answer(request, account)
    response.headers.update(headers)
    return body


async def create_answer(
    request: Request, account: Account
) -> tuple[dict[str, Any], dict[str, str]]:
    """The created task's object and the answer's headers (also what
    :mod:`kirin_api.server.fast_task_routes` answers)."""
    context = tasks_service.context_of(request)
    body = await tasks_service.read_json(request, context.max_body_bytes)
    body = vtrix_cli.unwrap_input_envelope(body)
    task = await tasks_service.submit(context, account, body, dialect=DIALECT)
    headers = {}
    wait = preferred_wait(request)
    if wait is not None:
        task = await wait_for_finish(request, account, task, wait)
        headers["Preference-Applied"] = f"wait={wait}"
    return answer(request, task), headers


@router.get("/generation/task/{task_id}", summary="Get one task (poll this)")
async def get_task(
    task_id: str, request: Request, response: Response, account: CurrentAccount
) -> dict[str, Any]:
    """While the task is unfinished, ``Retry-After`` says when polling again is worth it."""
    task = await tasks_service.get(tasks_service.context_of(request), account, task_id)
    if not task.status.finished:
        response.headers["Retry-After"] = str(POLL_AFTER_SECONDS)
    return answer(request, task)


@router.get("/generation/tasks", summary="List the account's tasks, newest first")
async def list_tasks(
    request: Request,
    account: CurrentAccount,
    limit: Annotated[int, Query(ge=1, le=100)] = DEFAULT_LIST_LIMIT,
    cursor: str | None = None,
    status: str | None = None,
    model: str | None = None,
    external_task_id: str | None = None,
) -> dict[str, Any]:
    return await list_answer(
        request,
        account,
        limit=limit,
        cursor=cursor,
        status=status,
        model=model,
        external_task_id=external_task_id,
    )


async def list_answer(
    request: Request,
    account: Account,
    *,
    limit: int,
    cursor: str | None,
    status: str | None,
    model: str | None,
    external_task_id: str | None,
) -> dict[str, Any]:
    """The list object of a validated ``limit`` and the other filters as given (checked here);
    also what :mod:`kirin_api.server.fast_task_routes` answers."""
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
    page = await tasks_service.list_page(
        tasks_service.context_of(request),
        account,
        limit=limit,
        cursor=cursor,
        status=status_filter,
        model=model,
        external_task_id=external_task_id,
    )
    return {
        "object": "list",
        "data": _answers(request, page.tasks),
        "next_cursor": page.next_cursor,
    }


@router.post("/generation/task/{task_id}/cancel", summary="Cancel a task that has not finished")
async def cancel_task(task_id: str, request: Request, account: CurrentAccount) -> dict[str, Any]:
    task = await tasks_service.cancel(tasks_service.context_of(request), account, task_id)
    return answer(request, task)
