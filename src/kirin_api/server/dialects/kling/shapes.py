"""Kling's shapes: the envelope, the task data, and the one table from our errors to its codes."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from kirin_api.contract.errors import (
    ConcurrencyLimited,
    Conflict,
    InsufficientBalance,
    InternalError,
    InvalidMedia,
    InvalidParameter,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from kirin_api.contract.status import TaskStatus
from kirin_api.store.base import TaskRecord
from kirin_api.views import ResultLinks

CANCELLED_MESSAGE = "task was cancelled"
_STATUS = {
    TaskStatus.PENDING: "submitted",
    TaskStatus.PROCESSING: "processing",
    TaskStatus.COMPLETED: "succeed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "failed",
}

# Our error classes -> (HTTP status, Kling code), the most specific class first.
ERROR_TABLE: list[tuple[type[RequestError], int, int]] = [
    (InvalidRequest, 400, 1200),
    (PayloadTooLarge, 400, 1200),
    (InvalidParameter, 400, 1201),
    (InvalidMedia, 400, 1201),
    # A reused external_task_id: Kling's code, HTTP's status for it.
    (Conflict, 409, 1201),
    (InsufficientBalance, 429, 1102),
    (ConcurrencyLimited, 429, 1303),
    (TooManyRequests, 429, 1302),
    # Kling's table says 404; HTTP says 405 (with Allow), which clients and tools expect.
    (MethodNotAllowed, 405, 1202),
    (NotFound, 404, 1203),
    (Unavailable, 503, 5001),
    (InternalError, 500, 5000),
]


def new_request_id() -> str:
    return str(uuid.uuid4())


def envelope(data: Any) -> dict[str, Any]:
    return {"code": 0, "message": "SUCCEED", "request_id": new_request_id(), "data": data}


def status_and_code(error: RequestError) -> tuple[int, int]:
    if isinstance(error, Unauthorized):
        return 401, int(getattr(error, "kling_code", 1000))
    for cls, status, code in ERROR_TABLE:
        if isinstance(error, cls):
            return status, code
    return 500, 5000


def render_error(error: RequestError, request: Request) -> JSONResponse:
    """Kling's error body: ``{"code", "message", "request_id"}`` (no ``data``)."""
    status, code = status_and_code(error)
    message = error.message
    if error.param and error.param not in message:
        message = f"{error.param}: {message}"
    headers = {}
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    body = {"code": code, "message": message, "request_id": new_request_id()}
    return JSONResponse(body, status_code=status, headers=headers)


def task_data(task: TaskRecord, links: ResultLinks, base_url: str) -> dict[str, Any]:
    """The task as Kling's API answers it (``data`` of a query; the body of a callback)."""
    data: dict[str, Any] = {
        "task_id": task.id,
        "task_status": _STATUS[task.status],
        "task_status_msg": _status_message(task),
        "task_info": _task_info(task),
        "watermark_info": {"enabled": _watermarked(task)},
        "created_at": int(task.created_at * 1000),
        "updated_at": int(task.updated_at * 1000),
        "final_unit_deduction": task.usage_cost if task.usage_cost is not None else "0",
    }
    if task.status is TaskStatus.COMPLETED and task.result is not None:
        data["task_result"] = _result(task, links, base_url)
    return data


def _watermarked(task: TaskRecord) -> bool:
    return bool((task.params.get("watermark_info") or {}).get("enabled"))


def _status_message(task: TaskRecord) -> str:
    if task.status is TaskStatus.CANCELLED:
        return CANCELLED_MESSAGE
    if task.status is TaskStatus.FAILED:
        return f"{task.error_message} (code {task.error_code})"
    return ""


def _task_info(task: TaskRecord) -> dict[str, Any]:
    return {} if task.external_task_id is None else {"external_task_id": task.external_task_id}


def _result(task: TaskRecord, links: ResultLinks, base_url: str) -> dict[str, Any]:
    assert task.result is not None
    content: list[dict[str, Any]] = task.result["content"]
    videos = []
    elements = []
    job_id = str(task.result.get("job_id", task.id))
    for index, item in enumerate(content):
        if item["type"] == "element":
            elements.append(
                {
                    "element_id": int(item["element_id"]),
                    "element_name": task.params.get("element_name"),
                    "element_description": task.params.get("element_description", ""),
                    "reference_type": task.params.get("reference_type"),
                    "owned_by": "self",
                    "status": "succeed",
                }
            )
            continue
        video: dict[str, Any] = {
            "id": job_id if len(content) == 1 else f"{job_id}-{index}",
            "url": links.url(base_url, item["key"]),
        }
        if item.get("watermark_key"):
            video["watermark_url"] = links.url(base_url, item["watermark_key"])
        video["duration"] = str(round(float(item["duration"]), 3))
        videos.append(video)
    return {"elements": elements} if elements else {"videos": videos}
