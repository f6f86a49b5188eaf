"""The SQLite store shared by several processes on one file, as ``kirin serve`` runs it."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kirin_api.contract.ids import ulid
from kirin_api.contract.status import TaskStatus
from kirin_api.store import NewTask, SqliteTaskStore
from kirin_api.store.migrations import head_revision
from tests.integration.store import procs

pytestmark = pytest.mark.slow

# spawn, not fork: each child opens its own connections, as separate worker processes do.
CTX = multiprocessing.get_context("spawn")


def run_children(target: Callable[..., None], args: list[tuple[Any, ...]]) -> dict[str, Any]:
    start = CTX.Barrier(len(args))
    out = CTX.Queue()
    children = [CTX.Process(target=target, args=(*a, start, out)) for a in args]
    for child in children:
        child.start()
    results = dict(out.get(timeout=120) for _ in children)
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    return results


def test_concurrent_claims_take_each_task_once(tmp_path: Path) -> None:
    path = tmp_path / "kirin.db"
    store = SqliteTaskStore(path)
    store.migrate()
    account = store.ensure_account("alice")
    ids = []
    for n in range(200):
        task_id = "task_" + ulid(1_763_700_000 + n)
        ids.append(task_id)
        store.create_task(
            NewTask(task_id, account.id, "kirin_v1_t2v", {"n": n}, None, None, 1_763_700_000.0)
        )

    results = run_children(
        procs.claim_until_empty, [(f"sqlite:///{path}", f"w{i}") for i in range(4)]
    )

    errors = {w: r for w, r in results.items() if isinstance(r, str)}
    assert not errors
    claims = Counter(task_id for claimed in results.values() for task_id in claimed)
    assert sorted(claims) == sorted(ids)
    assert set(claims.values()) == {1}
    # Each worker took its share in the order of creation (oldest first).
    for claimed in results.values():
        assert claimed == sorted(claimed)
    assert sum(1 for claimed in results.values() if claimed) >= 2
    page = store.list_tasks(account.id, limit=100, status=TaskStatus.COMPLETED)
    assert len(page.tasks) == 100
    assert page.next_cursor is not None
    assert all(task.attempt == 1 for task in page.tasks)


def test_concurrent_migrate_on_a_fresh_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    results = run_children(procs.migrate, [(f"sqlite:///{path}", f"m{i}") for i in range(4)])
    assert results == {f"m{i}": "ok" for i in range(4)}
    store = SqliteTaskStore(path)
    store.migrate()
    store.ping()
    with store._reader.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert version == [head_revision()]
    assert mode == "wal"
    assert [a.name for a in [store.ensure_account("shared")]] == ["shared"]


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_store_survives_fork(tmp_path: Path) -> None:
    store = SqliteTaskStore(tmp_path / "kirin.db")
    store.migrate()
    store.ensure_account("parent")  # the parent's pool now holds open connections
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=procs.use_inherited_store, args=(store, out))
    child.start()
    assert out.get(timeout=60) == ("child", "child")
    child.join(timeout=30)
    assert child.exitcode == 0
    # The parent's connections were left alone.
    assert store.ensure_account("parent").name == "parent"
    assert store.ensure_account("child").name == "child"
