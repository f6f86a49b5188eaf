"""The synchronous client: runs the flows of :mod:`kirin_api.client._core` with
``httpx.Client`` and ``time.sleep``."""

from __future__ import annotations

import builtins
import contextlib
import os
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from kirin_api.client import _uploads
from kirin_api.client._core import (
    DEFAULT_WAIT_TIMEOUT,
    Action,
    ClientConfig,
    Core,
    Fetch,
    Flow,
    Outcome,
    PollPolicy,
    RetryPolicy,
    Send,
)
from kirin_api.client._events import Follow, Reconnect, StreamUnsupported
from kirin_api.client._model_methods import ModelHelpers
from kirin_api.client.types import Element, ModelInfo, Page, Task, TaskStatus, Upload

__all__ = ["Client", "Elements", "Models", "Tasks", "Uploads"]

T = TypeVar("T")


class _Driver:
    def __init__(self, core: Core, http: httpx.Client) -> None:
        self.core = core
        self.http = http
        self.sleep: Callable[[float], None] = time.sleep

    def run(self, flow: Flow[T]) -> T:
        outcome: Outcome = None
        while True:
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                result: T = stop.value
                return result
            outcome = self._perform(action)

    def _perform(self, action: Action) -> Outcome:
        if isinstance(action, Send):
            try:
                return self.http.send(action.request)
            except httpx.RequestError as exc:
                return exc
        if isinstance(action, Fetch):
            try:
                return self._fetch(action)
            except httpx.RequestError as exc:
                return exc
        self.sleep(action.seconds)
        return None

    def _fetch(self, action: Fetch) -> httpx.Response:
        response = self.http.send(action.request, stream=True)
        try:
            if not response.is_success:
                response.read()
                return response
            action.dest.parent.mkdir(parents=True, exist_ok=True)
            part = action.dest.with_name(action.dest.name + ".part")
            try:
                with part.open("wb") as file:
                    for chunk in response.iter_bytes(1 << 16):
                        file.write(chunk)
                part.replace(action.dest)
            finally:
                part.unlink(missing_ok=True)
            return response
        finally:
            response.close()


class Tasks(ModelHelpers[Task]):
    """``client.tasks``: create, get, list, cancel, wait, download, and one helper per model."""

    def __init__(self, driver: _Driver) -> None:
        self._driver = driver
        self._core = driver.core

    def _create(self, model: str, params: dict[str, Any]) -> Task:
        return self.create(model, **params)

    def create(self, model: str, **params: Any) -> Task:
        """Create a task of ``model`` with its parameters (flat, as API.md has them).

        Sent once; pass ``external_task_id`` to make it safe to retry (see :meth:`Core.create`).
        """
        return self._driver.run(self._core.create(model, params))

    def get(self, task_id: str) -> Task:
        """One task."""
        return self._driver.run(self._core.get(task_id))

    def list(
        self,
        *,
        status: TaskStatus | None = None,
        model: str | None = None,
        external_task_id: str | None = None,
        limit: int | None = None,
    ) -> Iterator[Task]:
        """Every task of the account matching the filters, newest first, fetching pages of
        ``limit`` (1..100) as iteration goes on (stop iterating to stop fetching)."""
        cursor: str | None = None
        while True:
            page = self.list_page(
                cursor=cursor,
                limit=limit,
                status=status,
                model=model,
                external_task_id=external_task_id,
            )
            yield from page.data
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def list_page(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        status: TaskStatus | None = None,
        model: str | None = None,
        external_task_id: str | None = None,
    ) -> Page[Task]:
        """One page of tasks; pass its ``next_cursor`` as ``cursor`` for the next."""
        return self._driver.run(
            self._core.list_page(
                cursor=cursor,
                limit=limit,
                status=status,
                model=model,
                external_task_id=external_task_id,
            )
        )

    def cancel(self, task_id: str) -> Task:
        """Ask to cancel an unfinished task (a finished one raises ``ConflictError``)."""
        return self._driver.run(self._core.cancel(task_id))

    def stream(self, task: Task | str, *, timeout: float | None = None) -> Iterator[Task]:
        """The task as it changes, live from the server's event stream: its state at once, then
        each change of status or progress, ending with a finished state. A dropped connection
        is resumed (``Last-Event-ID``). Raises ``WaitTimeoutError`` after ``timeout`` seconds
        (``None``: no limit), and ``StreamUnsupported`` where the server has no event stream
        (:meth:`wait` then polls instead)."""
        task_id = task.id if isinstance(task, Task) else task
        yield from self._follow(Follow(self._core, task_id, timeout))

    def _follow(self, follow: Follow) -> Generator[Task, None, None]:
        while True:
            error: httpx.TransportError | Reconnect | None = None
            try:
                response = self._driver.http.send(follow.request(), stream=True)
                try:
                    body = None if response.is_success else response.read()
                    if not follow.opened(response.status_code, response.headers, body):
                        return
                    for line in response.iter_lines():
                        current = follow.line(line)
                        if current is not None:
                            yield current
                            if current.finished:
                                return
                finally:
                    response.close()
            except (httpx.TransportError, Reconnect) as exc:  # a drop, a 429/5xx, no news in time
                error = exc
            if follow.remaining() <= 0:
                raise follow.timeout_error(follow.last or self.get(follow.task_id))
            self._driver.sleep(follow.reconnect_delay(error))

    def wait(
        self,
        task: Task | str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_update: Callable[[Task], object] | None = None,
    ) -> Task:
        """Wait until the task finishes: live through :meth:`stream` where the server offers
        it, else polling with the server's ``Retry-After`` hint.

        Answers the finished task whatever its status: a failed task is returned (look at
        ``task.error``), not raised. Raises ``WaitTimeoutError`` after ``timeout`` seconds
        (``None``: wait for ever). ``on_update`` is called with every state seen.
        """
        task_id = task.id if isinstance(task, Task) else task
        follow = Follow(self._core, task_id, timeout)
        try:
            # closing: the stream's connection is let go as soon as the wait is over.
            with contextlib.closing(self._follow(follow)) as states:
                for current in states:
                    if on_update is not None:
                        on_update(current)
                    if current.finished:
                        return current
        except StreamUnsupported:
            pass
        remaining = None if timeout is None else max(follow.remaining(), 0.0)
        return self._driver.run(self._core.wait(task_id, timeout=remaining, on_update=on_update))

    def create_and_wait(
        self,
        model: str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_update: Callable[[Task], object] | None = None,
        **params: Any,
    ) -> Task:
        """:meth:`create` then :meth:`wait`."""
        task = self.create(model, **params)
        if on_update is not None:
            on_update(task)
        if task.finished:
            return task
        return self.wait(task, timeout=timeout, on_update=on_update)

    def download(
        self,
        task: Task | str,
        path: str | os.PathLike[str],
        *,
        watermarked: bool = False,
    ) -> Path:
        """Stream the completed task's video (the watermarked copy with ``watermarked``) into
        ``path`` (a file, or a directory to put ``<task id>.mp4`` in); answers the file's path.
        Raises ``NoResultError`` when the task has no such video."""
        return self._driver.run(self._core.download(task, path, watermarked=watermarked))


class Elements:
    """``client.elements``: the account's subject library."""

    def __init__(self, driver: _Driver) -> None:
        self._driver = driver
        self._core = driver.core

    def list(self, *, limit: int | None = None) -> Iterator[Element]:
        """Every element, newest first, fetched a page at a time."""
        cursor: str | None = None
        while True:
            page = self.list_page(cursor=cursor, limit=limit)
            yield from page.data
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def list_page(self, *, cursor: str | None = None, limit: int | None = None) -> Page[Element]:
        """One page of elements."""
        return self._driver.run(self._core.elements_page(cursor=cursor, limit=limit))

    def get(self, element_id: int | str) -> Element:
        """One element."""
        return self._driver.run(self._core.element_get(element_id))

    def delete(self, element_id: int | str) -> None:
        """Delete an element."""
        self._driver.run(self._core.element_delete(element_id))


class Uploads:
    """``client.uploads``: local files kept on the server a while, to give as inputs."""

    def __init__(self, driver: _Driver) -> None:
        self._driver = driver

    def create(self, path: str | os.PathLike[str]) -> Upload:
        """Upload a JPEG/PNG image (at most 10 MB) or an MP4/MOV video (at most 100 MB); give
        its ``url`` to any image or video parameter (it works until ``expires_at``)."""
        return self._driver.run(_uploads.create(self._driver.core, path))

    def get(self, upload_id: str) -> Upload:
        """One upload (``NotFoundError`` once deleted or expired)."""
        return self._driver.run(_uploads.get(self._driver.core, upload_id))

    def delete(self, upload_id: str) -> None:
        """Delete an upload now, rather than letting it expire."""
        self._driver.run(_uploads.delete(self._driver.core, upload_id))


class Models:
    """``client.models``: what the server serves."""

    def __init__(self, driver: _Driver) -> None:
        self._driver = driver

    def list(self) -> builtins.list[ModelInfo]:
        """The served models, each with the JSON Schema of its parameters."""
        return self._driver.run(self._driver.core.models())


class Client:
    """A synchronous client of the Kirin API.

    ``base_url`` and ``api_key`` default to ``KIRIN_BASE_URL`` and ``KIRIN_API_KEY``.
    Requests are retried ``max_retries`` times on 429, 5xx and connection errors (creates
    only when they carry an ``external_task_id``). Use it as a context manager, or call
    :meth:`close`; an ``http_client`` passed in is left open.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.config = ClientConfig.from_env(
            base_url, api_key, timeout=timeout, max_retries=max_retries, retry=retry, poll=poll
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client()
        self._driver = _Driver(Core(self.config), self._http)
        self.tasks = Tasks(self._driver)
        self.elements = Elements(self._driver)
        self.models = Models(self._driver)
        self.uploads = Uploads(self._driver)

    def webhook_secret(self) -> str:
        """The account's webhook signing secret (``whsec_...``), for :func:`verify_webhook`."""
        return self._driver.run(self._driver.core.webhook_secret())

    def close(self) -> None:
        """Close the connection pool (unless it was passed in)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
