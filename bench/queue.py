"""The task queue: claims per second, and how long a new task waits for an idle worker.

Run: ``.venv/bin/python bench/queue.py`` (``--postgres-url URL`` to use a server of your own;
otherwise a throwaway one is started from the Debian binaries, as the tests do). On SQLite and on
PostgreSQL, with 1, 4 and 8 worker processes and a no-op engine, two figures each:

1. Throughput: ``TASKS`` tasks are queued first; then the workers, released together, claim and
   complete them (a no-op engine: claim, then complete at once, each its own transaction, as the
   real worker does). Claims per second = tasks / the time until the last one is completed.
2. Enqueue-to-claim latency with idle workers: tasks are created one at a time, ``GAP`` seconds
   apart, while the workers wait as ``kirin worker`` does between claims
   (``TaskStore.wait_for_work`` with the default 0.5 s poll interval: PostgreSQL wakes them by
   NOTIFY, SQLite polls). Latency = the claim's clock minus the clock just before ``create_task``
   (same machine, same clock); p50 and p99.

``--reserve AMOUNT``: every task holds AMOUNT of its (unlimited) account's balance, as every task
the API creates holds its maximum cost, and its completion costs as much: each completion then
also releases and charges money on the account's row, which all the workers share.

Goal on the 2-core development machine: PostgreSQL >= 500 claims/s with 8 workers, p99
enqueue-to-claim < 50 ms when workers are idle. The load average is printed before and after:
other work on the machine moves these figures a lot.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path, and its name would shadow the
# standard library's ``queue`` (which multiprocessing imports): put the repository root there
# instead (it also makes ``tests.pg_server`` importable).
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from multiprocessing.queues import Queue  # noqa: E402
from multiprocessing.synchronize import Barrier  # noqa: E402
from multiprocessing.synchronize import Event as EventType  # noqa: E402
from typing import Any  # noqa: E402

from kirin_api.contract.ids import ulid  # noqa: E402
from kirin_api.store import NewTask, TaskStore, open_store  # noqa: E402

MODEL = "kirin_v1_t2v"
TASKS = 2000  # per throughput run
LATENCY_TASKS = 200  # per latency run
GAP = 0.02  # seconds between two tasks of the latency run
POLL_INTERVAL = 0.5  # the worker's default
WORKER_COUNTS = (1, 4, 8)
CTX = multiprocessing.get_context("spawn")


def _work(
    url: str,
    start: Barrier,
    stop: EventType,
    out: Queue[Any],
    lease: float,
    record: bool,
    cost: str,
) -> None:
    """One worker process: the runner's loop with a no-op engine. Reports (claims, latencies)."""
    store = open_store(url)
    store.ping()
    local_stop = threading.Event()
    claims = 0
    latencies: list[float] = []
    start.wait(timeout=60)
    while not stop.is_set():
        task = store.claim("bench", [MODEL], lease, 3)
        if task is None:
            if not record:  # throughput: the queue is empty, the run is over for this worker
                break
            store.wait_for_work([MODEL], POLL_INTERVAL, local_stop)
            continue
        if record:
            latencies.append(time.time() - float(task.params["t0"]))
        store.complete(task.id, task.attempt, {"noop": True}, cost, {})
        claims += 1
    store.close()
    out.put((claims, latencies))


def _queue(store: TaskStore, account_id: str, n: int, reserve: str | None) -> None:
    for i in range(n):
        task_id = "task_" + ulid()
        store.create_task(NewTask(task_id, account_id, MODEL, {"n": i}, None, None, 0.0, reserve))


def throughput(url: str, workers: int, reserve: str | None = None) -> float:
    """Claims per second of ``workers`` processes that empty a queue of ``TASKS`` tasks.

    ``reserve``: each task holds this much of its account's balance, as the API's tasks hold
    their maximum cost, and its completion costs as much (released and charged)."""
    store = open_store(url)
    store.migrate()
    account = store.ensure_account("bench")
    _queue(store, account.id, TASKS, reserve)
    start, stop, out = CTX.Barrier(workers + 1), CTX.Event(), CTX.Queue()
    cost = reserve or "0"
    procs = [
        CTX.Process(target=_work, args=(url, start, stop, out, 60.0, False, cost))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    start.wait(timeout=60)
    began = time.perf_counter()
    done = sum(out.get(timeout=600)[0] for _ in procs)
    elapsed = time.perf_counter() - began
    for proc in procs:
        proc.join(timeout=30)
    store.close()
    assert done == TASKS, f"{done} of {TASKS} claimed"
    return TASKS / elapsed


def latency(url: str, workers: int, reserve: str | None = None) -> tuple[float, float]:
    """Enqueue-to-claim p50 and p99 in milliseconds, ``workers`` processes waiting."""
    store = open_store(url)
    store.migrate()
    account = store.ensure_account("bench")
    start, stop, out = CTX.Barrier(workers + 1), CTX.Event(), CTX.Queue()
    procs = [
        CTX.Process(target=_work, args=(url, start, stop, out, 60.0, True, reserve or "0"))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    start.wait(timeout=60)
    time.sleep(1.0)  # every worker is idle, waiting
    for i in range(LATENCY_TASKS):
        task = NewTask(
            "task_" + ulid(),
            account.id,
            MODEL,
            {"n": i, "t0": time.time()},
            None,
            None,
            time.time(),
            reserve,
        )
        store.create_task(task)
        time.sleep(GAP)
    time.sleep(POLL_INTERVAL * 2)  # the last ones are claimed
    stop.set()
    samples = [s for _ in procs for s in out.get(timeout=60)[1]]
    for proc in procs:
        proc.join(timeout=30)
    store.close()
    assert len(samples) == LATENCY_TASKS, f"{len(samples)} of {LATENCY_TASKS} claimed"
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] * 1000, cuts[98] * 1000


def _load(when: str) -> str:
    return "load average (1, 5, 15 min) {}: {:.2f} {:.2f} {:.2f}".format(when, *os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", help="an empty database (default: a throwaway server)")
    parser.add_argument(
        "--reserve",
        metavar="AMOUNT",
        help="every task holds AMOUNT (e.g. 0.1400) of its account's balance; completing costs it",
    )
    args = parser.parse_args()
    print(_load("before"), flush=True)
    server = None
    with tempfile.TemporaryDirectory(prefix="kirin-bench-") as tmp:
        pg_base = args.postgres_url
        if pg_base is None:
            from tests.pg_server import PostgresServer, find_bin_dir

            bin_dir = find_bin_dir()
            if bin_dir is None:
                raise SystemExit("no PostgreSQL binaries: pass --postgres-url")
            server = PostgresServer(bin_dir)
            server.start()
        try:
            rows = []
            names = iter(range(1, 1000))

            def fresh(backend: str) -> str:
                """An empty database of ``backend`` for one run."""
                run = next(names)
                if backend == "sqlite":
                    return f"sqlite:///{Path(tmp) / f'bench{run}.db'}"
                if server is None:
                    return str(pg_base)  # the caller's database, reused
                server.create_database(f"bench{run}")
                return server.url.rsplit("/", 1)[0] + f"/bench{run}"

            for backend in ("sqlite", "postgresql"):
                for workers in WORKER_COUNTS:
                    rate = throughput(fresh(backend), workers, args.reserve)
                    p50, p99 = latency(fresh(backend), workers, args.reserve)
                    rows.append((backend, workers, rate, p50, p99))
                    print(
                        f"{backend:10} {workers} workers: {rate:7.0f} claims/s, "
                        f"enqueue-to-claim p50 {p50:6.1f} ms, p99 {p99:6.1f} ms",
                        flush=True,
                    )
            print()
            print("| database | workers | claims/s | enqueue-to-claim p50 | p99 |")
            print("|---|---|---|---|---|")
            for backend, workers, rate, p50, p99 in rows:
                print(f"| {backend} | {workers} | {rate:.0f} | {p50:.1f} ms | {p99:.1f} ms |")
            print(_load("after"))
        finally:
            if server is not None:
                server.destroy()


if __name__ == "__main__":
    main()
