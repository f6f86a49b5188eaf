"""``kirin serve`` and ``kirin worker`` on PostgreSQL: API processes that share one database, and a
database restart in the middle of a run (503 while it is down, nothing lost)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Kirin, wait_for
from tests.pg_databases import PostgresDatabases

pytestmark = pytest.mark.slow

T2V = {"model": "kirin_v1_t2v", "prompt": "waves on a rocky shore", "duration": 5}


def test_two_api_processes_serve_the_same_tasks(
    pg_databases: PostgresDatabases, tmp_path: Path
) -> None:
    url = pg_databases.fresh()
    first = Kirin(tmp_path / "a", env={"KIRIN_DATABASE_URL": url})
    # A second API process on other data dir and port: all it shares is the database (and, for
    # result files, the storage: here the first one's directory).
    second = Kirin(
        tmp_path / "b",
        env={"KIRIN_DATABASE_URL": url, "KIRIN_STORAGE_URL": f"file://{tmp_path / 'a' / 'files'}"},
    )
    first.env["KIRIN_STORAGE_URL"] = second.env["KIRIN_STORAGE_URL"]
    try:
        first.start_server(workers=1)
        second.start_server(workers=0)
        key = first.create_key()
        with first.client(key) as one, second.client(key) as two:
            task = one.post("/model/v1/generation", json=T2V).json()
            seen = two.get(f"/model/v1/generation/task/{task['id']}")
            assert seen.status_code == 200
            assert seen.json()["id"] == task["id"]
            listed = two.get("/model/v1/generation/tasks").json()
            assert [t["id"] for t in listed["data"]] == [task["id"]]
            done = wait_for(two, task["id"])
            assert done["status"] == "completed", done
            again = wait_for(one, task["id"])
            # The same task, its link signed with the database's shared secret: each API names
            # itself in the link, and either serves the file.
            link = done["output"][0]["content"][0]["url"]
            assert (
                link.replace(second.base_url, first.base_url)
                == (again["output"][0]["content"][0]["url"])
            )
            assert {k: v for k, v in again.items() if k != "output"} == {
                k: v for k, v in done.items() if k != "output"
            }
            video = httpx.get(link, timeout=30)
            assert video.status_code == 200
            assert video.content[4:8] == b"ftyp"
    finally:
        first.stop()
        second.stop()


def test_a_database_restart_is_503_then_nothing_is_lost(
    pg_databases: PostgresDatabases, tmp_path: Path
) -> None:
    kirin = Kirin(
        tmp_path / "data",
        env={"KIRIN_DATABASE_URL": pg_databases.fresh(), "KIRIN_LEASE_SECONDS": "5"},
    )
    server = pg_databases.server
    try:
        kirin.start_server(workers=2)
        key = kirin.create_key()
        with kirin.client(key) as client:
            tasks = [client.post("/model/v1/generation", json=T2V).json() for _ in range(6)]
            wait_for(client, tasks[0]["id"], until=lambda t: t["status"] != "pending")
            restarted = threading.Thread(target=server.restart, kwargs={"down_for": 3.0})
            restarted.start()
            codes: list[int] = []
            ready: list[int] = []
            while restarted.is_alive():
                try:
                    codes.append(
                        client.get(f"/model/v1/generation/task/{tasks[-1]['id']}").status_code
                    )
                    ready.append(client.get("/readyz").status_code)
                except httpx.HTTPError as error:  # the API itself must stay up
                    raise AssertionError(f"the API stopped answering: {error}") from error
                time.sleep(0.1)
            restarted.join()
            assert 503 in codes, codes
            assert 503 in ready, ready
            assert set(codes) <= {200, 503}, codes
            down = client.get(f"/model/v1/generation/task/{tasks[-1]['id']}")
            # Once it is back, everything carries on: the API answers, every task completes and
            # new ones are taken.
            deadline = time.monotonic() + 30
            while down.status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
                down = client.get(f"/model/v1/generation/task/{tasks[-1]['id']}")
            assert down.status_code == 200
            assert client.get("/readyz").status_code == 200
            tasks.append(client.post("/model/v1/generation", json=T2V).json())
            for task in tasks:
                done = wait_for(client, task["id"], timeout=120)
                assert done["status"] == "completed", done
    finally:
        kirin.stop()
