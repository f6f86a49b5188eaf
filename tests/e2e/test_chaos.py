"""Chaos on PostgreSQL: one API process, four worker processes, many tasks; workers SIGKILLed at
random mid-render and replaced. Every task completes exactly once, none is lost, none stuck.

"Exactly once" is counted where it matters, in the store: each status change writes its callback
row in its own transaction (the outbox), so a task completed twice would have two ``completed``
rows; the receiver's side is checked too (one ``completed`` callback id per task).
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from kirin_api.contract.status import TaskStatus
from tests.e2e.harness import Kirin
from tests.pg_databases import PostgresDatabases
from tests.webhook_receiver import receive

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

TASKS = 60
WORKERS = 4
KILLS = 6
T2V = {"model": "kirin_v1_t2v", "prompt": "waves on a rocky shore", "duration": 5}


def test_sigkilled_workers_lose_nothing_and_repeat_nothing(
    pg_databases: PostgresDatabases, tmp_path: Path
) -> None:
    rng = random.Random(20261121)
    kirin = Kirin(
        tmp_path / "data",
        env={
            "KIRIN_DATABASE_URL": pg_databases.fresh(),
            "KIRIN_LEASE_SECONDS": "2",
            # Chaos may hit one task more than once: it must not fail for lack of attempts.
            "KIRIN_MAX_ATTEMPTS": "20",
            "KIRIN_MAX_UNFINISHED_TASKS": str(TASKS * 2),
            "KIRIN_ALLOW_PRIVATE_NETWORKS": "true",
            "KIRIN_WEBHOOK_RETRY_SCHEDULE": "0.2,0.4,0.8,1.6,3.2",
        },
    )
    try:
        kirin.start_server(workers=0)
        key = kirin.create_key()
        workers = [kirin.start_worker() for _ in range(WORKERS)]
        store = kirin.store()
        account = store.ensure_account("default")
        with kirin.client(key) as client, receive() as receiver:
            ids = []
            for _ in range(TASKS):
                response = client.post(
                    "/model/v1/generation", json={**T2V, "callback_url": receiver.url}
                )
                assert response.status_code == 200, response.text
                ids.append(response.json()["id"])

            def unfinished() -> int:
                page = store.list_tasks(account.id, limit=TASKS * 2)
                return sum(1 for t in page.tasks if t.status is not TaskStatus.COMPLETED)

            kills = 0
            while kills < KILLS and unfinished() > WORKERS:
                time.sleep(rng.uniform(1.0, 3.0))
                # Kill a worker that is rendering (the API shows no worker, the store does).
                busy = {
                    t.worker_id
                    for t in store.list_tasks(account.id, limit=TASKS * 2).tasks
                    if t.status is TaskStatus.PROCESSING
                }
                victim = rng.choice(workers)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                workers.remove(victim)
                workers.append(kirin.start_worker())
                kills += 1 if busy else 0

            deadline = time.monotonic() + 600
            while unfinished() and time.monotonic() < deadline:
                time.sleep(1.0)
            records = [store.get_task(account.id, task_id) for task_id in ids]
            assert all(r is not None and r.status is TaskStatus.COMPLETED for r in records), [
                (r.id, r.status, r.attempt) for r in records if r is not None
            ]
            # Each task's outbox has exactly one "completed" row: completed exactly once.
            for task_id in ids:
                deliveries = store.list_deliveries(account.id, task_id)
                assert deliveries is not None
                reported = Counter(d.status_reported for d in deliveries)
                assert reported[TaskStatus.COMPLETED] == 1, (task_id, reported)
            # Some renders were cut off and redone by another attempt: the chaos did hit.
            attempts = Counter(r.attempt for r in records if r is not None)
            assert sum(n for attempt, n in attempts.items() if attempt > 1) >= 1, attempts
            # Every result names the attempt that produced it and can be fetched.
            for task_id in ids[:: TASKS // 10]:
                task = client.get(f"/model/v1/generation/task/{task_id}").json()
                record = store.get_task(account.id, task_id)
                assert record is not None
                assert task["output"][0]["jobId"] == f"{task_id}-{record.attempt}"
                video = httpx.get(task["output"][0]["content"][0]["url"], timeout=30)
                assert video.status_code == 200
            # The receiver: one "completed" callback id per task (a resend keeps its id).
            hits = receiver.wait_for(
                lambda h: (
                    len({x.json["id"] for x in h if x.status_reported == "completed"}) == TASKS
                ),
                timeout=120,
            )
            completed = {
                (h.json["id"], h.headers["webhook-id"])
                for h in hits
                if h.status_reported == "completed"
            }
            assert Counter(task_id for task_id, _ in completed) == Counter(ids)
        store.close()
    finally:
        kirin.stop()
