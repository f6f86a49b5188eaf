"""``kirin serve --api-processes 2``: two processes answer on one port, and what must hold across
them does: the request-rate limit, /metrics, a revoked key."""

from __future__ import annotations

import json
import os
import time

import httpx

from kirin_api.server.key_cache import DEFAULT_TTL_SECONDS as KEY_CACHE_SECONDS
from tests.e2e.harness import Kirin

BURST = 12


def _answering_pids(kirin: Kirin) -> set[int]:
    """The processes that wrote a request's access line (JSON logs name their process)."""
    pids = set()
    for line in kirin.log_path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("logger") == "kirin_api.requests":
            pids.add(int(entry["process"]))
    return pids


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        metric, _, value = line.rpartition(" ")
        if metric.startswith(name + "{") and all(
            f'{key}="{v}"' in metric for key, v in labels.items()
        ):
            return float(value)
    raise AssertionError(f"no {name}{{{wanted}}} in /metrics")


def test_two_api_processes_share_the_port_the_rate_limit_and_the_metrics(
    fresh_kirin: Kirin,
) -> None:
    kirin = fresh_kirin
    # One token a minute after a burst: what the burst admits is all that passes in this test.
    kirin.env.update(
        {
            "KIRIN_LOG_FORMAT": "json",
            "KIRIN_LOG_LEVEL": "INFO",
            "KIRIN_RATE_LIMIT_PER_MINUTE": "1",
            "KIRIN_RATE_LIMIT_BURST": str(BURST),
        }
    )
    kirin.start_server(0, "--api-processes", "2")
    key = kirin.create_key(account="many")
    headers = {"Authorization": f"Bearer {key}"}
    statuses = []
    # A new connection each time, so that the kernel hands requests to both processes.
    for _ in range(3 * BURST):
        answer = httpx.get(f"{kirin.base_url}/model/v1/generation/tasks", headers=headers)
        statuses.append(answer.status_code)
    assert set(statuses) == {200, 429}
    # One bucket for the key, whichever process answered: the burst, not twice the burst.
    assert statuses.count(200) == BURST, statuses

    # /metrics (answered by either process) counts the requests of both.
    text = httpx.get(f"{kirin.base_url}/metrics").text
    route = "/model/v1/generation/tasks"
    counted = {
        status: _metric(text, "kirin_http_requests_total", route=route, status=str(status))
        for status in (200, 429)
    }
    assert counted == {200: BURST, 429: 2 * BURST}

    # Both processes answered (which one accepts a connection is the kernel's choice: ask more
    # if these all went to one).
    for _ in range(100):
        if len(_answering_pids(kirin)) >= 2:
            break
        httpx.get(f"{kirin.base_url}/healthz")
    pids = _answering_pids(kirin)
    assert kirin.server is not None
    assert len(pids) == 2, pids
    assert kirin.server.pid not in pids  # the serve process supervises; its children answer
    assert all(os.path.exists(f"/proc/{pid}") for pid in pids)

    # A key revoked through the CLI is refused by every process within the cache's second.
    kirin.cli("keys", "revoke", key[:15])
    time.sleep(KEY_CACHE_SECONDS)
    refused = [
        httpx.get(f"{kirin.base_url}/model/v1/generation/tasks", headers=headers).status_code
        for _ in range(6)
    ]
    assert set(refused) == {401}
