"""Limits answer 429 with Retry-After, and admit again when there is room."""

from __future__ import annotations

import time

from tests.e2e.harness import Kirin


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
