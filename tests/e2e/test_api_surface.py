"""Auth, isolation between accounts, envelopes, listing, cancelling and signed URLs, over HTTP."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kirin_api.contract.apikeys import is_well_formed
from kirin_api.contract.status import TaskStatus
from kirin_api.server.key_cache import DEFAULT_TTL_SECONDS as KEY_CACHE_SECONDS
from kirin_api.storage.signing import signed_path
from tests.e2e.harness import Kirin, wait_for

T2V = {"model": "kirin_v1_t2v", "prompt": "a lighthouse in a storm"}


def _error(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    error: dict[str, str] = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


@pytest.mark.parametrize(
    "header",
    [None, "Basic abc", "Bearer", "Bearer not-a-key", "Bearer kirin_sk_" + "A" * 43],
    ids=["missing", "wrong-scheme", "empty", "malformed", "unknown"],
)
def test_requests_without_a_valid_key_are_401(kirin: Kirin, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in [
        ("POST", "/model/v1/generation"),
        ("GET", "/model/v1/generation/tasks"),
        ("GET", "/model/v1/generation/task/task_x"),
        ("GET", "/model/v1/models"),
    ]:
        response = httpx.request(method, kirin.base_url + path, headers=headers, json=T2V)
        _error(response, 401, "unauthorized")


def test_keys_create_prints_only_the_key(kirin: Kirin) -> None:
    out = kirin.cli("keys", "create", "--name", "ci", "--account", "printer")
    assert out.count("\n") == 1
    assert is_well_formed(out.strip())
    listing = kirin.cli("keys", "list")
    assert out.strip()[:15] in listing
    assert out.strip() not in listing


def test_a_revoked_key_stops_working_within_a_second(kirin: Kirin) -> None:
    key = kirin.create_key(account="revoker")
    with kirin.client(key) as client:
        assert client.get("/model/v1/generation/tasks").status_code == 200
        kirin.cli("keys", "revoke", key[:15])
        # The API process keeps a key's account for up to a second (server/key_cache.py).
        time.sleep(KEY_CACHE_SECONDS)
        _error(client.get("/model/v1/generation/tasks"), 401, "unauthorized")
    assert key not in (kirin.data_dir / "kirin.db").read_bytes().decode("latin-1")


def test_accounts_never_see_each_others_tasks(kirin: Kirin) -> None:
    alice, bob = kirin.create_key(account="alice"), kirin.create_key(account="bob")
    with kirin.client(alice) as a, kirin.client(bob) as b:
        task = a.post("/model/v1/generation", json={**T2V, "external_task_id": "shared"}).json()
        _error(b.get(f"/model/v1/generation/task/{task['id']}"), 404, "not_found")
        _error(b.post(f"/model/v1/generation/task/{task['id']}/cancel"), 404, "not_found")
        assert b.get("/model/v1/generation/tasks").json()["data"] == []
        # The same external id is free for another account.
        assert b.post("/model/v1/generation", json={**T2V, "external_task_id": "shared"}).is_success
        assert a.get(f"/model/v1/generation/task/{task['id']}").status_code == 200
        done = wait_for(a, task["id"])
        assert done["status"] == "completed"


def test_request_errors_use_the_envelope(kirin: Kirin) -> None:
    key = kirin.create_key()
    with kirin.client(key) as client:
        _error(client.post("/model/v1/generation", content=b"{not json"), 400, "invalid_request")
        _error(client.post("/model/v1/generation", json=[1, 2]), 400, "invalid_request")
        error = _error(
            client.post("/model/v1/generation", json={"model": "nope"}), 400, "invalid_parameter"
        )
        assert error["param"] == "model"
        error = _error(
            client.post("/model/v1/generation", json={**T2V, "duration": 7}),
            400,
            "invalid_parameter",
        )
        assert error["param"] == "duration"
        error = _error(
            client.post("/model/v1/generation", json={**T2V, "fps": 60}), 400, "invalid_parameter"
        )
        assert error["param"] == "fps"
        error = _error(
            client.post(
                "/model/v1/generation",
                json={**T2V, "camera_control": {"type": "simple", "config": {"pan": 11}}},
            ),
            400,
            "invalid_parameter",
        )
        assert error["param"] == "camera_control.config.pan"
        _error(client.get("/model/v1/generation/task/task_missing"), 404, "not_found")
        huge = b'{"model": "kirin_v1_t2v", "prompt": "' + b"a" * (65 * 1024 * 1024) + b'"}'
        _error(client.post("/model/v1/generation", content=huge), 413, "payload_too_large")
        client.post("/model/v1/generation", json={**T2V, "external_task_id": "dup"})
        error = _error(
            client.post("/model/v1/generation", json={**T2V, "external_task_id": "dup"}),
            409,
            "conflict",
        )
        assert error["param"] == "external_task_id"
        error = _error(client.get("/model/v1/generation/tasks?limit=101"), 400, "invalid_parameter")
        assert error["param"] == "limit"
        error = _error(
            client.get("/model/v1/generation/tasks?status=done"), 400, "invalid_parameter"
        )
        assert error["param"] == "status"


def test_list_pages_newest_first_with_filters(kirin: Kirin) -> None:
    key = kirin.create_key(account="lister")
    with kirin.client(key) as client:
        ids = [
            client.post(
                "/model/v1/generation", json={**T2V, "external_task_id": f"job-{i}"}
            ).json()["id"]
            for i in range(5)
        ]
        # Cancel them so the shared worker does not spend the module's time on them.
        for task_id in ids:
            client.post(f"/model/v1/generation/task/{task_id}/cancel")
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = client.get("/model/v1/generation/tasks", params=params).json()
            assert page["object"] == "list"
            seen += [task["id"] for task in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(ids))
        only = client.get("/model/v1/generation/tasks", params={"external_task_id": "job-3"})
        assert [t["id"] for t in only.json()["data"]] == [ids[3]]
        model = client.get("/model/v1/generation/tasks", params={"model": "kirin_v1_t2v"})
        assert len(model.json()["data"]) == 5


def test_cancel_stops_a_running_render_and_finished_tasks_answer_409(kirin: Kirin) -> None:
    key = kirin.create_key(account="canceller")
    with kirin.client(key) as client:
        task = client.post("/model/v1/generation", json={**T2V, "duration": "10"}).json()
        wait_for(
            client, task["id"], until=lambda t: t["status"] == "processing" and t["progress"] > 0
        )
        cancelled = client.post(f"/model/v1/generation/task/{task['id']}/cancel")
        assert cancelled.status_code == 200
        done = wait_for(client, task["id"], timeout=30)
        assert done["status"] == "cancelled"
        assert done["progress"] < 1.0
        assert "output" not in done
        _error(client.post(f"/model/v1/generation/task/{task['id']}/cancel"), 409, "conflict")
        # The worker is free again: the next task completes.
        follow = client.post("/model/v1/generation", json=T2V).json()
        assert wait_for(client, follow["id"])["status"] == "completed"


def test_result_urls_are_signed_and_expire(kirin: Kirin) -> None:
    key = kirin.create_key(account="downloader")
    with kirin.client(key) as client:
        task = client.post("/model/v1/generation", json=T2V).json()
        done = wait_for(client, task["id"])
    url = done["output"][0]["content"][0]["url"]
    assert httpx.get(url).status_code == 200
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    base = f"{parts.scheme}://{parts.netloc}"
    tampered_sig = query["signature"][0][:-2] + (
        "AA" if not query["signature"][0].endswith("AA") else "BB"
    )
    assert (
        httpx.get(
            f"{base}{parts.path}?expires={query['expires'][0]}&signature={tampered_sig}"
        ).status_code
        == 403
    )
    other_task = parts.path.replace(task["id"], "task_01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert httpx.get(f"{base}{other_task}?{parts.query}").status_code == 403
    later = int(query["expires"][0]) + 60
    assert (
        httpx.get(
            f"{base}{parts.path}?expires={later}&signature={query['signature'][0]}"
        ).status_code
        == 403
    )
    store = kirin.store()
    key_path = parts.path.removeprefix("/files/")
    expired = signed_path(key_path, int(time.time()) - 1, store.secret("url-signing"))
    assert httpx.get(base + expired).status_code == 403
    assert httpx.get(base + parts.path).status_code == 403


def test_models_health_and_docs(kirin: Kirin) -> None:
    key = kirin.create_key()
    with kirin.client(key) as client:
        models = client.get("/model/v1/models").json()
        ids = [m["id"] for m in models["data"]]
        assert ids == [
            "kirin_v1_t2v",
            "kirin_v1_i2v",
            "kirin_v1_6_multi_i2v",
            "kirin_v3_i2v",
            "kirin_v3_motion_control",
            "kirin_custom_elements",
        ]
        for model in models["data"]:
            assert model["parameters"]["additionalProperties"] is False
            assert "model" in model["parameters"]["required"]
        assert "prompt" in models["data"][0]["parameters"]["required"]
        assert client.get("/model/v1/webhook-secret").json()["secret"].startswith("whsec_")
    assert httpx.get(kirin.base_url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(kirin.base_url + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert httpx.get(kirin.base_url + "/docs").status_code == 200
    spec = httpx.get(kirin.base_url + "/openapi.json").json()
    assert "/model/v1/generation" in spec["paths"]
    _error(httpx.get(kirin.base_url + "/nowhere"), 404, "not_found")
    assert TaskStatus.COMPLETED.finished
