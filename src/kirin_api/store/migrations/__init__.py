"""Alembic migrations of the task store, run programmatically (there is no ``alembic.ini``).

:func:`upgrade` brings the database on ``connection`` to the newest revision inside the
transaction the caller opened, so the caller decides how concurrent migrators are serialised (the
SQLite store holds ``BEGIN IMMEDIATE``: one process migrates, the others wait, then find the
schema current and do nothing).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for these migrations; ``env.py`` runs on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # Silences Alembic's warning about the legacy way of splitting version_locations.
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection) -> None:
    """``alembic upgrade head`` on ``connection`` (which should be inside a transaction)."""
    command.upgrade(alembic_config(connection), "head")


def head_revision() -> str | None:
    """The newest revision these migrations know."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
