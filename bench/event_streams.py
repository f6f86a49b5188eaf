"""Live task events: what idle event streams cost the API process, against clients that poll,
and how soon a change reaches a stream.

Run: ``PYTHONPATH=src .venv/bin/python bench/event_streams.py [--clients 200] [--window 5]``.
A ``kirin serve --workers 0`` on a throwaway SQLite data dir; ``--clients`` pending tasks.

1. CPU of the API process (user + system seconds per wall second, from /proc) over ``--window``
   seconds: with no client (the floor), with one idle event stream per task, and with one client
   per task polling ``GET /task/{id}`` every second (what a client does without streams, and what
   the server's ``Retry-After: 1`` asks for). Streams cost one query per 250 ms for all of them;
   pollers one request each per second.
2. Change-to-event latency: a task is cancelled and the time until its stream delivers the
   ``cancelled`` event is measured, 20 times (p50, max), against a 1 s poller's expected 0.5 s.

Figures move with the machine's load: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

# As bench/queue.py does: this directory must not come first on sys.path (its queue.py would
# shadow the standard library's); the repository root goes there instead.
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

from tests.e2e.harness import Kirin  # noqa: E402

T2V = {"model": "kirin_v1_t2v", "prompt": "a bench fox", "aspect_ratio": "1:1"}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(pid: int, window: float) -> float:
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(window)
    return (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)


async def stream_until_cancelled(
    client: httpx.AsyncClient, task_id: str, opened: asyncio.Event, got: dict[str, float]
) -> None:
    async with client.stream("GET", f"/model/v1/generation/task/{task_id}/events") as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                opened.set()
                if '"status":"cancelled"' in line:
                    got[task_id] = time.monotonic()
                    return


async def poll_forever(client: httpx.AsyncClient, task_id: str) -> None:
    while True:
        await client.get(f"/model/v1/generation/task/{task_id}")
        await asyncio.sleep(1.0)


async def run(kirin: Kirin, key: str, clients: int, window: float) -> None:
    assert kirin.server is not None
    pid = kirin.server.pid
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        base_url=kirin.base_url, headers=headers, limits=limits, timeout=60
    ) as client:
        ids = [
            (await client.post("/model/v1/generation", json=T2V)).json()["id"]
            for _ in range(clients)
        ]
        idle = await measure(pid, window)
        print(f"API CPU, no clients:               {idle:6.3f} s/s")

        got: dict[str, float] = {}
        opened = [asyncio.Event() for _ in ids]
        streams = [
            asyncio.create_task(stream_until_cancelled(client, task_id, event, got))
            for task_id, event in zip(ids, opened, strict=True)
        ]
        await asyncio.gather(*(event.wait() for event in opened))
        streaming = await measure(pid, window)
        print(f"API CPU, {clients} idle event streams: {streaming:6.3f} s/s")

        latencies = []
        for task_id in ids[:20]:
            # At a random point of the poller's 250 ms beat, as changes come in real use.
            await asyncio.sleep(random.uniform(0, 0.25))
            sent = time.monotonic()
            await client.post(f"/model/v1/generation/task/{task_id}/cancel")
            while task_id not in got:
                await asyncio.sleep(0.005)
            latencies.append(got[task_id] - sent)
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)

        pollers = [asyncio.create_task(poll_forever(client, t)) for t in ids[20:]]
        polling = await measure(pid, window)
        for task in pollers:
            task.cancel()
        await asyncio.gather(*pollers, return_exceptions=True)
        print(f"API CPU, {len(pollers)} clients polling at 1 s: {polling:6.3f} s/s")
        per_stream = (streaming - idle) / clients
        per_poller = (polling - idle) / max(len(pollers), 1)
        if per_stream > 0:
            print(f"cost of a poller / cost of an idle stream: {per_poller / per_stream:.1f}x")
        else:
            print("an idle stream costs nothing measurable over the floor")
        print(
            f"change -> event latency: p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms (a 1 s poller: 500 ms on average)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--window", type=float, default=5.0)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as directory:
        kirin = Kirin(Path(directory) / "data", env={"KIRIN_MAX_UNFINISHED_TASKS": "0"})
        kirin.start_server(workers=0)
        try:
            asyncio.run(run(kirin, kirin.create_key(), args.clients, args.window))
        finally:
            kirin.stop()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
