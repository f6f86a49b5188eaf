"""Fixtures of the whole test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg_databases import DATABASES, PostgresDatabases


@pytest.fixture(scope="session", autouse=True)
def _stop_postgres_at_the_end() -> Iterator[None]:
    """The PostgreSQL server (if a test started one) goes away with the session."""
    yield
    DATABASES.close()


@pytest.fixture(scope="session")
def pg_databases() -> PostgresDatabases:
    """The session's PostgreSQL server (started on first use) and fresh databases on it."""
    return DATABASES
