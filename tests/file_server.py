"""A real HTTP server on loopback that serves given bytes and counts every request; and, for
hostile-input tests, paths that trickle a valid file, drip, stall or never end."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Writes a response on the handler; returns when done (or when the server closes).
Behaviour = Callable[[BaseHTTPRequestHandler, threading.Event], None]


@dataclass
class FileServer:
    base_url: str
    files: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)

    def add(self, path: str, body: bytes, status: int = 200) -> str:
        self.files[path] = (status, body)
        return self.base_url + path

    def add_trickle(self, path: str, body: bytes, seconds: float, pieces: int = 20) -> str:
        """``body`` (a valid file) sent whole, in ``pieces`` spread evenly over ``seconds``."""

        def trickle(handler: BaseHTTPRequestHandler, closing: threading.Event) -> None:
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            step = -(-len(body) // pieces)
            for start in range(0, len(body), step):
                if closing.wait(seconds / pieces):
                    return
                handler.wfile.write(body[start : start + step])
                handler.wfile.flush()

        self.behaviours[path] = trickle
        return self.base_url + path

    def add_stall(self, path: str) -> str:
        """Headers promising a body, then nothing, until the server closes."""

        def stall(handler: BaseHTTPRequestHandler, closing: threading.Event) -> None:
            handler.send_response(200)
            handler.send_header("Content-Length", "100000")
            handler.end_headers()
            handler.wfile.write(b"\x89PNG")
            handler.wfile.flush()
            closing.wait()

        self.behaviours[path] = stall
        return self.base_url + path

    def add_drip(self, path: str, interval: float = 0.1) -> str:
        """One byte every ``interval`` seconds, for ever: each read comes within any timeout."""

        def drip(handler: BaseHTTPRequestHandler, closing: threading.Event) -> None:
            handler.send_response(200)
            handler.send_header("Content-Length", "1000000")
            handler.end_headers()
            while not closing.wait(interval):
                handler.wfile.write(b"\x00")
                handler.wfile.flush()

        self.behaviours[path] = drip
        return self.base_url + path

    def add_endless(self, path: str) -> str:
        """A body without a length that never ends, as fast as it is read."""

        def endless(handler: BaseHTTPRequestHandler, closing: threading.Event) -> None:
            handler.send_response(200)
            handler.end_headers()
            block = b"\x00" * 65536
            while not closing.is_set():
                handler.wfile.write(block)

        self.behaviours[path] = endless
        return self.base_url + path


@contextmanager
def serve_files() -> Iterator[FileServer]:
    state: dict[str, FileServer] = {}
    closing = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server = state["server"]
            server.hits[self.path] += 1
            behaviour = server.behaviours.get(self.path)
            if behaviour is not None:
                # The client hanging up is what hostile paths expect.
                with contextlib.suppress(OSError):
                    behaviour(self, closing)
                return
            status, body = server.files.get(self.path, (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    state["server"] = FileServer(f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["server"]
    finally:
        closing.set()
        httpd.shutdown()
        httpd.server_close()
        time.sleep(0)  # let handler threads see ``closing``
