"""Following a task live: the server's event stream (``GET .../events``, Server-Sent Events),
parsed and reconnected here once for the sync and the async clients, which only move bytes.

:class:`Follow` builds each request (with ``Last-Event-ID`` after a drop, and a read timeout
that ends at the caller's deadline), judges each response (an error is raised as the API's
error; a server without the endpoint, or one that answers something else, is
:class:`StreamUnsupported`: ``wait`` then polls), turns lines into tasks, and decides whether a
dropped stream is reconnected (with backoff, a bounded number of times in a row) or given up.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from kirin_api.client._core import Core, _connection_error
from kirin_api.client.errors import (
    KirinError,
    WaitTimeoutError,
    error_from_response,
)
from kirin_api.client.types import Task

# Beyond the read timeout of the stream's request: the server's keep-alive comes every 15 s.
_READ_MARGIN = 1.0


class StreamUnsupported(KirinError):
    """The server offers no event stream for tasks (an older server, another provider)."""


@dataclass(frozen=True)
class ServerEvent:
    event: str
    data: str
    id: str | None


class SseParser:
    """Server-Sent Events, one line at a time (the WHATWG rules that matter here)."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self.last_id: str | None = None
        self.retry_ms: int | None = None

    def line(self, line: str) -> ServerEvent | None:
        """Feed one line (without its end); answers the event a blank line completes."""
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = ServerEvent(self._event or "message", "\n".join(self._data), self.last_id)
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None  # a comment: keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\x00" not in value:
            self.last_id = value
        elif name == "retry" and value.isdecimal():
            self.retry_ms = int(value)
        return None


class Follow:
    """The state of following one task (see the module docstring)."""

    def __init__(self, core: Core, task_id: str, timeout: float | None) -> None:
        self._core = core
        self.task_id = task_id
        self._timeout = timeout
        self._deadline = None if timeout is None else core.config.clock() + timeout
        self._parser = SseParser()
        self._failures = 0
        self.last: Task | None = None

    def remaining(self) -> float:
        if self._deadline is None:
            return math.inf
        return self._deadline - self._core.config.clock()

    def request(self) -> httpx.Request:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self._parser.last_id is not None:
            headers["Last-Event-ID"] = self._parser.last_id
        request = self._core.build(
            "GET", f"/model/v1/generation/task/{self.task_id}/events", headers=headers
        )
        read = min(self._core.config.timeout, self.remaining() + _READ_MARGIN)
        timeout = httpx.Timeout(self._core.config.timeout, read=max(read, 0.1))
        request.extensions["timeout"] = timeout.as_dict()
        return request

    def opened(self, status_code: int, headers: Mapping[str, str], body: bytes | None) -> bool:
        """Judge a response: True to read its stream; False when it says there is nothing more
        (204: the last event had the finished state). ``body`` is read for a non-2xx one."""
        if status_code == 204:
            return False
        if status_code in (404, 405, 406, 501):
            # An older server or another provider (or no such task: polling then says so).
            raise StreamUnsupported(f"no event stream for tasks (HTTP {status_code})")
        if not 200 <= status_code < 300:
            raise error_from_response(status_code, body or b"", headers)
        if not headers.get("content-type", "").startswith("text/event-stream"):
            raise StreamUnsupported("the server answered events with something else")
        return True

    def line(self, line: str) -> Task | None:
        """A task, where this line completes a ``task`` event."""
        event = self._parser.line(line)
        if event is None or event.event != "task":
            return None
        task = Task.model_validate(json.loads(event.data))
        self.last = task
        self._failures = 0
        return task

    def timeout_error(self, task: Task) -> WaitTimeoutError:
        """The error of a deadline passed; ``task``: the last state known."""
        return WaitTimeoutError(
            f"task {self.task_id} still {task.status} after {self._timeout:g} s "
            f"(progress {task.progress:.0%})",
            task,
        )

    def reconnect_delay(self, error: BaseException | None) -> float:
        """Seconds before reconnecting a stream that ended early (``error``: how, None for a
        clean end before a finished state); raises when it is time to give up."""
        delay = self._core.config.retry.delay(self._failures, None, self._core.config.rand())
        self._failures += 1
        if delay is None:
            if isinstance(error, httpx.TransportError):
                raise _connection_error(error) from error
            raise StreamUnsupported("the event stream keeps ending early")
        if self._parser.retry_ms is not None:
            delay = max(delay, self._parser.retry_ms / 1000)
        return min(delay, max(self.remaining(), 0.0))
