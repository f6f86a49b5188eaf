"""Callbacks as an account sees them: its signing secret and the deliveries of a task."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from kirin_api.contract.errors import NotFound
from kirin_api.server.auth import authenticate
from kirin_api.server.context import ServerContext
from kirin_api.store.base import Account
from kirin_api.store.delivery_records import DeliveryRecord
from kirin_api.webhooks import format_secret

router = APIRouter(prefix="/model/v1", tags=["callbacks"])
CurrentAccount = Annotated[Account, Depends(authenticate)]


@router.get("/webhook-secret", summary="The webhook signing secret")
async def webhook_secret(request: Request, account: CurrentAccount) -> dict[str, str]:
    """The current secret (created on first use). During a rotation (``kirin webhooks
    rotate-secret``) this is the new one; callbacks are signed with both until it ends."""
    context: ServerContext = request.app.state.context
    secrets = await run_in_threadpool(context.store.webhook_secrets, account.id)
    return {"secret": format_secret(secrets.current)}


@router.get(
    "/generation/task/{task_id}/deliveries", summary="The callbacks of a task and how they went"
)
async def list_deliveries(task_id: str, request: Request, account: CurrentAccount) -> Any:
    """One entry per status change of the task (when it has a ``callback_url``), in order."""
    context: ServerContext = request.app.state.context
    deliveries = await run_in_threadpool(context.store.list_deliveries, account.id, task_id)
    if deliveries is None:
        raise NotFound(f"no task {task_id!r}", param="task_id")
    return {"object": "list", "data": [delivery_object(d) for d in deliveries]}


def _time(value: float | None) -> int | None:
    return None if value is None else int(value)


def delivery_object(delivery: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "object": "webhook.delivery",
        "task_id": delivery.task_id,
        "status_reported": delivery.status_reported.value,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "next_attempt_at": _time(delivery.next_attempt_at),
        "last_attempt_at": _time(delivery.last_attempt_at),
        "delivered_at": _time(delivery.delivered_at),
        "created_at": _time(delivery.created_at),
    }
