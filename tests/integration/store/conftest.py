"""Fixtures of the store conformance tests: every TaskStore implementation runs the same tests.

The PostgreSQL factory runs every test on a fresh database of the session's server (skipped where
the server binaries are missing); a second call with the same ``tmp_path`` opens another store on
the same database, as the SQLite factory opens the same file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kirin_api.contract.ids import new_task_id
from kirin_api.store import NewTask, SqliteTaskStore, TaskStore
from kirin_api.store.postgres import PostgresTaskStore
from tests.pg_databases import DATABASES


class FakeClock:
    """A clock the test moves by hand, so leases expire without sleeping."""

    def __init__(self, start: float = 1_763_700_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


StoreFactory = Callable[[Path, FakeClock], TaskStore]


def _sqlite(tmp_path: Path, clock: FakeClock) -> TaskStore:
    return SqliteTaskStore(tmp_path / "kirin.db", clock=clock)


_PG_URLS: dict[Path, str] = {}


def _postgresql(tmp_path: Path, clock: FakeClock) -> TaskStore:
    url = _PG_URLS.get(tmp_path)
    if url is None:
        url = _PG_URLS[tmp_path] = DATABASES.fresh()
    return PostgresTaskStore(url, clock=clock)


STORE_FACTORIES: dict[str, StoreFactory] = {"sqlite": _sqlite, "postgresql": _postgresql}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    factory: StoreFactory = STORE_FACTORIES[request.param]
    return factory


@pytest.fixture
def store(store_factory: StoreFactory, tmp_path: Path, clock: FakeClock) -> Iterator[TaskStore]:
    """A migrated, empty store whose times come from ``clock``."""
    instance = store_factory(tmp_path, clock)
    instance.migrate()
    yield instance
    close = getattr(instance, "close", None)
    if close is not None:
        close()


def submitted_task(
    account_id: str, external: str | None = None, reserve: str | None = None
) -> NewTask:
    """A t2v task as the API would submit it (a fresh id, now)."""
    return NewTask(
        id=new_task_id(),
        account_id=account_id,
        model="kirin_v1_t2v",
        params={"prompt": "p"},
        external_task_id=external,
        callback_url=None,
        created_at=time.time(),
        reserve=reserve,
    )
