"""uvicorn's server, told to stop the server's long requests first (imported when serving)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, with Nagle's algorithm off on every TCP connection.

    uvloop turns it off on each connection itself; the standard library's loop only for sockets
    that say they are TCP (``proto == IPPROTO_TCP``). The listening socket that uvicorn's
    supervisor opens for N API processes says ``proto == 0``, so with the standard library's loop
    (KIRIN_EVENT_LOOP=asyncio) every answer written in two parts (headers, then body) waited for
    the client's delayed ACK: about 40 ms each, measured as 1,450 req/s at p50 44 ms with
    ``--api-processes 2`` against 16,000 with uvloop. Set here, it holds for both loops and any
    socket."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):  # a socket already gone: nothing to answer on
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
