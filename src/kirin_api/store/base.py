"""The seam to the database: accounts, API keys and tasks.

Every change of a task's status is one transaction on its row. Workers hold a task through a
lease: ``claim`` hands out the task with a new ``attempt`` number and a lease deadline; the
worker extends the lease with ``heartbeat`` and ends the task with ``complete``, ``fail`` or
``mark_cancelled``, each fenced by the attempt, so a worker that lost its lease cannot
overwrite the task.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kirin_api.contract.errors import KirinError
from kirin_api.contract.status import TaskStatus
from kirin_api.store.delivery_records import DeliveryStore
from kirin_api.store.task_watch import TaskWatchStore
from kirin_api.store.upload_records import UploadStore

if TYPE_CHECKING:
    from kirin_api.store.async_reads import AsyncReads


class StoreError(KirinError):
    """Base of store errors."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (maps to 503 ``unavailable``)."""


class DuplicateExternalId(StoreError):
    """``external_task_id`` already used by this account (maps to 409 ``conflict``)."""


class TaskAlreadyFinished(StoreError):
    """Cancel of a finished task (maps to 409 ``conflict``)."""


class InsufficientFunds(StoreError):
    """The account's balance cannot hold the task's cost (maps to 402)."""

    def __init__(self, needed: str, available: str) -> None:
        super().__init__(f"the task needs {needed} USD; the account has {available} USD available")
        self.needed = needed
        self.available = available


class TooManyUnfinished(StoreError):
    """The account is at its limit of unfinished tasks (maps to 429)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the account already has {limit} unfinished tasks, its limit; "
            "retry when one has finished"
        )
        self.limit = limit


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    created_at: float
    balance: str | None = None  # decimal text; None: unlimited
    reserved: str = "0"  # held by unfinished tasks
    max_unfinished: int | None = None  # None: the server's default


@dataclass(frozen=True)
class ApiKey:
    """A key as stored: never the key itself, only its hash and a short prefix to recognise it."""

    id: str
    account_id: str
    name: str
    prefix: str
    created_at: float
    revoked_at: float | None = None
    # Set for an access-key pair (``kirin keys create --kling``): its access key, in clear.
    access_key: str | None = None


@dataclass(frozen=True)
class AccessKeyPair:
    """What checking a JWT needs: the pair's account and its secret key, still sealed."""

    account: Account
    sealed_secret: str


@dataclass(frozen=True)
class NewTask:
    id: str
    account_id: str
    model: str
    params: dict[str, Any]
    external_task_id: str | None
    callback_url: str | None
    created_at: float
    # Held of the account's balance until the task finishes (decimal text); None: free.
    reserve: str | None = None
    # The dialect the task was created in; its callbacks are rendered in it.
    dialect: str = "kirin"


@dataclass(frozen=True)
class Submission:
    """A task to create, and the unfinished-task limit that applies unless its account has one
    (see :meth:`TaskStore.create_tasks`)."""

    task: NewTask
    max_unfinished: int | None = None


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
    dialect: str = "kirin"


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
    # The same subject at upstream services: engine key -> the upstream's element id.
    upstream: dict[str, str] = field(default_factory=dict)


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
    upstream: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkerInfo:
    """A worker process as it registered itself, and when it was last heard from."""

    id: str
    host: str
    pid: int
    models: list[str]
    engines: dict[str, str]  # model id -> engine name
    version: str
    started_at: float
    last_seen: float
    current_task: str | None = None


@dataclass(frozen=True)
class QueueStat:
    """A model's pending tasks: how many, and when the oldest was created."""

    pending: int
    oldest_created_at: float | None


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
class TaskStore(UploadStore, TaskWatchStore, DeliveryStore, Protocol):
    """Implemented by the SQLite and PostgreSQL stores; all times are Unix seconds."""

    # Whether ``account_for_key``, ``get_task`` and ``list_tasks`` answer in microseconds and
    # never wait on the network (SQLite: a local file, whose WAL readers wait for no writer): the
    # API may then call them on its event loop's thread instead of a worker thread.
    quick_reads: bool
    # The same reads as coroutines on the event loop, for a store whose reads wait on the
    # network (PostgreSQL); None where ``quick_reads`` makes them pointless (SQLite).
    async_reads: AsyncReads | None

    # --- schema and health ---------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema up to date; safe when many processes call it at once."""
        ...

    def close(self) -> None:
        """Close the pooled connections (they reopen if the store is used again)."""
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
        """The account of an unrevoked key with this hash, else None (never an access-key
        pair's: those authenticate only by a signed token)."""
        ...

    def create_access_key(
        self, account_id: str, name: str, access_key: str, sealed_secret: str, key_hash: str
    ) -> ApiKey:
        """Store an access-key pair; ``key_hash`` is the hash of its secret key (unique, never
        looked up), ``sealed_secret`` the secret sealed with the server's secret key."""
        ...

    def access_key_pair(self, access_key: str) -> AccessKeyPair | None:
        """The account and sealed secret of an unrevoked pair with this access key, else None."""
        ...

    def reseal_access_keys(self, reseal: Callable[[str, str], str]) -> int:
        """Replace every pair's sealed secret by ``reseal(access_key, sealed)`` (rotating the
        server's secret key), in one transaction; how many were resealed."""
        ...

    def list_api_keys(self, account_id: str | None = None) -> list[ApiKey]: ...

    def revoke_api_key(self, key_id_or_prefix: str) -> ApiKey | None:
        """Revoke by id or by prefix; None if no such key."""
        ...

    # --- tasks, as the API sees them -----------------------------------------------------
    def create_task(self, task: NewTask, *, max_unfinished: int | None = None) -> TaskRecord:
        """Insert a pending task, holding ``task.reserve`` of its account's balance. Raises
        :class:`DuplicateExternalId`, :class:`TooManyUnfinished` (the account's own limit, else
        ``max_unfinished``), :class:`InsufficientFunds`; all checked in one transaction."""
        ...

    def create_tasks(self, submissions: Sequence[Submission]) -> list[TaskRecord | StoreError]:
        """``create_task`` of each submission, all in one transaction: for each, in order, its
        record or its refusal (returned, not raised), admitted as if created one after another.
        Raises (and stores none) only if the transaction fails: :class:`StoreUnavailable`."""
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
        models: Sequence[str] | None = None,
        offset: int = 0,
    ) -> Page:
        """Newest first; ``cursor`` is the ``next_cursor`` of the previous page. ``models``
        keeps the tasks of any of these models; ``offset`` skips that many (numbered pages)."""
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

    def wait_for_work(self, models: Sequence[str], timeout: float, stop: threading.Event) -> None:
        """Block until a task of ``models`` may be claimable, ``stop`` is set, or ``timeout``
        seconds passed; never raises. What an idle worker does between claims: PostgreSQL wakes
        it at once on a new task (LISTEN/NOTIFY); SQLite just waits (polling)."""
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

    def defer(self, task_id: str, attempt: int, delay: float) -> bool:
        """Processing -> pending again, claimable in ``delay`` seconds (an upstream asked us to
        wait); not a lost attempt. False if the lease was lost."""
        ...

    # --- operations: the registry of workers, tasks that wait too long --------------------

    def register_worker(self, worker: WorkerInfo) -> None:
        """Insert or replace the worker's row (``last_seen`` is now)."""
        ...

    def beat_worker(self, worker_id: str, current_task: str | None) -> None:
        """The worker is alive, working on ``current_task`` (None: idle)."""
        ...

    def unregister_worker(self, worker_id: str) -> None: ...

    def list_workers(self) -> list[WorkerInfo]:
        """Every registered worker, live or not, newest first."""
        ...

    def forget_workers(self, last_seen_before: float) -> int:
        """Drop the rows of workers not heard from since ``last_seen_before``; how many."""
        ...

    def queue_stats(self) -> dict[str, QueueStat]:
        """Pending tasks per model (models with none are left out)."""
        ...

    def task_counts(self) -> dict[tuple[str, str], int]:
        """How many tasks there are, by (model, status)."""
        ...

    def delivery_counts(self) -> dict[str, int]:
        """Callbacks that ended, by how: delivered, failed, gone."""
        ...

    def usage_costs(
        self, account_id: str | None, since: float | None, until: float | None
    ) -> list[tuple[str, str | None]]:
        """(model, cost) of the tasks completed in [since, until) (of one account, or all)."""
        ...

    def fail_waiting(
        self, model: str, created_before: float, error_code: str, error_message: str
    ) -> list[str]:
        """Fail the pending tasks of ``model`` created before ``created_before`` (releasing
        what they hold, with their callbacks); their ids."""
        ...

    # --- upstream engines: parallel-task slots --------------------------------------------
    # A group (an upstream engine entry) has ``capacity`` slots; a worker holds one for each
    # task of the group it runs, so no more than ``capacity`` run at once across all workers.

    def acquire_slot(self, group: str, capacity: int, holder: str, seconds: float) -> int | None:
        """A free (or expired) slot of ``group`` now held by ``holder`` for ``seconds``; None
        when all ``capacity`` slots are held."""
        ...

    def renew_slot(self, group: str, slot: int, holder: str, seconds: float) -> bool:
        """Hold the slot ``seconds`` more; False if ``holder`` no longer holds it."""
        ...

    def release_slot(self, group: str, slot: int, holder: str) -> None:
        """Free the slot if ``holder`` holds it."""
        ...

    # --- accounts: money and limits ------------------------------------------------------
    # A task's reservation is released when it fails or is cancelled, and the completed task's
    # cost is charged, in the transaction of that status change.
    def get_account(self, name: str) -> Account | None: ...

    def list_accounts(self) -> list[Account]: ...

    def set_balance(self, account_id: str, balance: Decimal | None) -> Account:
        """None makes the account unlimited."""
        ...

    def top_up(self, account_id: str, amount: Decimal) -> Account:
        """Raises :class:`StoreError` for an unlimited account, ValueError for amount <= 0."""
        ...

    def set_max_unfinished(self, account_id: str, limit: int | None) -> Account:
        """None: the server's default."""
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
