"""Deadlines that cut sockets: per-operation timeouts alone cannot bound a server that drips a
byte at a time, so a watchdog shuts the sockets of a fetch down when its deadline passes.

A :class:`Deadline` may have a parent: a task's inputs are fetched under one task deadline, and
each URL's own deadline (the per-URL timeout) is a child of it. Whichever passes first cuts the
URL's sockets; :meth:`Deadline.abort` (the task was cancelled) cuts them at once, on every child.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

__all__ = ["Deadline"]


class Deadline:
    """One deadline with a watchdog that cuts the sockets still open at it.

    httpcore reports each new TCP connection through the ``trace`` request extension; we keep a
    ``dup`` of its socket (our own descriptor, so it can never be a recycled number) and
    ``shutdown`` it when the timer fires, which wakes any thread blocked reading from it.
    """

    def __init__(self, seconds: float, parent: Deadline | None = None) -> None:
        if parent is not None:
            seconds = min(seconds, max(parent.remaining(), 0.0))
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self.aborted = False
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._children: list[Deadline] = []
        self.parent = parent
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()
        if parent is not None:
            parent._adopt(self)

    def remaining(self) -> float:
        """Seconds left; none once fired (an abort ends it early)."""
        return 0.0 if self.expired else self.end - time.monotonic()

    def passed(self) -> bool:
        return self.expired or self.remaining() <= 0

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            mine = sock.dup()
            self._socks.append(mine)
            if self.expired:
                self._shutdown(mine)

    def abort(self) -> None:
        """Cut everything now (the caller no longer wants the result); children too."""
        self.aborted = True
        self._fire()

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def _adopt(self, child: Deadline) -> None:
        with self._lock:
            self._children.append(child)
            fired = self.expired
        if fired:
            child.aborted = self.aborted
            child._fire()

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._socks:
                self._shutdown(sock)
            children = list(self._children)
        for child in children:
            child.aborted = child.aborted or self.aborted
            child._fire()

    def close(self) -> None:
        self._timer.cancel()
        if self.parent is not None:
            with self.parent._lock, contextlib.suppress(ValueError):
                self.parent._children.remove(self)
        with self._lock:
            for sock in self._socks:
                sock.close()
            self._socks.clear()
