"""PostgreSQL for the tests: one server per test session, a fresh database per test.

The server starts on first use (a run that needs no PostgreSQL never starts one). Each database is
cloned from a template that was migrated once (``CREATE DATABASE ... TEMPLATE``: a file copy, far
faster than running the migrations again). Tests that need PostgreSQL skip where the server
binaries are missing.
"""

from __future__ import annotations

import itertools
import threading

import psycopg
import pytest

from kirin_api.store.postgres import PostgresTaskStore
from tests.pg_server import PostgresServer, find_bin_dir

TEMPLATE = "kirin_template"


class PostgresDatabases:
    """The session's server and the databases made on it."""

    def __init__(self) -> None:
        self._server: PostgresServer | None = None
        self._names = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def server(self) -> PostgresServer:
        """The running server (started, with its migrated template, on first use)."""
        with self._lock:
            if self._server is None:
                bin_dir = find_bin_dir()
                if bin_dir is None:
                    pytest.skip("no PostgreSQL server binaries (postgresql package) here")
                server = PostgresServer(bin_dir)
                server.start()
                self._server = server
                self._admin(f"CREATE DATABASE {TEMPLATE}")
                store = PostgresTaskStore(self.url(TEMPLATE))
                store.migrate()
                store.close()
            return self._server

    def url(self, name: str) -> str:
        assert self._server is not None
        return f"postgresql://kirin@127.0.0.1:{self._server.port}/{name}"

    def _admin(self, statement: str) -> None:
        assert self._server is not None
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(statement.encode())

    def fresh(self, *, migrated: bool = True) -> str:
        """The URL of a new, empty database: migrated (from the template) or bare."""
        self.server  # noqa: B018 - starts the server on first use
        name = f"kirin_test_{next(self._names)}"
        template = f" TEMPLATE {TEMPLATE}" if migrated else ""
        self._admin(f"CREATE DATABASE {name}{template}")
        return self.url(name)

    def close(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.destroy()
                self._server = None


DATABASES = PostgresDatabases()
