"""Typed results: the task object, elements, models and pages, as API.md describes them.

Every model keeps fields it does not know (``extra="allow"``), so an SDK older than the server
still parses newer answers; ``status`` is the one closed set, because callers branch on it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

__all__ = [
    "FINISHED_STATUSES",
    "Element",
    "ModelInfo",
    "OutputContent",
    "Page",
    "Task",
    "TaskErrorInfo",
    "TaskOutput",
    "TaskStatus",
    "Upload",
    "Usage",
]

TaskStatus = Literal["pending", "processing", "completed", "failed", "cancelled"]
FINISHED_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
"""A task in one of these never changes status again."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class TaskErrorInfo(_Model):
    """Why a task failed: a nine-digit code of the model (``002001095``) and a message."""

    code: str
    message: str | None = Field(
        default=None, validation_alias=AliasChoices("message", "error_message")
    )


class OutputContent(_Model):
    """One generated resource: a video (``url``, maybe ``watermark_url``) or an element."""

    type: str
    url: str | None = None
    watermark_url: str | None = None
    duration: float | None = None
    element_id: int | None = None
    """For ``kirin_custom_elements`` tasks: the id of the new element."""


class TaskOutput(_Model):
    """One result of a completed task."""

    content: list[OutputContent] = Field(default_factory=list)
    job_id: str | None = Field(default=None, alias="jobId")


class Usage(_Model):
    """What the task cost; money is a :class:`~decimal.Decimal`, never a float."""

    cost: Decimal
    discount: float = 0


class Task(_Model):
    """A generation task, as ``GET /model/v1/generation/task/{id}`` answers it."""

    id: str
    object: str = "generation.task"
    model: str
    status: TaskStatus
    progress: float = 0.0
    """0.0 to 1.0, never decreasing."""
    created_at: int
    updated_at: int | None = None
    completed_at: int | None = None
    external_task_id: str | None = None
    error: TaskErrorInfo | None = None
    """Only when ``status`` is ``failed``."""
    output: list[TaskOutput] | None = None
    """Only when ``status`` is ``completed``."""
    usage: Usage | None = None
    """Only when ``status`` is ``completed``."""
    metadata: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        """True once the task is completed, failed or cancelled (it never changes again)."""
        return self.status in FINISHED_STATUSES

    def _first(self, kind: str) -> OutputContent | None:
        for result in self.output or []:
            for content in result.content:
                if content.type == kind:
                    return content
        return None

    @property
    def video_url(self) -> str | None:
        """The clean video's signed URL, or ``None`` when there is no video (yet)."""
        content = self._first("video")
        return content.url if content else None

    @property
    def watermark_url(self) -> str | None:
        """The watermarked video's URL; only when ``watermark_info.enabled`` was true."""
        content = self._first("video")
        return content.watermark_url if content else None

    @property
    def element_id(self) -> int | None:
        """For a completed ``kirin_custom_elements`` task: the new element's id."""
        content = self._first("element")
        return content.element_id if content else None


class Element(_Model):
    """A subject of the account's library, made by a ``kirin_custom_elements`` task."""

    id: int = Field(validation_alias=AliasChoices("id", "element_id"))
    """A 64-bit integer (the server may send it as a number or a decimal string)."""
    object: str = "element"
    element_name: str | None = None
    element_description: str | None = None
    reference_type: str | None = None
    created_at: int | None = None


class Upload(_Model):
    """A local file kept on the server a while: give ``url`` to any image or video parameter."""

    id: str
    object: str = "upload"
    url: str
    kind: Literal["image", "video"]
    bytes: int
    width: int
    height: int
    duration: float | None = None
    """Seconds (videos)."""
    expires_at: int


class ModelInfo(_Model):
    """A model this server serves, with the JSON Schema of its request body."""

    id: str
    object: str = "model"
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)


ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(BaseModel, Generic[ItemT]):
    """One page of a list: ``data`` and the cursor of the next page (``None`` at the end)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    object: str = "list"
    data: list[ItemT]
    next_cursor: str | None = None
