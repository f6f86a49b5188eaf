"""The task and element objects of API.md, as the server's routes answer them.

The task object itself is built by :mod:`kirin_api.views` (shared with the webhook sender, so a
callback carries exactly what ``GET`` answers); this module adapts it to the server's context.
"""

from __future__ import annotations

from typing import Any

from kirin_api import views
from kirin_api.server.context import ServerContext
from kirin_api.store.base import Element, TaskRecord


def result_links(context: ServerContext) -> views.ResultLinks:
    return context.result_links


def result_url(context: ServerContext, base_url: str, key: str) -> str:
    """A URL anyone holding it may fetch until it expires: presigned by the storage where it
    can (S3), else signed by this server for its ``/files`` route."""
    return result_links(context).url(base_url, key)


def task_object(task: TaskRecord, context: ServerContext, base_url: str) -> dict[str, Any]:
    return views.task_object(task, result_links(context), base_url)


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
