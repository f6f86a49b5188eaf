"""Limits answer 429 with Retry-After, and admit again when there is room."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx

from kirin_api.store import Account
from tests.e2e.harness import Kirin, wait_for

T2V = {"model": "kirin_v1_t2v", "prompt": "a paid-for sunset"}


def test_the_request_rate_limit_is_per_key(fresh_kirin: Kirin) -> None:
    fresh_kirin.env.update({"KIRIN_RATE_LIMIT_PER_MINUTE": "60", "KIRIN_RATE_LIMIT_BURST": "5"})
    fresh_kirin.start_server(workers=0)
    key, other = fresh_kirin.create_key(), fresh_kirin.create_key(account="other")
    with fresh_kirin.client(key) as client, fresh_kirin.client(other) as second:
        for _ in range(5):
            assert client.get("/model/v1/generation/tasks").status_code == 200
        refused = client.get("/model/v1/generation/tasks")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_requests"
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 2
        assert second.get("/model/v1/generation/tasks").status_code == 200
        time.sleep(retry_after)
        assert client.get("/model/v1/generation/tasks").status_code == 200


def _account(kirin: Kirin, name: str) -> Account:
    account = kirin.store().get_account(name)
    assert account is not None
    return account


def test_parallel_submissions_never_overdraw_an_account(fresh_kirin: Kirin) -> None:
    fresh_kirin.start_server(workers=0)
    fresh_kirin.cli("accounts", "create", "payer", "--balance", "1.00")
    key = fresh_kirin.create_key(account="payer")

    def submit(_: int) -> httpx.Response:
        with fresh_kirin.client(key) as client:
            return client.post("/model/v1/generation", json=T2V)

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(submit, range(20)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 7 + [402] * 13
    refusal = next(a for a in answers if a.status_code == 402).json()["error"]
    assert refusal["code"] == "insufficient_balance"
    assert "0.1400" in refusal["message"]
    account = _account(fresh_kirin, "payer")
    assert (account.balance, Decimal(account.reserved)) == ("1.00", Decimal("0.98"))


def test_completed_tasks_are_charged_and_failed_or_cancelled_ones_cost_nothing(
    fresh_kirin: Kirin,
) -> None:
    fresh_kirin.env["KIRIN_ALLOW_PRIVATE_NETWORKS"] = "true"
    fresh_kirin.start_server(workers=0)
    fresh_kirin.cli("accounts", "create", "payer", "--balance", "1.00")
    key = fresh_kirin.create_key(account="payer")
    with fresh_kirin.client(key) as client:
        cancelled = client.post("/model/v1/generation", json=T2V).json()
        client.post(f"/model/v1/generation/task/{cancelled['id']}/cancel")
        assert _account(fresh_kirin, "payer").reserved == "0.0000"
        fresh_kirin.start_worker()
        done = wait_for(client, client.post("/model/v1/generation", json=T2V).json()["id"])
        assert done["usage"]["cost"] == "0.1400"
        failed = client.post(
            "/model/v1/generation",
            json={"model": "kirin_v1_i2v", "image": "http://127.0.0.1:9/missing.png"},
        ).json()
        assert wait_for(client, failed["id"])["status"] == "failed"
    account = _account(fresh_kirin, "payer")
    assert Decimal(account.balance or "nan") == Decimal("0.86")
    assert Decimal(account.reserved) == 0


def test_the_unfinished_task_limit_answers_429_until_a_task_finishes(fresh_kirin: Kirin) -> None:
    fresh_kirin.env["KIRIN_MAX_UNFINISHED_TASKS"] = "2"
    fresh_kirin.start_server(workers=0)
    key = fresh_kirin.create_key()
    with fresh_kirin.client(key) as client:
        first = client.post("/model/v1/generation", json=T2V).json()
        assert client.post("/model/v1/generation", json=T2V).status_code == 200
        refused = client.post("/model/v1/generation", json=T2V)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_requests"
        assert int(refused.headers["retry-after"]) >= 1
        client.post(f"/model/v1/generation/task/{first['id']}/cancel")
        assert client.post("/model/v1/generation", json=T2V).status_code == 200
