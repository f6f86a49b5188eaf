"""The task object of API.md, built from a stored task record: what ``GET`` answers and what a
callback carries, from this one function so the two can never drift apart.

It lives outside ``server`` because the webhook sender (in worker processes, which never import
the server) builds the same body; it needs only ``contract``, ``store`` records and ``storage``
(for the signed result URLs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kirin_api.contract.status import TaskStatus
from kirin_api.storage.base import BlobStorage
from kirin_api.storage.signing import signed_path
from kirin_api.store.base import TaskRecord

__all__ = ["ResultLinks", "TaskRenderer", "task_object"]


@dataclass(frozen=True)
class ResultLinks:
    """How result URLs are made: presigned by the storage where it can (S3), else signed by this
    server for its ``/files`` route under ``public_url`` (or the base URL of the request)."""

    storage: BlobStorage
    url_secret: bytes
    url_ttl_seconds: int
    public_url: str | None = None
    clock: Callable[[], float] = time.time

    def url(self, base_url: str, key: str) -> str:
        """A URL anyone holding it may fetch until it expires."""
        presigned = self.storage.presigned_url(key, self.url_ttl_seconds)
        if presigned is not None:
            return presigned
        # Expiry rounded up to the minute, so repeated polls within a minute give the same URL.
        expires = (int(self.clock()) + self.url_ttl_seconds + 59) // 60 * 60
        return (self.public_url or base_url.rstrip("/")) + signed_path(
            key, expires, self.url_secret
        )


# A task record in some dialect's shape (what its clients read and its callbacks carry).
TaskRenderer = Callable[[TaskRecord, ResultLinks, str], dict[str, Any]]


def task_object(task: TaskRecord, links: ResultLinks, base_url: str) -> dict[str, Any]:
    """The task object (API.md "The task object"); result URLs are signed now, under
    ``links.public_url`` or else ``base_url``."""
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
        # The seeds name the text both ways (``message``: multi-image and motion control;
        # ``error_message``: t2v, i2v, v3): both keys, so a client written from any page finds it.
        body["error"] = {
            "code": task.error_code,
            "message": task.error_message,
            "error_message": task.error_message,
        }
    if task.status is TaskStatus.COMPLETED and task.result is not None:
        body["output"] = [
            {
                "content": [_content(item, links, base_url) for item in task.result["content"]],
                "jobId": task.result.get("job_id", task.id),
            }
        ]
        body["usage"] = {"cost": task.usage_cost, "discount": task.result.get("discount", 0)}
    body["metadata"] = task.metadata
    return body


def _content(item: dict[str, Any], links: ResultLinks, base_url: str) -> dict[str, Any]:
    if item["type"] != "video":
        return dict(item)
    content: dict[str, Any] = {"type": "video", "url": links.url(base_url, item["key"])}
    if item.get("watermark_key"):
        content["watermark_url"] = links.url(base_url, item["watermark_key"])
    content["duration"] = item["duration"]
    return content
