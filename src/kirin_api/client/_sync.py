"""The synchronous client: runs the flows of :mod:`kirin_api.client._core` with
``httpx.Client`` and ``time.sleep``."""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

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
from kirin_api.client.helpers import ModelHelpers
from kirin_api.client.types import Element, ModelInfo, Page, Task, TaskStatus

__all__ = ["Client", "Elements", "Models", "Tasks"]

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

    def wait(
        self,
        task: Task | str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_update: Callable[[Task], object] | None = None,
    ) -> Task:
        """Poll until the task finishes, following the server's ``Retry-After`` hint.

        Answers the finished task whatever its status: a failed task is returned (look at
        ``task.error``), not raised. Raises ``WaitTimeoutError`` after ``timeout`` seconds
        (``None``: wait for ever). ``on_update`` is called with every state polled.
        """
        task_id = task.id if isinstance(task, Task) else task
        return self._driver.run(self._core.wait(task_id, timeout=timeout, on_update=on_update))

    def create_and_wait(
        self,
        model: str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_update: Callable[[Task], object] | None = None,
        **params: Any,
    ) -> Task:
        """:meth:`create` then :meth:`wait`."""
        return self._driver.run(
            self._core.create_and_wait(model, params, timeout=timeout, on_update=on_update)
        )

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
