"""The tables of the task store, as SQLAlchemy Core metadata.

This is the shape the code queries; the migrations in ``migrations/versions`` create it (a test
compares the two). Types are chosen to mean the same on SQLite and PostgreSQL:

- times are Unix seconds as floats (``Double``), never database timestamps, so the injectable clock
  of the store decides every time and no time zone is involved;
- JSON documents (``params``, ``result``, ``metadata``) are text written by the store, so both
  databases hand back exactly what was stored;
- money (``usage_cost``) is decimal text: never a float.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

# Named constraints, so migrations (and a later PostgreSQL) can refer to them by a stable name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# The statuses of a task that is not finished (the predicate of the claim index).
_UNFINISHED = "status IN ('pending', 'processing')"

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", Double, nullable=False),
    # Money as decimal text. NULL balance: unlimited (the self-hosted default). ``reserved`` is
    # what unfinished tasks hold; what may be spent is balance - reserved.
    Column("balance", String(40), nullable=True),
    Column("reserved", String(40), nullable=False, server_default="0"),
    # Unfinished (pending + processing) tasks allowed at once; NULL: the server's default.
    Column("max_unfinished", Integer, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(200), nullable=False),
    # SHA-256 (or similar) of the key: the key itself is never stored.
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("prefix", String(64), nullable=False, index=True),
    Column("created_at", Double, nullable=False),
    Column("revoked_at", Double, nullable=True),
    # An access-key pair (the Kling dialect's JWTs): the access key in clear, its secret key
    # sealed with the server's secret key (it must be read back to check signatures). NULL for
    # a plain API key, which is only ever checked against its hash.
    Column("access_key", String(64), nullable=True, unique=True),
    Column("sealed_secret", Text, nullable=True),
)

tasks = Table(
    "tasks",
    metadata,
    # A ULID with a prefix: ordering by id is ordering by creation (listing, claiming).
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("model", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("progress", Double, nullable=False),
    Column("params", Text, nullable=False),
    Column("external_task_id", String(64), nullable=True),
    Column("callback_url", Text, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    # When the task reached a finished status (completed, failed or cancelled).
    Column("completed_at", Double, nullable=True),
    Column("error_code", String(16), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("result", Text, nullable=True),
    Column("usage_cost", String(32), nullable=True),
    Column("metadata", Text, nullable=False),
    # The lease: ``attempt`` fences every write of a worker; 0 until first claimed.
    Column("attempt", Integer, nullable=False),
    Column("lease_expires_at", Double, nullable=True),
    Column("worker_id", String(200), nullable=True),
    Column("cancel_requested", Boolean, nullable=False),
    # What the task holds of its account's balance until it finishes (NULL once settled).
    Column("reserved_cost", String(40), nullable=True),
    # Times a worker put the task back in the queue for later (an upstream's rate or parallel
    # limit): not lost attempts, so they do not count towards KIRIN_MAX_ATTEMPTS. While such a
    # task is pending, ``lease_expires_at`` says when it may be claimed again.
    Column("deferrals", Integer, nullable=False, server_default="0"),
    # The dialect the task was created in (kirin, kling): its callbacks are rendered in it.
    Column("dialect", String(16), nullable=False, server_default="kirin"),
    # NULLs are distinct in both SQLite and PostgreSQL: tasks without one never collide.
    UniqueConstraint("account_id", "external_task_id"),
    # The lease sweeps: the lease-expired tasks of some models.
    Index("ix_tasks_claim", "status", "model", "lease_expires_at"),
    # Claiming: the unfinished tasks in id order, the oldest first (only they are in it).
    Index(
        "ix_tasks_queue",
        "id",
        postgresql_where=text(_UNFINISHED),
        sqlite_where=text(_UNFINISHED),
    ),
    # Listing: an account's tasks newest first, paged by id.
    Index("ix_tasks_account_id", "account_id", "id"),
)

secrets = Table(
    "secrets",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", Double, nullable=False),
)

elements = Table(
    "elements",
    metadata,
    # A random positive 63-bit integer, as the seeds show element ids (829836802793406551).
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("description", Text, nullable=True),
    Column("reference_type", String(32), nullable=False),
    # Blob keys of the subject's images: the frontal image and up to three more.
    Column("frontal_key", Text, nullable=False),
    Column("refer_keys", Text, nullable=False),
    # The kirin_custom_elements task that made it: a retried task finds its element again.
    Column("source_task_id", String(64), nullable=False, unique=True),
    # The same subject at upstream services (JSON: engine key -> the upstream's element id),
    # for tasks relayed there with this element in their element_list.
    Column("upstream", Text, nullable=False, server_default="{}"),
    Column("created_at", Double, nullable=False),
    Column("deleted_at", Double, nullable=True),
    # Listing: an account's elements newest first.
    Index("ix_elements_account_id", "account_id", "created_at", "id"),
)

# --- webhooks (callbacks): the outbox and the signing secrets ---------------------------------

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    # "msg_" + ULID: sent as the ``webhook-id`` header, the same on every retry of the delivery.
    Column("id", String(64), primary_key=True),
    Column("task_id", String(64), ForeignKey("tasks.id"), nullable=False),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    # 1, 2, 3 ... per task in the order of its status changes: deliveries of one task go out in
    # this order (one is not tried while an earlier one is still pending).
    Column("seq", Integer, nullable=False),
    # The snapshot of the task row taken in the transaction of the status change, so the body
    # reports that change even when the task has moved on by the time it is sent. The columns
    # that never change (model, params, created_at, external_task_id) are read from the task.
    Column("status_reported", String(16), nullable=False),
    Column("progress", Double, nullable=False),
    Column("task_updated_at", Double, nullable=False),
    Column("completed_at", Double, nullable=True),
    Column("error_code", String(16), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("result", Text, nullable=True),
    Column("usage_cost", String(32), nullable=True),
    Column("metadata", Text, nullable=False),
    # pending (to be sent), delivered (a 2xx), failed (schedule exhausted or refused for good),
    # gone (the receiver answered 410 to this or an earlier delivery of the task).
    Column("state", String(16), nullable=False),
    # Sends started so far; also the fence: only the sender holding this attempt may record it.
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Double, nullable=True),
    Column("lease_expires_at", Double, nullable=True),
    Column("last_attempt_at", Double, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", Double, nullable=True),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("task_id", "seq"),
    # Claiming: the pending deliveries that are due.
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("account_id", String(64), ForeignKey("accounts.id"), primary_key=True),
    # 32 random bytes; handed out as "whsec_" + base64.
    Column("secret", LargeBinary, nullable=False),
    # During a rotation: the secret before it, which also signs until ``previous_expires_at``.
    Column("previous_secret", LargeBinary, nullable=True),
    Column("previous_expires_at", Double, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("rotated_at", Double, nullable=True),
)

# --- upstream engines: parallel-task slots ---------------------------------------------------

engine_slots = Table(
    "engine_slots",
    metadata,
    # One row per slot of an upstream engine entry's ``max_concurrent``: a worker holds a slot
    # while a task of that entry runs, so at most that many run at once across all workers.
    Column("group_key", String(200), primary_key=True),
    Column("slot", Integer, primary_key=True),
    # Who holds it (a task id) and until when; a holder that dies frees it by expiring.
    Column("holder", String(64), nullable=True),
    Column("expires_at", Double, nullable=True),
)

# --- operations: the registry of workers -----------------------------------------------------

workers = Table(
    "workers",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    # JSON: the model ids it claims, and model id -> engine name.
    Column("models", Text, nullable=False),
    Column("engines", Text, nullable=False),
    Column("version", String(64), nullable=False),
    Column("started_at", Double, nullable=False),
    # Its heartbeat; a worker silent for KIRIN_WORKER_STALE_SECONDS is not live.
    Column("last_seen", Double, nullable=False),
    Column("current_task", String(64), nullable=True),
)

# --- uploads: users' local files kept a while as inputs ----------------------------------------

uploads = Table(
    "uploads",
    metadata,
    # "upl_" + ULID.
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("blob_key", Text, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("duration", Double, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    # The purge: expired uploads, oldest first.
    Index("ix_uploads_expires_at", "expires_at"),
)
