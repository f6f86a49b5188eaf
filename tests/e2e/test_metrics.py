"""GET /metrics after real traffic: the counts match what was done, across the API process and
its worker processes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import Kirin, submit

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"


def _samples(kirin: Kirin) -> Samples:
    response = httpx.get(kirin.base_url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_what_was_done(fresh_kirin: Kirin) -> None:
    fresh_kirin.start_server(workers=1)
    key = fresh_kirin.create_key()
    for n in range(3):
        task = submit(fresh_kirin, key, {"model": "kirin_v1_t2v", "prompt": f"fox {n}"})
        assert task["status"] == "completed"
    with fresh_kirin.client(key) as client:
        assert client.get("/model/v1/generation/task/task_none").status_code == 404
    samples = _samples(fresh_kirin)
    t2v = {"model": "kirin_v1_t2v"}
    assert _value(samples, "kirin_tasks_created_total", **t2v) == 3
    assert _value(samples, "kirin_tasks_finished_total", status="completed", **t2v) == 3
    create = {"route": "/model/v1/generation", "method": "POST", "status": "200"}
    assert _value(samples, "kirin_http_requests_total", **create) == 3
    missing = {"route": "/model/v1/generation/task/{task_id}", "method": "GET", "status": "404"}
    assert _value(samples, "kirin_http_requests_total", **missing) == 1
    # Observed in the worker process, added up by the API's /metrics.
    assert _value(samples, "kirin_render_seconds_count", engine="preview", **t2v) == 3
    assert _value(samples, "kirin_queue_depth", **t2v) == 0
    assert _value(samples, "kirin_workers_live", **t2v) == 1
    # Bounded labels: route templates, never a task's id.
    assert not any(re.search(r"task_[0-9A-Z]{26}", str(labels)) for _, labels in samples)


def test_metrics_can_be_turned_off(fresh_kirin: Kirin) -> None:
    fresh_kirin.env["KIRIN_METRICS"] = "false"
    fresh_kirin.start_server(workers=0)
    assert httpx.get(fresh_kirin.base_url + "/metrics").status_code == 404


def test_the_grafana_dashboard_uses_metrics_the_server_has(fresh_kirin: Kirin) -> None:
    fresh_kirin.start_server(workers=0)
    text = httpx.get(fresh_kirin.base_url + "/metrics").text
    have = {family.name for family in text_string_to_metric_families(text)}
    # Families the API always exposes; render and upstream ones appear once something ran.
    have |= {"kirin_render_seconds", "kirin_upstream_requests"}
    dashboard = json.loads(DASHBOARD.read_text())
    used = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"kirin_[a-z_]+", target["expr"])
    }
    assert used
    assert used <= have, used - have
