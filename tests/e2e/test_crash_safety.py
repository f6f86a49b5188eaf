"""A worker SIGKILLed mid-render: its task is finished by another worker once the lease runs out."""

from __future__ import annotations

import signal
import time

import pytest

from tests.e2e.harness import Kirin, wait_for

T2V = {"model": "kirin_v1_t2v", "prompt": "waves on a rocky shore", "duration": 10}


@pytest.mark.slow
def test_sigkilled_worker_loses_nothing(fresh_kirin: Kirin) -> None:
    kirin = fresh_kirin
    kirin.start_server(workers=0)
    key = kirin.create_key()
    victim = kirin.start_worker()
    with kirin.client(key) as client:
        first = client.post("/model/v1/generation", json=T2V).json()
        others = [
            client.post("/model/v1/generation", json={**T2V, "duration": 5}).json()
            for _ in range(2)
        ]
        running = wait_for(
            client, first["id"], until=lambda t: t["status"] == "processing" and t["progress"] > 0.1
        )
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        # The task is still processing (nobody knows the worker died) until its lease runs out.
        assert (
            client.get(f"/model/v1/generation/task/{first['id']}").json()["status"] == "processing"
        )
        kirin.start_worker()
        done = wait_for(client, first["id"], timeout=180)
        assert done["status"] == "completed", done
        assert done["progress"] == 1.0
        assert done["output"][0]["jobId"].endswith("-2"), "completed by a second attempt"
        assert done["progress"] >= running["progress"]
        for task in others:
            assert wait_for(client, task["id"], timeout=180)["status"] == "completed"


@pytest.mark.slow
def test_a_task_that_keeps_losing_its_worker_fails_with_098(fresh_kirin: Kirin) -> None:
    kirin = fresh_kirin
    kirin.env["KIRIN_MAX_ATTEMPTS"] = "2"
    kirin.start_server(workers=0)
    key = kirin.create_key()
    store = kirin.store()
    account = store.ensure_account("default")
    with kirin.client(key) as client:
        task = client.post("/model/v1/generation", json=T2V).json()
        for attempt in (1, 2):
            worker = kirin.start_worker()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                record = store.get_task(account.id, task["id"])
                assert record is not None
                if record.attempt == attempt and record.progress > 0.05 * attempt:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError(f"attempt {attempt} never got going")
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        kirin.start_worker()
        done = wait_for(client, task["id"], timeout=60)
        assert done["status"] == "failed"
        assert done["error"]["code"] == "002001098"
        assert "lost" in done["error"]["message"]
