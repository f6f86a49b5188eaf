"""Alembic's entry point for the task store: always online, on the caller's connection.

The store passes its connection in ``config.attributes["connection"]`` (see ``__init__.py``), so
the migration runs inside the transaction (and the lock) the store holds.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from kirin_api.store.schema import metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "the kirin migrations run through TaskStore.migrate(), which passes a connection"
        )
    # render_as_batch: SQLite alters tables by copying them; PostgreSQL ignores the flag.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
