"""The admin API over HTTP: closed without KIRIN_ADMIN_TOKEN, refused to anyone without it
(users' keys included), and doing what the CLI does to accounts, keys, workers and usage."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from tests.e2e.harness import Kirin, wait_for

TOKEN = "admin-token-for-the-tests-0123456789"
T2V = {"model": "kirin_v1_t2v", "prompt": "a paid fox"}


def admin(kirin: Kirin, token: str | None = TOKEN) -> httpx.Client:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=kirin.base_url + "/admin/v1", headers=headers, timeout=30)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_the_admin_api_is_closed_without_its_token(kirin: Kirin) -> None:
    with admin(kirin) as client:
        closed = client.get("/accounts")
    assert closed.status_code == 404
    assert "KIRIN_ADMIN_TOKEN" in closed.json()["error"]["message"]


def test_the_admin_api_manages_accounts_keys_workers_and_usage(fresh_kirin: Kirin) -> None:
    fresh_kirin.env["KIRIN_ADMIN_TOKEN"] = TOKEN
    fresh_kirin.start_server(workers=1)
    user_key = fresh_kirin.create_key()
    for token in (None, user_key, "not-the-admin-token"):
        with admin(fresh_kirin, token) as stranger:
            refused = stranger.get("/accounts")
            assert refused.status_code == 401, token
            assert refused.json()["error"]["code"] == "unauthorized"

    with admin(fresh_kirin) as client:
        team = ok(client.post("/accounts", json={"name": "team", "balance": "2.00"}))
        assert (team["balance"], team["reserved"]) == ("2.00", "0")
        assert "team" in [a["name"] for a in ok(client.get("/accounts"))["data"]]
        bad = client.post("/accounts/team/top-up", json={"amount": "lots"})
        assert (bad.status_code, bad.json()["error"]["param"]) == (400, "amount")
        assert ok(client.post("/accounts/team/top-up", json={"amount": "0.50"}))["balance"] == (
            "2.50"
        )
        limited = ok(client.patch("/accounts/team", json={"max_unfinished": 3}))
        assert limited["max_unfinished"] == 3
        assert client.get("/accounts/nobody").status_code == 404

        made = ok(client.post("/accounts/team/keys", json={"name": "ci"}))
        key = made["key"]
        pair = ok(client.post("/accounts/team/keys", json={"name": "sdk", "kind": "kling_pair"}))
        listed = ok(client.get("/accounts/team/keys"))["data"]
        assert sorted(k["kind"] for k in listed) == ["api_key", "kling_pair"]
        assert all("key" not in k and "secret_key" not in k for k in listed)

        with fresh_kirin.client(key) as user:
            created = user.post(
                "/model/v1/generation", json={"model": "kirin_v1_t2v", "prompt": "x"}
            )
            assert created.status_code == 200, created.text
            assert wait_for(user, created.json()["id"])["status"] == "completed"
        now = int(time.time())
        signed = jwt.encode(
            {"iss": pair["access_key"], "exp": now + 600, "nbf": now - 5},
            pair["secret_key"],
            headers={"alg": "HS256", "typ": "JWT"},
        )
        kling = httpx.get(
            fresh_kirin.base_url + "/v1/videos/text2video",
            headers={"Authorization": f"Bearer {signed}"},
        )
        assert kling.status_code == 200, kling.text

        used = ok(client.get("/usage", params={"account": "team"}))["data"]
        assert used == [{"model": "kirin_v1_t2v", "tasks": 1, "cost": "0.1400"}]
        assert ok(client.get("/accounts/team"))["balance"] == "2.3600"

        workers = ok(client.get("/workers"))["data"]
        assert [w["live"] for w in workers] == [True]
        assert "kirin_v1_t2v" in workers[0]["models"]

        revoked = ok(client.delete(f"/keys/{made['id']}"))
        assert revoked["revoked_at"] is not None
    with fresh_kirin.client(key) as user:
        assert user.get("/model/v1/generation/tasks").status_code == 401
