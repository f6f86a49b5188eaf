"""Callbacks end to end: the server as processes, a real receiver on loopback."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kirin_api import verify_webhook
from tests.e2e.harness import Kirin, free_port, wait_for
from tests.webhook_receiver import Hit, fail_first, independent_signatures, receive

T2V = {"model": "kirin_v1_t2v", "prompt": "a lighthouse at dusk", "duration": "5"}
CALLBACK_ENV = {
    "KIRIN_ALLOW_PRIVATE_NETWORKS": "true",
    "KIRIN_WEBHOOK_RETRY_SCHEDULE": "0.2,0.4,0.8",
}


@pytest.fixture(scope="module")
def kirin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kirin]:
    server = Kirin(tmp_path_factory.mktemp("kirin"), env=CALLBACK_ENV)
    server.start_server(workers=1)
    yield server
    server.stop()


def deliveries(client: httpx.Client, task_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/model/v1/generation/task/{task_id}/deliveries")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    data: list[dict[str, Any]] = body["data"]
    return data


def wait_deliveries(
    client: httpx.Client, task_id: str, states: list[str], timeout: float = 60
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = deliveries(client, task_id)
        if [d["state"] for d in found] == states:
            return found
        time.sleep(0.1)
    raise AssertionError(f"deliveries never became {states}: {deliveries(client, task_id)}")


def without_links(task: dict[str, Any]) -> dict[str, Any]:
    """The task object minus the query of its signed URLs (their expiry is rounded to the
    minute, so a GET and a callback a minute apart may differ there)."""
    out = dict(task)
    if "output" in out:
        out["output"] = [
            {
                **item,
                "content": [
                    {k: (v.split("?")[0] if k.endswith("url") else v) for k, v in c.items()}
                    for c in item["content"]
                ],
            }
            for item in out["output"]
        ]
    return out


def check_signed(secret: str, hit: Hit) -> None:
    assert verify_webhook(secret, hit.headers, hit.body)
    assert set(hit.headers["webhook-signature"].split()) == independent_signatures(secret, hit)


def test_every_status_change_is_delivered_signed_and_in_order(kirin: Kirin) -> None:
    key = kirin.create_key("callbacks")
    with kirin.client(key) as client, receive(fail_first(2)) as receiver:
        secret = client.get("/model/v1/webhook-secret").json()["secret"]
        assert secret.startswith("whsec_")
        task = client.post("/model/v1/generation", json={**T2V, "callback_url": receiver.url})
        assert task.status_code == 200, task.text
        task_id = task.json()["id"]
        done = wait_for(client, task_id)
        assert done["status"] == "completed"
        hits = receiver.wait_for(lambda h: len(h) == 5)
        listed = wait_deliveries(client, task_id, ["delivered"] * 3)
        # Another account sees no such task.
        other = kirin.create_key("someone-else")
        with kirin.client(other) as stranger:
            response = stranger.get(f"/model/v1/generation/task/{task_id}/deliveries")
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"
    assert [(h.status_reported, h.status) for h in hits] == [
        ("pending", 500),
        ("pending", 500),
        ("pending", 200),
        ("processing", 200),
        ("completed", 200),
    ]
    # The retries of one delivery share its webhook-id; each delivery has its own.
    ids = [h.headers["webhook-id"] for h in hits]
    assert ids[0] == ids[1] == ids[2]
    assert len(set(ids)) == 3
    assert ids[2:] == [d["id"] for d in listed]
    for hit in hits:
        check_signed(secret, hit)
    # The body is the task object as GET shows it, for the status that changed.
    assert without_links(hits[-1].json) == without_links(done)
    url = hits[-1].json["output"][0]["content"][0]["url"]
    assert httpx.get(url, timeout=30).status_code == 200, "the signed link works"
    assert [d["status_reported"] for d in listed] == ["pending", "processing", "completed"]
    assert [d["attempts"] for d in listed] == [3, 1, 1]
    assert all(d["last_status_code"] == 200 and d["delivered_at"] for d in listed)


def test_a_cancelled_pending_task_reports_pending_then_cancelled(kirin: Kirin) -> None:
    key = kirin.create_key("cancels")
    with kirin.client(key) as client, receive() as receiver:
        # A long task first keeps the single worker busy, so the second stays pending.
        busy = client.post("/model/v1/generation", json={**T2V, "duration": "10"}).json()
        task = client.post("/model/v1/generation", json={**T2V, "callback_url": receiver.url})
        task_id = task.json()["id"]
        cancelled = client.post(f"/model/v1/generation/task/{task_id}/cancel")
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        hits = receiver.wait_for(lambda h: len(h) == 2)
        client.post(f"/model/v1/generation/task/{busy['id']}/cancel")
    assert [h.status_reported for h in hits] == ["pending", "cancelled"]


def test_secret_rotation_signs_with_both_until_finished(kirin: Kirin) -> None:
    key = kirin.create_key("rotation")
    with kirin.client(key) as client, receive() as receiver:
        old = client.get("/model/v1/webhook-secret").json()["secret"]
        new = kirin.cli("webhooks", "rotate-secret", "--account", "rotation").strip()
        assert new.startswith("whsec_")
        assert new != old
        assert client.get("/model/v1/webhook-secret").json()["secret"] == new
        body = {**T2V, "callback_url": receiver.url}
        client.post("/model/v1/generation", json=body)
        (during,) = receiver.wait_for(lambda h: len(h) >= 1)[:1]
        kirin.cli("webhooks", "finish-rotation", "--account", "rotation")
        client.post("/model/v1/generation", json=body)
        hits = receiver.wait_for(lambda h: any(h.json["id"] != during.json["id"] for h in h))
    after = next(h for h in hits if h.json["id"] != during.json["id"])
    signatures = during.headers["webhook-signature"].split()
    assert len(signatures) == 2
    assert signatures[0] in independent_signatures(new, during)
    assert signatures[1] in independent_signatures(old, during)
    for secret in (old, new):
        assert verify_webhook(secret, during.headers, during.body)
    assert after.headers["webhook-signature"].split() == list(independent_signatures(new, after))
    verify_webhook(new, after.headers, after.body)


def test_private_callback_addresses_are_refused_without_the_setting(tmp_path: Path) -> None:
    kirin = Kirin(tmp_path / "data", env={"KIRIN_WEBHOOK_RETRY_SCHEDULE": "0.2,0.4,0.8"})
    try:
        kirin.start_server(workers=0)
        key = kirin.create_key()
        with kirin.client(key) as client, receive() as receiver:
            for url in (
                receiver.url,
                f"http://localhost:{receiver.port}/hook",
                f"http://127.1:{receiver.port}/hook",
                f"http://[::ffff:127.0.0.1]:{receiver.port}/hook",
                f"http://user:pw@127.0.0.1:{receiver.port}/hook",
            ):
                response = client.post("/model/v1/generation", json={**T2V, "callback_url": url})
                assert response.status_code == 400, (url, response.text)
                error = response.json()["error"]
                assert (error["code"], error["param"]) == ("invalid_parameter", "callback_url")
            time.sleep(1.0)
            assert receiver.hits == []
    finally:
        kirin.stop()


@pytest.mark.slow
def test_a_callback_survives_a_sigkilled_server(tmp_path: Path) -> None:
    """The receiver is down when the task completes; the server is SIGKILLed with the callback
    still owed; brought back (with the receiver up), it delivers. KIRIN_WORKERS=0: the API
    process delivers on its own."""
    kirin = Kirin(
        tmp_path / "data",
        env={
            "KIRIN_ALLOW_PRIVATE_NETWORKS": "true",
            "KIRIN_WEBHOOK_RETRY_SCHEDULE": ",".join(["1"] * 60),
        },
    )
    kirin.env["KIRIN_PUBLIC_URL"] = kirin.base_url
    port = free_port()  # nothing listens there yet: every attempt is refused
    callback = f"http://127.0.0.1:{port}/hook"
    try:
        kirin.start_server(workers=0)
        key = kirin.create_key()
        worker = kirin.start_worker()
        with kirin.client(key) as client:
            task_id = client.post("/model/v1/generation", json={**T2V, "callback_url": callback})
            task_id = task_id.json()["id"]
            done = wait_for(client, task_id)
            assert done["status"] == "completed"
            owed = wait_deliveries(client, task_id, ["pending"] * 3)
            deadline = time.monotonic() + 30
            while owed[0]["attempts"] < 1 and time.monotonic() < deadline:
                time.sleep(0.1)
                owed = deliveries(client, task_id)
            # "pending" was tried (refused); the later two wait for it: one task, in order.
            assert owed[0]["attempts"] >= 1
            assert owed[0]["last_error"]
            assert [d["attempts"] for d in owed[1:]] == [0, 0]
        for proc in (worker, kirin.server):
            assert proc is not None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        with receive(port=port) as receiver:
            time.sleep(1.5)
            assert receiver.hits == [], "nobody delivers while the server is down"
            kirin.start_server(workers=0)
            hits = receiver.wait_for(lambda h: len(h) >= 3, timeout=60)
            with kirin.client(key) as client:
                listed = wait_deliveries(client, task_id, ["delivered"] * 3)
    finally:
        kirin.stop()
    assert [h.status_reported for h in hits] == ["pending", "processing", "completed"]
    assert [h.headers["webhook-id"] for h in hits] == [d["id"] for d in listed]
    assert without_links(hits[-1].json) == without_links(done)
