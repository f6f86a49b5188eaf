"""The task store: the :class:`TaskStore` protocol, its records and errors, and :func:`open_store`.

Errors raised by every store (foreign database errors never leave it):

- :class:`StoreUnavailable` — the database cannot be reached or used (503 ``unavailable``);
- :class:`DuplicateExternalId` — ``external_task_id`` already used by the account (409);
- :class:`TaskAlreadyFinished` — cancelling a finished task (409);
- :class:`UnsupportedDatabase` — :func:`open_store` was given a database this build cannot use;
- :class:`StoreError` — the base of all of these.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from kirin_api.store.base import (
    AccessKeyPair,
    Account,
    ApiKey,
    DuplicateExternalId,
    Element,
    ElementPage,
    Heartbeat,
    InsufficientFunds,
    NewElement,
    NewTask,
    Page,
    QueueStat,
    StoreError,
    StoreUnavailable,
    Submission,
    TaskAlreadyFinished,
    TaskRecord,
    TaskStore,
    TooManyUnfinished,
    WorkerInfo,
)
from kirin_api.store.delivery_records import ClaimedDelivery, DeliveryRecord, WebhookSecrets
from kirin_api.store.sql import SqlTaskStore
from kirin_api.store.sqlite import SqliteTaskStore

__all__ = [
    "AccessKeyPair",
    "Account",
    "ApiKey",
    "ClaimedDelivery",
    "DeliveryRecord",
    "DuplicateExternalId",
    "Element",
    "ElementPage",
    "Heartbeat",
    "InsufficientFunds",
    "NewElement",
    "NewTask",
    "Page",
    "QueueStat",
    "SqlTaskStore",
    "SqliteTaskStore",
    "StoreError",
    "StoreUnavailable",
    "Submission",
    "TaskAlreadyFinished",
    "TaskRecord",
    "TaskStore",
    "TooManyUnfinished",
    "UnsupportedDatabase",
    "WebhookSecrets",
    "WorkerInfo",
    "open_store",
]


class UnsupportedDatabase(StoreError, NotImplementedError):
    """A database this build of the server cannot use (PostgreSQL without its drivers, psycopg and
    asyncpg)."""


def open_store(
    database_url: str, *, pool_size: int | None = None, read_connections: int | None = None
) -> TaskStore:
    """The store for ``database_url``; it does not migrate (call ``migrate()``).

    ``pool_size``: database connections this process keeps open (per engine on SQLite), at least
    the threads that use the store at once; None: the store's default. ``read_connections``
    (PostgreSQL): connections of the API's reads on its event loop (``TaskStore.async_reads``),
    opened when used; None: the store's default.

    - ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's spelling:
      the path is what follows the third slash) → :class:`SqliteTaskStore`;
    - ``postgresql://user:password@host:port/database`` (also ``postgres://`` and
      ``postgresql+psycopg://``) → :class:`~kirin_api.store.postgres.PostgresTaskStore`;
      :class:`UnsupportedDatabase` if psycopg or asyncpg is not installed;
    - anything else → :class:`ValueError` naming the scheme.
    """
    scheme = database_url.partition("://")[0].lower()
    backend = scheme.partition("+")[0]
    if backend in {"postgresql", "postgres"} and "://" in database_url:
        if scheme not in {"postgresql", "postgres", "postgresql+psycopg"}:
            raise ValueError(f"unsupported PostgreSQL driver {scheme!r}: use postgresql://...")
        try:
            from kirin_api.store import postgres
            from kirin_api.store.postgres import PostgresTaskStore
        except ImportError as error:  # psycopg and asyncpg are optional dependencies
            raise UnsupportedDatabase(
                f"PostgreSQL needs psycopg 3 and asyncpg (pip install 'kirin-api[server]'): {error}"
            ) from error
        try:
            return PostgresTaskStore(
                database_url,
                pool_size=postgres.DEFAULT_POOL_SIZE if pool_size is None else pool_size,
                read_connections=(
                    postgres.DEFAULT_READ_CONNECTIONS
                    if read_connections is None
                    else read_connections
                ),
            )
        except ArgumentError as error:
            raise ValueError(f"malformed database URL: {error}") from error
    if backend != "sqlite" or "://" not in database_url:
        raise ValueError(
            f"unsupported database URL scheme {scheme!r}: use sqlite:///path/to/kirin.db "
            "or postgresql://user@host/database"
        )
    try:
        url = make_url(database_url)
    except ArgumentError as error:
        raise ValueError(f"malformed database URL {database_url!r}: {error}") from error
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        # An in-memory database is private to one connection, so never shared with workers.
        raise ValueError(f"a SQLite database URL needs a file path, got {database_url!r}")
    if pool_size is None:
        return SqliteTaskStore(url.database)
    return SqliteTaskStore(url.database, pool_size=pool_size)
