"""Runs ``kirin serve`` / ``kirin worker`` as real processes and talks to them over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from kirin_api.store import TaskStore, open_store

KIRIN = [sys.executable, "-m", "kirin_api"]
FINISHED = {"completed", "failed", "cancelled"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Kirin:
    """One data dir, an API process and any number of worker processes."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "KIRIN_DATA_DIR": str(data_dir),
            "KIRIN_LOG_LEVEL": "WARNING",
            # Tests poll fast; the rate limit has a test of its own.
            "KIRIN_RATE_LIMIT_PER_MINUTE": "0",
            **(env or {}),
        }
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.log_path = data_dir / "server.log"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [*KIRIN, *args], env=self.env, capture_output=True, text=True, timeout=60, check=True
        )
        return done.stdout

    def create_key(self, account: str = "default") -> str:
        return self.cli("keys", "create", "--account", account).strip()

    def start_server(self, workers: int = 1, *args: str) -> None:
        """``kirin serve`` with ``workers`` and further flags ``args``; back once it answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.server = subprocess.Popen(
            [*KIRIN, "serve", "--port", str(self.port), "--workers", str(workers), *args],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 30 s")

    def start_worker(self) -> subprocess.Popen[bytes]:
        log = (self.data_dir / "worker.log").open("ab")
        proc = subprocess.Popen([*KIRIN, "worker"], env=self.env, stdout=log, stderr=log)
        self.workers.append(proc)
        return proc

    def stop(self) -> None:
        for proc in [*self.workers, *([self.server] if self.server else [])]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.workers, *([self.server] if self.server else [])]:
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def store(self) -> TaskStore:
        """The server's own database, for checks the API does not show (attempts):
        ``KIRIN_DATABASE_URL`` where the test set one, else the data dir's SQLite file."""
        url = self.env.get("KIRIN_DATABASE_URL")
        return open_store(url or f"sqlite:///{self.data_dir.resolve() / 'kirin.db'}")

    def client(self, key: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)


def wait_for(
    client: httpx.Client,
    task_id: str,
    until: Callable[[dict[str, Any]], bool] = lambda t: t["status"] in FINISHED,
    timeout: float = 120,
    seen: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Poll a task until ``until`` holds; every answer is appended to ``seen``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/model/v1/generation/task/{task_id}")
        if response.status_code == 429:
            time.sleep(float(response.headers["retry-after"]))
            continue
        assert response.status_code == 200, response.text
        task: dict[str, Any] = response.json()
        if seen is not None:
            seen.append(task)
        if until(task):
            return task
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not get there in {timeout}s: {task}")


def submit(kirin: Kirin, key: str, body: dict[str, Any], timeout: float = 180) -> dict[str, Any]:
    """Create a task (which must be accepted) and wait until it has finished."""
    with kirin.client(key) as client:
        created = client.post("/model/v1/generation", json=body)
        assert created.status_code == 200, created.text
        return wait_for(client, created.json()["id"], timeout=timeout)


def fetch_video(task: dict[str, Any], path: Path) -> Path:
    """Download a completed task's video to ``path``."""
    assert task["status"] == "completed", task
    response = httpx.get(task["output"][0]["content"][0]["url"], timeout=30)
    assert response.status_code == 200
    path.write_bytes(response.content)
    return path
