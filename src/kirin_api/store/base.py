"""The seam to the database: accounts, API keys and tasks.

Every change of a task's status is one transaction on its row. Workers hold a task through a
lease: ``claim`` hands out the task with a new ``attempt`` number and a lease deadline; the
worker extends the lease with ``heartbeat`` and ends the task with ``complete``, ``fail`` or
``mark_cancelled``, each fenced by the attempt, so a worker that lost its lease cannot
overwrite the task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from kirin_api.contract.errors import KirinError
from kirin_api.contract.status import TaskStatus


class StoreError(KirinError):
    """Base of store errors."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (maps to 503 ``unavailable``)."""


class DuplicateExternalId(StoreError):
    """``external_task_id`` already used by this account (maps to 409 ``conflict``)."""


class TaskAlreadyFinished(StoreError):
    """Cancel of a finished task (maps to 409 ``conflict``)."""


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    created_at: float


@dataclass(frozen=True)
class ApiKey:
    """A key as stored: never the key itself, only its hash and a short prefix to recognise it."""

    id: str
    account_id: str
    name: str
    prefix: str
    created_at: float
    revoked_at: float | None = None


@dataclass(frozen=True)
class NewTask:
    id: str
    account_id: str
    model: str
    params: dict[str, Any]
    external_task_id: str | None
    callback_url: str | None
    created_at: float


@dataclass(frozen=True)
class TaskRecord:
    id: str
    account_id: str
    model: str
    status: TaskStatus
    progress: float
    params: dict[str, Any]
    external_task_id: str | None
    callback_url: str | None
    created_at: float
    updated_at: float
    completed_at: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    # What the worker stored on completion: blob keys and facts of the video (JSON).
    result: dict[str, Any] | None = None
    usage_cost: str | None = None  # a decimal, as text: money is never a float
    metadata: dict[str, Any] = field(default_factory=dict)
    attempt: int = 0
    lease_expires_at: float | None = None
    worker_id: str | None = None
    cancel_requested: bool = False


@dataclass(frozen=True)
class NewElement:
    """A subject for ``element_list``, made by the kirin_custom_elements task ``source_task_id``."""

    account_id: str
    name: str
    description: str | None
    reference_type: str
    frontal_key: str
    refer_keys: list[str]
    source_task_id: str


@dataclass(frozen=True)
class Element:
    id: int  # a positive 63-bit integer
    account_id: str
    name: str
    description: str | None
    reference_type: str
    frontal_key: str
    refer_keys: list[str]
    source_task_id: str
    created_at: float


@dataclass(frozen=True)
class ElementPage:
    elements: Sequence[Element]
    next_cursor: str | None


@dataclass(frozen=True)
class Page:
    tasks: Sequence[TaskRecord]
    next_cursor: str | None


@dataclass(frozen=True)
class Heartbeat:
    lease_held: bool  # False: another worker owns the task now (or it finished); stop at once
    cancel_requested: bool


@runtime_checkable
class TaskStore(Protocol):
    """Implemented by the SQLite store (and later PostgreSQL); all times are Unix seconds."""

    # --- schema and health ---------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema up to date; safe when many processes call it at once."""
        ...

    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` if the database cannot be reached."""
        ...

    def secret(self, name: str) -> bytes:
        """A server-wide random secret (32 bytes) under ``name``, created on first use, the
        same for every process on this database (URL signing)."""
        ...

    # --- accounts and keys ---------------------------------------------------------------
    def ensure_account(self, name: str) -> Account:
        """The account called ``name``, created if new."""
        ...

    def create_api_key(self, account_id: str, name: str, key_hash: str, prefix: str) -> ApiKey: ...

    def account_for_key(self, key_hash: str) -> Account | None:
        """The account of an unrevoked key with this hash, else None."""
        ...

    def list_api_keys(self, account_id: str | None = None) -> list[ApiKey]: ...

    def revoke_api_key(self, key_id_or_prefix: str) -> ApiKey | None:
        """Revoke by id or by prefix; None if no such key."""
        ...

    # --- tasks, as the API sees them -----------------------------------------------------
    def create_task(self, task: NewTask) -> TaskRecord:
        """Insert a pending task. Raises :class:`DuplicateExternalId`."""
        ...

    def get_task(self, account_id: str, task_id: str) -> TaskRecord | None:
        """None also when the task belongs to another account."""
        ...

    def list_tasks(
        self,
        account_id: str,
        *,
        limit: int,
        cursor: str | None = None,
        status: TaskStatus | None = None,
        model: str | None = None,
        external_task_id: str | None = None,
    ) -> Page:
        """Newest first; ``cursor`` is the ``next_cursor`` of the previous page."""
        ...

    def request_cancel(self, account_id: str, task_id: str) -> TaskRecord | None:
        """Pending: cancelled at once. Processing: ``cancel_requested`` set, the worker stops it.
        Finished: raises :class:`TaskAlreadyFinished`. None if not found for this account."""
        ...

    # --- tasks, as workers see them ------------------------------------------------------
    def claim(
        self, worker_id: str, models: Sequence[str], lease_seconds: float, max_attempts: int
    ) -> TaskRecord | None:
        """Take the oldest claimable task of ``models``: pending, or processing with an expired
        lease. It becomes processing with ``attempt`` + 1 and a new lease. A task whose lease
        expired after ``max_attempts`` attempts is failed with its model's ``...098`` code
        instead; one whose cancel was requested is cancelled instead. One statement's worth of
        locking: two workers never claim the same task."""
        ...

    def heartbeat(
        self, task_id: str, attempt: int, progress: float, lease_seconds: float
    ) -> Heartbeat:
        """Extend the lease and raise progress (never lowers it), if ``attempt`` still holds it."""
        ...

    def complete(
        self,
        task_id: str,
        attempt: int,
        result: dict[str, Any],
        usage_cost: str,
        metadata: dict[str, Any],
    ) -> bool:
        """Processing -> completed with progress 1.0; False if the lease was lost."""
        ...

    def fail(self, task_id: str, attempt: int, error_code: str, error_message: str) -> bool:
        """Processing -> failed; False if the lease was lost."""
        ...

    def mark_cancelled(self, task_id: str, attempt: int) -> bool:
        """Processing -> cancelled (after a requested cancel); False if the lease was lost."""
        ...

    # --- the subject library -------------------------------------------------------------
    def create_element(self, element: NewElement) -> Element:
        """Store a new element with a fresh id; idempotent per ``source_task_id`` (a retried
        task gets the element its earlier attempt made)."""
        ...

    def get_element(self, account_id: str, element_id: int) -> Element | None:
        """None when deleted, missing or another account's."""
        ...

    def list_elements(
        self, account_id: str, *, limit: int, cursor: str | None = None
    ) -> ElementPage:
        """The account's live elements, newest first."""
        ...

    def delete_element(self, account_id: str, element_id: int) -> bool:
        """False if there was no live element to delete."""
        ...
