"""Prometheus metrics (``GET /metrics``), correct across the processes of a deployment.

Two sources, so that several API and worker processes add up right:

- what happens in a process (HTTP requests, renders, upstream calls) is counted there, with
  ``prometheus-client``; under ``kirin serve`` the API and its workers write to one
  ``PROMETHEUS_MULTIPROC_DIR`` that the API reads at scrape time (multiprocess mode); a
  ``kirin worker`` on another host serves its own with ``--metrics-port``;
- what the database knows (tasks created and finished, the queue, live workers, callbacks) is
  read from it at scrape time: exact whichever process did the work, restarts included.

Labels have bounded cardinality: route templates (never paths), model ids, engine names,
statuses and outcomes; never task ids or account ids.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from functools import cache
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

from kirin_api.contract.registry import served_models
from kirin_api.store.base import TaskStore
from kirin_api.watchdog import live_workers

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Render times of a preview clip (seconds) up to a long GPU render (an hour).
_RENDER_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 3600)


@cache
def _families() -> dict[str, Any]:
    """Made on first use, after ``PROMETHEUS_MULTIPROC_DIR`` is set (it decides how values are
    kept: in this process, or in files shared with the others)."""
    return {
        "requests": Counter(
            "kirin_http_requests", "HTTP requests answered", ["route", "method", "status"]
        ),
        "latency": Histogram(
            "kirin_http_request_duration_seconds", "Time to answer a request", ["route"]
        ),
        "render": Histogram(
            "kirin_render_seconds",
            "Time from claim to a stored result",
            ["model", "engine"],
            buckets=_RENDER_BUCKETS,
        ),
        "upstream": Counter(
            "kirin_upstream_requests", "Requests to upstream services", ["engine", "outcome"]
        ),
        # Summed over the live API processes (a dead one's streams are gone with it).
        "streams": Gauge(
            "kirin_event_streams", "Open task event streams", multiprocess_mode="livesum"
        ),
    }


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    families = _families()
    families["requests"].labels(route, method, str(status)).inc()
    families["latency"].labels(route).observe(seconds)


def observe_render(model: str, engine: str, seconds: float) -> None:
    _families()["render"].labels(model, engine).observe(seconds)


def count_upstream(engine: str, outcome: str) -> None:
    _families()["upstream"].labels(engine, outcome).inc()


def count_event_stream(change: int) -> None:
    """One task event stream opened (+1) or closed (-1)."""
    _families()["streams"].inc(change)


class StoreCollector(Collector):
    """What the database knows, read at scrape time."""

    def __init__(self, store: TaskStore, stale_after: float) -> None:
        self._store = store
        self._stale_after = stale_after

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        counts = self._store.task_counts()
        created = CounterMetricFamily("kirin_tasks_created", "Tasks accepted", labels=["model"])
        finished = CounterMetricFamily(
            "kirin_tasks_finished", "Tasks finished", labels=["model", "status"]
        )
        totals: dict[str, int] = {}
        for (model, status), count in counts.items():
            totals[model] = totals.get(model, 0) + count
            if status in ("completed", "failed", "cancelled"):
                finished.add_metric([model, status], count)
        for model in served_models():
            created.add_metric([model], totals.get(model, 0))
        yield created
        yield finished
        stats = self._store.queue_stats()
        depth = GaugeMetricFamily("kirin_queue_depth", "Pending tasks", labels=["model"])
        oldest = GaugeMetricFamily(
            "kirin_queue_oldest_pending_seconds", "Age of the oldest pending task", labels=["model"]
        )
        for model in served_models():
            stat = stats.get(model)
            depth.add_metric([model], stat.pending if stat else 0)
            age = now - stat.oldest_created_at if stat and stat.oldest_created_at else 0.0
            oldest.add_metric([model], max(age, 0.0))
        yield depth
        yield oldest
        workers = live_workers(self._store.list_workers(), now, self._stale_after)
        live = GaugeMetricFamily("kirin_workers_live", "Live workers serving", labels=["model"])
        for model in served_models():
            live.add_metric([model], sum(1 for w in workers if model in w.models))
        yield live
        deliveries = CounterMetricFamily(
            "kirin_callback_deliveries", "Callbacks by how they ended", labels=["outcome"]
        )
        for outcome, count in sorted(self._store.delivery_counts().items()):
            deliveries.add_metric([outcome], count)
        yield deliveries


def scrape(store: TaskStore, stale_after: float) -> bytes:
    """The text exposition of every metric this deployment has."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ProcessCollector())
    registry.register(StoreCollector(store, stale_after))
    return bytes(generate_latest(registry))


class _ProcessCollector(Collector):
    """This process's own metrics (single-process mode)."""

    def collect(self) -> Iterator[Metric]:
        _families()
        yield from REGISTRY.collect()
