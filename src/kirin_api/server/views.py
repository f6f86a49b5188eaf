"""The task object of API.md, built from a stored task record."""

from __future__ import annotations

import time
from typing import Any

from kirin_api.contract.status import TaskStatus
from kirin_api.server.context import ServerContext
from kirin_api.storage.signing import signed_path
from kirin_api.store.base import Element, TaskRecord


def result_url(context: ServerContext, base_url: str, key: str) -> str:
    """A URL anyone holding it may fetch until it expires: presigned by the storage where it
    can (S3), else signed by this server for its ``/files`` route."""
    presigned = context.storage.presigned_url(key, context.url_ttl_seconds)
    if presigned is not None:
        return presigned
    # Expiry rounded up to the minute, so repeated polls within a minute give the same URL.
    expires = (int(time.time()) + context.url_ttl_seconds + 59) // 60 * 60
    return (context.public_url or base_url.rstrip("/")) + signed_path(
        key, expires, context.url_secret
    )


def task_object(task: TaskRecord, context: ServerContext, base_url: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": task.id,
        "object": "generation.task",
        "model": task.model,
        "status": task.status.value,
        "progress": round(float(task.progress), 4),
        "created_at": int(task.created_at),
        "updated_at": int(task.updated_at),
        "completed_at": int(task.completed_at) if task.completed_at is not None else None,
        "external_task_id": task.external_task_id,
    }
    if task.status is TaskStatus.FAILED:
        body["error"] = {"code": task.error_code, "message": task.error_message}
    if task.status is TaskStatus.COMPLETED and task.result is not None:
        body["output"] = [
            {
                "content": [_content(item, context, base_url) for item in task.result["content"]],
                "jobId": task.result.get("job_id", task.id),
            }
        ]
        body["usage"] = {"cost": task.usage_cost, "discount": task.result.get("discount", 0)}
    body["metadata"] = task.metadata
    return body


def _content(item: dict[str, Any], context: ServerContext, base_url: str) -> dict[str, Any]:
    if item["type"] != "video":
        return dict(item)
    content: dict[str, Any] = {"type": "video", "url": result_url(context, base_url, item["key"])}
    if item.get("watermark_key"):
        content["watermark_url"] = result_url(context, base_url, item["watermark_key"])
    content["duration"] = item["duration"]
    return content


def element_object(element: Element, context: ServerContext, base_url: str) -> dict[str, Any]:
    return {
        "id": element.id,
        "object": "element",
        "element_name": element.name,
        "element_description": element.description,
        "reference_type": element.reference_type,
        "frontal_image_url": result_url(context, base_url, element.frontal_key),
        "refer_image_urls": [result_url(context, base_url, key) for key in element.refer_keys],
        "task_id": element.source_task_id,
        "created_at": int(element.created_at),
    }
