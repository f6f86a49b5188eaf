"""Runs and restarts the worker processes that ``kirin serve`` starts beside the API."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

log = logging.getLogger("kirin_api.serve")

# Seconds a worker gets to finish its task after SIGTERM before it is killed.
STOP_GRACE_SECONDS = 30.0
# Environment variable through which a worker learns the PID of the process that started it,
# so it stops when that process dies (no orphaned workers).
PARENT_PID_ENV = "KIRIN_SUPERVISOR_PID"


class WorkerSupervisor:
    def __init__(self, count: int, env: dict[str, str]) -> None:
        self._count = count
        self._env = {**env, PARENT_PID_ENV: str(os.getpid())}
        self._procs: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._procs = [self._spawn() for _ in range(self._count)]
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", "kirin_api", "worker"], env=self._env)
        log.info("started worker process %d", proc.pid)
        return proc

    def _watch(self) -> None:
        restarts: list[float] = []
        while not self._stopping.wait(1.0):
            for index, proc in enumerate(self._procs):
                if proc.poll() is None or self._stopping.is_set():
                    continue
                log.warning("worker process %d exited with %s", proc.pid, proc.returncode)
                # A worker that keeps dying at once (bad configuration) is restarted slowly.
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < 60] + [now]
                if len(restarts) > 5:
                    self._stopping.wait(10.0)
                if not self._stopping.is_set():
                    self._procs[index] = self._spawn()

    def stop(self) -> None:
        self._stopping.set()
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
