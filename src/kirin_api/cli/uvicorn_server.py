"""uvicorn's server, told to stop the server's long requests first (imported when serving)."""

from __future__ import annotations

import threading
from types import FrameType

import uvicorn


class StoppingServer(uvicorn.Server):
    """Sets ``stopping`` on the first exit signal, before uvicorn waits for open connections to
    close: event streams and ``Prefer: wait`` requests see it and end (their clients reconnect
    or poll), so none of them holds the exit."""

    def __init__(self, stopping: threading.Event, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stopping = stopping

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._stopping.set()
        super().handle_exit(sig, frame)
