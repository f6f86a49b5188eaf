"""uvicorn's server, told to stop the server's long requests first (imported when serving)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

import uvicorn

SHUTTING_DOWN = threading.Event()
"""Set in an API process when its server begins to shut down (the context's ``stopping``):
event streams and ``Prefer: wait`` requests see it and end (their clients reconnect or poll),
before uvicorn waits for open connections to close, so none of them holds the exit."""


class StoppingServer(uvicorn.Server):
    """The one API process's server: sets :data:`SHUTTING_DOWN` on the first exit signal."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        SHUTTING_DOWN.set()
        super().handle_exit(sig, frame)


def chain_exit_signals() -> None:
    """In one of N API processes (``--api-processes``), whose server uvicorn's supervisor
    builds: set :data:`SHUTTING_DOWN` before the handlers that server has installed by the time
    it loads the app (it loads it inside its signal capture, on the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
            SHUTTING_DOWN.set()
            previous(signum, frame)

        signal.signal(sig, handler)
