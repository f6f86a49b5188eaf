"""What only the SQLite store does: its URL, its pragmas, its errors, its migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kirin_api.store import (
    SqliteTaskStore,
    StoreError,
    StoreUnavailable,
    UnsupportedDatabase,
    open_store,
)
from kirin_api.store.schema import metadata


def test_open_store_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = open_store(f"sqlite:///{tmp_path / 'abs.db'}")
    assert isinstance(absolute, SqliteTaskStore)
    assert absolute.path == tmp_path / "abs.db"
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///rel.db")
    assert isinstance(relative, SqliteTaskStore)
    assert relative.path == Path("rel.db")
    relative.migrate()
    assert (tmp_path / "rel.db").is_file()


def test_open_store_refuses_others() -> None:
    with pytest.raises(ValueError, match="'mysql'"):
        open_store("mysql://db/kirin")
    with pytest.raises(ValueError, match="driver"):
        open_store("postgresql+asyncpg://kirin@db/kirin")
    assert issubclass(UnsupportedDatabase, StoreError)
    assert issubclass(UnsupportedDatabase, NotImplementedError)
    with pytest.raises(ValueError, match="file path"):
        open_store("sqlite://")
    with pytest.raises(ValueError, match="file path"):
        open_store("sqlite:///:memory:")
    with pytest.raises(ValueError, match="scheme"):
        open_store("kirin.db")


def test_pragmas(tmp_path: Path) -> None:
    store = SqliteTaskStore(tmp_path / "kirin.db")
    store.migrate()
    with store._writer.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


def test_migrated_schema_matches_metadata(tmp_path: Path) -> None:
    store = SqliteTaskStore(tmp_path / "kirin.db")
    store.migrate()
    with store._reader.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_unable_to_open_is_unavailable(tmp_path: Path) -> None:
    store = SqliteTaskStore(tmp_path / "missing-dir" / "kirin.db")
    with pytest.raises(StoreUnavailable):
        store.ping()
    with pytest.raises(StoreUnavailable):
        store.migrate()


def test_not_migrated_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="no such table"):
        SqliteTaskStore(tmp_path / "kirin.db").ensure_account("alice")


def test_locked_past_the_timeout_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "kirin.db"
    store = SqliteTaskStore(path, busy_timeout=0.2)
    store.migrate()
    account = store.ensure_account("alice")
    # Another process holds the write lock (and keeps it).
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable, match="locked"):
            store.ensure_account("bob")
        # Reads go on meanwhile (WAL).
        assert store.account_for_key("nope") is None
        assert store.list_api_keys(account.id) == []
    finally:
        other.rollback()
        other.close()
    assert store.ensure_account("bob").name == "bob"


def test_not_a_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "kirin.db"
    path.write_bytes(b"this is not a database, it is text" * 100)
    with pytest.raises(StoreUnavailable):
        SqliteTaskStore(path).ping()
