"""``kirin serve`` on PostgreSQL, the reads of every request on the event loop (asyncpg): GET one
and the list answer, a Kling client's JWT is checked, one account never sees another's task,
the database stopped is a 503 in the usual envelope and its return is served again, and the
server shuts down cleanly."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from tests.e2e.harness import Kirin
from tests.e2e.test_dialect_kling import kling_client, new_pair, token
from tests.pg_databases import PostgresDatabases

T2V = {"model": "kirin_v1_t2v", "prompt": "waves on a rocky shore", "duration": 5}
T2V_KLING = "/v1/videos/text2video"


def test_reads_on_postgresql_isolation_outage_and_shutdown(
    pg_databases: PostgresDatabases, tmp_path: Path
) -> None:
    kirin = Kirin(tmp_path / "data", env={"KIRIN_DATABASE_URL": pg_databases.fresh()})
    server = pg_databases.server
    try:
        kirin.start_server(workers=0)  # the tasks stay pending: only the reads matter here
        alice_key, bob_key = kirin.create_key("alice"), kirin.create_key("bob")
        unused_key = kirin.create_key("carol")  # first used while the database is down
        alice_pair, bob_pair = new_pair(kirin, "alice"), new_pair(kirin, "bob")
        kirin.cli("keys", "revoke", bob_pair[0])
        with (
            kirin.client(alice_key) as alice,
            kirin.client(bob_key) as bob,
            kling_client(kirin, token(*alice_pair)) as kling,
            kling_client(kirin, token(*bob_pair)) as revoked,
        ):
            ids = [alice.post("/model/v1/generation", json=T2V).json()["id"] for _ in range(3)]
            one = alice.get(f"/model/v1/generation/task/{ids[0]}")
            assert one.status_code == 200
            assert one.json()["id"] == ids[0]
            listed = alice.get("/model/v1/generation/tasks", params={"limit": 2}).json()
            assert [t["id"] for t in listed["data"]] == ids[::-1][:2]
            assert listed["next_cursor"]  # a page past the first goes by the threads' path
            rest = alice.get(
                "/model/v1/generation/tasks", params={"cursor": listed["next_cursor"]}
            ).json()
            assert [t["id"] for t in rest["data"]] == [ids[0]]

            # Another account's task is a 404, and its list is its own.
            other = bob.get(f"/model/v1/generation/task/{ids[0]}")
            assert other.status_code == 404
            assert other.json()["error"]["code"] == "not_found"
            assert bob.get("/model/v1/generation/tasks").json()["data"] == []

            # A Kling client's JWT: its access key read on the loop, its signature checked.
            made = kling.post(T2V_KLING, json={"model_name": "kling-v1", "prompt": "a lighthouse"})
            assert made.status_code == 200, made.text
            kling_id = made.json()["data"]["task_id"]
            seen = kling.get(f"{T2V_KLING}/{kling_id}").json()
            assert (seen["code"], seen["data"]["task_id"]) == (0, kling_id)
            refused = revoked.get(f"{T2V_KLING}/{kling_id}")
            assert (refused.status_code, refused.json()["code"]) == (401, 1000)
            forged = kling_client(
                kirin, token(alice_pair[0], "a-secret-key-of-32-bytes-but-not-hers")
            )
            with forged:
                answer = forged.get(f"{T2V_KLING}/{kling_id}")
            assert (answer.status_code, answer.json()["code"]) == (401, 1000)

            server.stop()
            try:
                for response in (
                    alice.get(f"/model/v1/generation/task/{ids[0]}"),
                    alice.get("/model/v1/generation/tasks"),
                    httpx.get(
                        f"{kirin.base_url}/model/v1/generation/tasks",
                        headers={"Authorization": f"Bearer {unused_key}"},
                        timeout=30,
                    ),
                ):
                    assert response.status_code == 503, response.text
                    body = response.json()["error"]
                    assert body["code"] == "unavailable"
                    assert "database" in body["message"]
                outage = kling.get(f"{T2V_KLING}/{kling_id}")
                assert (outage.status_code, outage.json()["code"]) == (503, 5001), outage.text
            finally:
                server.start()
            deadline = time.monotonic() + 20
            back = alice.get(f"/model/v1/generation/task/{ids[0]}")
            while back.status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.1)
                back = alice.get(f"/model/v1/generation/task/{ids[0]}")
            assert back.status_code == 200
            assert len(alice.get("/model/v1/generation/tasks").json()["data"]) == 4
            assert kling.get(f"{T2V_KLING}/{kling_id}").status_code == 200
    finally:
        kirin.stop()
    assert kirin.server is not None
    assert kirin.server.returncode in (0, -signal.SIGTERM)
    # The reads' connections were closed by the app's shutdown, not left to the collector.
    log = kirin.log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert "unclosed" not in log.lower(), log[-3000:]
