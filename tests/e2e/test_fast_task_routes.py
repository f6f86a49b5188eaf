"""GET one task, the list and POST a task are answered by server/fast_task_routes.py in the
plain case, by FastAPI's routes otherwise: both must answer the same."""

from __future__ import annotations

import httpx

from kirin_api.server.dialects.vtrix_cli import for_cli
from tests.e2e.harness import Kirin

T2V = {"model": "kirin_v1_t2v", "prompt": "a lighthouse in a storm"}
TASK = "/model/v1/generation/task/{}"
TASKS = "/model/v1/generation/tasks"


def _requests_counted(kirin: Kirin, route: str) -> float:
    total = 0.0
    for line in httpx.get(f"{kirin.base_url}/metrics").text.splitlines():
        if line.startswith("kirin_http_requests_total{") and f'route="{route}"' in line:
            total += float(line.rpartition(" ")[2])
    return total


def test_the_fast_path_answers_as_the_framework_routes_do(fresh_kirin: Kirin) -> None:
    fresh_kirin.start_server(workers=0)  # the tasks stay pending
    mine, theirs = fresh_kirin.create_key("reader"), fresh_kirin.create_key("other")
    with fresh_kirin.client(mine) as client, fresh_kirin.client(theirs) as other:
        ids = [
            client.post("/model/v1/generation", json={**T2V, "external_task_id": f"e{i}"}).json()[
                "id"
            ]
            for i in range(3)
        ]
        other_id = other.post("/model/v1/generation", json=T2V).json()["id"]
        # Submission errors as the route answers them.
        refused = client.post("/model/v1/generation", json={**T2V, "duration": 7})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "invalid_parameter"
        taken = client.post("/model/v1/generation", json={**T2V, "external_task_id": "e1"})
        assert taken.status_code == 409
        assert "x-request-id" in taken.headers

        # "limit=03" is valid but not in the plain form: FastAPI's route answers it.
        fast = client.get(TASKS, params={"limit": "3"})
        framework = client.get(TASKS, params={"limit": "03"})
        assert fast.status_code == framework.status_code == 200
        assert fast.json() == framework.json()
        assert [t["id"] for t in fast.json()["data"]] == ids[::-1]
        assert fast.headers["content-type"] == framework.headers["content-type"]
        assert "x-request-id" in fast.headers
        # Filters on the fast path, checked as the route checks them.
        assert client.get(TASKS, params={"external_task_id": "e1"}).json()["data"] == [
            fast.json()["data"][1]
        ]
        bad = client.get(TASKS, params={"status": "nope"})
        assert bad.status_code == 400
        assert bad.json()["error"]["param"] == "status"
        assert client.get(TASKS, params={"limit": "101"}).status_code == 400
        # The account's own tasks only.
        assert other_id not in {t["id"] for t in fast.json()["data"]}

        one = client.get(TASK.format(ids[0]))
        assert one.status_code == 200
        assert one.json() == fast.json()["data"][2]
        assert one.headers["retry-after"] == "1"  # unfinished
        # Another account's task is not found, as an unknown one; errors in the API's envelope.
        for missing in (other_id, "task_nope"):
            answer = client.get(TASK.format(missing))
            assert answer.status_code == 404
            assert answer.json()["error"]["code"] == "not_found"
        unauthenticated = httpx.get(fresh_kirin.base_url + TASK.format(ids[0]))
        assert unauthenticated.status_code == 401
        assert unauthenticated.json()["error"]["code"] == "unauthorized"
        # The Vtrix CLI's shape still comes from its route.
        cli = client.get(TASK.format(ids[0]), headers={"X-Source": "cli"})
        assert cli.status_code == 200
        assert cli.json() == for_cli(one.json())

    # Metrics name the route template, whichever path answered.
    assert _requests_counted(fresh_kirin, "/model/v1/generation/task/{task_id}") >= 5
    assert _requests_counted(fresh_kirin, TASKS) >= 5
    assert _requests_counted(fresh_kirin, "/model/v1/generation") >= 6
