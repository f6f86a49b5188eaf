"""A real HTTP receiver of callbacks on loopback: records every POST and answers as told."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Hit:
    """One request as received: when, its headers (names lowered), its raw body, the status sent."""

    at: float
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def status_reported(self) -> str:
        return str(self.json["status"])


# Given the request number (0, 1, 2 ...) and the path: the status to answer, or None to hang
# (answer nothing until the receiver stops).
Plan = Callable[[int, str], int | None]


def fail_first(n: int, status: int = 500) -> Plan:
    return lambda index, _path: status if index < n else 200


@dataclass
class Receiver:
    url: str
    port: int
    plan: Plan
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)

    def accepted(self) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if 200 <= hit.status < 300]

    def wait_for(self, until: Callable[[list[Hit]], bool], timeout: float = 30.0) -> list[Hit]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                hits = list(self.hits)
            if until(hits):
                return hits
            time.sleep(0.02)
        raise AssertionError(f"the receiver did not get there in {timeout}s: {self.hits}")


@contextmanager
def receive(plan: Plan | None = None, port: int = 0) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 (``port`` 0: any free one) for the duration of the block."""
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = state["receiver"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                index = len(receiver.hits)
            status = receiver.plan(index, self.path)
            if status is None:
                receiver.closing.wait(30)
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            with receiver.lock:
                receiver.hits.append(Hit(time.time(), self.path, headers, body, status))
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/redirected")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    actual = server.server_address[1]
    state["receiver"] = Receiver(
        url=f"http://127.0.0.1:{actual}/hook",
        port=actual,
        plan=plan or (lambda _i, _p: 200),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["receiver"]
    finally:
        state["receiver"].closing.set()
        server.shutdown()
        server.server_close()


def independent_signatures(secret: str, hit: Hit) -> set[str]:
    """What the signature of ``hit`` is with ``secret``, computed here with hmac/hashlib."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{hit.headers['webhook-id']}.{hit.headers['webhook-timestamp']}.".encode() + hit.body
    return {"v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()}


def signatures(hit: Hit) -> list[str]:
    return hit.headers["webhook-signature"].split()
