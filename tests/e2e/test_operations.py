"""Operations end to end: workers register, a dead worker's models become unavailable, and
their tasks fail with 094 instead of hanging, releasing what they held."""

from __future__ import annotations

import signal
import time
from decimal import Decimal
from typing import Any

from tests.e2e.harness import Kirin, wait_for
from tests.media_factory import b64, image_bytes


def _models(kirin: Kirin, key: str) -> dict[str, dict[str, Any]]:
    with kirin.client(key) as client:
        return {m["id"]: m for m in client.get("/model/v1/models").json()["data"]}


def test_a_dead_workers_models_become_unavailable_and_their_tasks_fail_with_094(
    fresh_kirin: Kirin,
) -> None:
    fresh_kirin.env.update(
        {"KIRIN_WORKER_STALE_SECONDS": "2", "KIRIN_UNSERVED_TIMEOUT_SECONDS": "3"}
    )
    fresh_kirin.start_server(workers=0)
    fresh_kirin.cli("accounts", "create", "payer", "--balance", "1.00")
    key = fresh_kirin.create_key(account="payer")
    worker = fresh_kirin.start_worker()
    deadline = time.monotonic() + 30
    while not all(m["available"] for m in _models(fresh_kirin, key).values()):
        assert time.monotonic() < deadline, "the worker never registered"
        time.sleep(0.2)
    listing = fresh_kirin.cli("workers", "list")
    assert "live" in listing
    assert "preview" in listing

    worker.send_signal(signal.SIGKILL)
    worker.wait()
    while any(m["available"] for m in _models(fresh_kirin, key).values()):
        assert time.monotonic() < deadline + 30, "the dead worker stayed available"
        time.sleep(0.2)
    assert "stale" in fresh_kirin.cli("workers", "list")

    with fresh_kirin.client(key) as client:
        created = client.post("/model/v1/generation", json={"model": "kirin_v1_t2v", "prompt": "x"})
        assert _models(fresh_kirin, key)["kirin_v1_t2v"]["queue_depth"] == 1
        failed = wait_for(client, created.json()["id"], timeout=60)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "002001094"
    assert "no worker serves kirin_v1_t2v" in failed["error"]["message"]
    account = fresh_kirin.store().get_account("payer")
    assert account is not None
    assert (Decimal(account.balance or "0"), Decimal(account.reserved)) == (Decimal("1.00"), 0)


def test_sigterm_mid_render_gives_the_task_to_another_worker_at_once(
    fresh_kirin: Kirin,
) -> None:
    # Without the hand-over, the task would wait for its lease to run out before anyone took it
    # again. It takes about a second on a quiet machine (the release plus the idle worker's
    # 0.5 s poll); the bound is a quarter of the lease, room for a busy CI machine (1.6 s seen).
    lease_seconds = 60
    fresh_kirin.env["KIRIN_LEASE_SECONDS"] = str(lease_seconds)
    fresh_kirin.start_server(workers=0)
    key = fresh_kirin.create_key()
    first = fresh_kirin.start_worker()
    body = {
        "model": "kirin_v3_i2v",
        "image": b64(image_bytes(800, 600)),
        "mode": "pro",
        "duration": 15,
        "prompt": "a long render",
    }
    with fresh_kirin.client(key) as client:
        task_id = client.post("/model/v1/generation", json=body).json()["id"]
        wait_for(client, task_id, until=lambda t: t["status"] == "processing" and t["progress"] > 0)
        fresh_kirin.start_worker()  # idle, ready to take it
        time.sleep(1)
        first.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        store = fresh_kirin.store()
        account = store.get_account("default")
        assert account is not None

        def taken_again() -> bool:
            record = store.get_task(account.id, task_id)
            return (
                record is not None and record.attempt == 2 and record.status.value == "processing"
            )

        while not taken_again():
            assert time.monotonic() - stopped_at < lease_seconds / 4, "not given back"
            time.sleep(0.05)
        assert first.wait(timeout=30) == 0
        done = wait_for(client, task_id, timeout=180)
    assert done["status"] == "completed"
