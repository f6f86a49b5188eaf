"""KIRIN_LOG_FORMAT=json: every line of the server's and workers' logs is a JSON object, and
requests and tasks can be followed by their ids."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.e2e.harness import Kirin, wait_for

KIRIN_ENV = {"KIRIN_LOG_FORMAT": "json", "KIRIN_LOG_LEVEL": "INFO"}


def _lines(kirin: Kirin) -> list[dict[str, Any]]:
    text = kirin.log_path.read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_logs_carry_request_ids_accounts_and_tasks(kirin: Kirin) -> None:
    key = kirin.create_key()
    with kirin.client(key) as client:
        created = client.post(
            "/model/v1/generation",
            json={"model": "kirin_v1_t2v", "prompt": "a logged fox"},
            headers={"X-Request-Id": "client-chosen-id-42"},
        )
        assert created.headers["x-request-id"] == "client-chosen-id-42"
        task = wait_for(client, created.json()["id"])
        missing = client.get("/model/v1/generation/task/task_nothing")
    assert task["status"] == "completed"
    made = missing.headers["x-request-id"]
    lines = _lines(kirin)  # every line parses: a line that is not JSON fails here
    create = [line for line in lines if line.get("request_id") == "client-chosen-id-42"]
    assert create
    assert create[-1]["route"] == "/model/v1/generation"
    assert create[-1]["status"] == 200
    assert create[-1]["account_id"].startswith("acct_")
    # A request's line is written once its answer has been sent: give it a moment to land.
    deadline = time.monotonic() + 5
    while not any(line.get("request_id") == made for line in lines) and time.monotonic() < deadline:
        time.sleep(0.05)
        lines = _lines(kirin)
    assert any(line.get("request_id") == made and line.get("status") == 404 for line in lines)
    worked = [line for line in lines if line.get("task_id") == task["id"]]
    assert any("completed" in line["message"] for line in worked)
    assert all(line["model"] == "kirin_v1_t2v" for line in worked)
