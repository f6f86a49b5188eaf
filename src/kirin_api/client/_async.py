"""The asynchronous client: runs the flows of :mod:`kirin_api.client._core` with
``httpx.AsyncClient`` and ``anyio.sleep`` (so it works under asyncio and trio alike)."""

from __future__ import annotations

import builtins
import contextlib
import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import anyio
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

__all__ = ["AsyncClient", "AsyncElements", "AsyncModels", "AsyncTasks", "AsyncUploads"]

T = TypeVar("T")


class _AsyncDriver:
    def __init__(self, core: Core, http: httpx.AsyncClient) -> None:
        self.core = core
        self.http = http
        self.sleep: Callable[[float], Awaitable[None]] = anyio.sleep

    async def run(self, flow: Flow[T]) -> T:
        outcome: Outcome = None
        while True:
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                result: T = stop.value
                return result
            outcome = await self._perform(action)

    async def _perform(self, action: Action) -> Outcome:
        if isinstance(action, Send):
            try:
                return await self.http.send(action.request)
            except httpx.RequestError as exc:
                return exc
        if isinstance(action, Fetch):
            try:
                return await self._fetch(action)
            except httpx.RequestError as exc:
                return exc
        await self.sleep(action.seconds)
        return None

    async def _fetch(self, action: Fetch) -> httpx.Response:
        response = await self.http.send(action.request, stream=True)
        try:
            if not response.is_success:
                await response.aread()
                return response
            action.dest.parent.mkdir(parents=True, exist_ok=True)
            part = action.dest.with_name(action.dest.name + ".part")
            try:
                # Plain file writes: 64 KiB to a local disk blocks the loop for microseconds,
                # far less than a thread hand-off per chunk would cost.
                with part.open("wb") as file:
                    async for chunk in response.aiter_bytes(1 << 16):
                        file.write(chunk)
                part.replace(action.dest)
            finally:
                part.unlink(missing_ok=True)
            return response
        finally:
            await response.aclose()


class AsyncTasks(ModelHelpers[Coroutine[Any, Any, Task]]):
    """``client.tasks`` of :class:`AsyncClient`; the per-model helpers are awaited too."""

    def __init__(self, driver: _AsyncDriver) -> None:
        self._driver = driver
        self._core = driver.core

    def _create(self, model: str, params: dict[str, Any]) -> Coroutine[Any, Any, Task]:
        return self.create(model, **params)

    async def create(self, model: str, **params: Any) -> Task:
        """Create a task; see :meth:`kirin_api.Client.tasks.create`."""
        return await self._driver.run(self._core.create(model, params))

    async def get(self, task_id: str) -> Task:
        """One task."""
        return await self._driver.run(self._core.get(task_id))

    async def list(
        self,
        *,
        status: TaskStatus | None = None,
        model: str | None = None,
        external_task_id: str | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Task]:
        """Every matching task, newest first, a page at a time (``async for``)."""
        cursor: str | None = None
        while True:
            page = await self.list_page(
                cursor=cursor,
                limit=limit,
                status=status,
                model=model,
                external_task_id=external_task_id,
            )
            for task in page.data:
                yield task
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def list_page(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        status: TaskStatus | None = None,
        model: str | None = None,
        external_task_id: str | None = None,
    ) -> Page[Task]:
        """One page of tasks."""
        return await self._driver.run(
            self._core.list_page(
                cursor=cursor,
                limit=limit,
                status=status,
                model=model,
                external_task_id=external_task_id,
            )
        )

    async def cancel(self, task_id: str) -> Task:
        """Ask to cancel an unfinished task."""
        return await self._driver.run(self._core.cancel(task_id))

    async def stream(
        self, task: Task | str, *, timeout: float | None = None
    ) -> AsyncIterator[Task]:
        """The task as it changes, live from the server's event stream (see the sync one)."""
        task_id = task.id if isinstance(task, Task) else task
        async with contextlib.aclosing(
            self._follow(Follow(self._core, task_id, timeout))
        ) as states:
            async for current in states:
                yield current

    async def _follow(self, follow: Follow) -> AsyncGenerator[Task, None]:
        while True:
            error: httpx.TransportError | Reconnect | None = None
            try:
                response = await self._driver.http.send(follow.request(), stream=True)
                try:
                    body = None if response.is_success else await response.aread()
                    if not follow.opened(response.status_code, response.headers, body):
                        return
                    async for line in response.aiter_lines():
                        current = follow.line(line)
                        if current is not None:
                            yield current
                            if current.finished:
                                return
                finally:
                    await response.aclose()
            except (httpx.TransportError, Reconnect) as exc:  # a drop, a 429/5xx, no news in time
                error = exc
            if follow.remaining() <= 0:
                raise follow.timeout_error(follow.last or await self.get(follow.task_id))
            await self._driver.sleep(follow.reconnect_delay(error))

    async def wait(
        self,
        task: Task | str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_update: Callable[[Task], object] | None = None,
    ) -> Task:
        """Wait until the task finishes, live where the server offers it, else polling;
        returns it whatever its status (see the sync one)."""
        task_id = task.id if isinstance(task, Task) else task
        follow = Follow(self._core, task_id, timeout)
        try:
            # aclosing: the stream's connection is let go as soon as the wait is over.
            async with contextlib.aclosing(self._follow(follow)) as states:
                async for current in states:
                    if on_update is not None:
                        on_update(current)
                    if current.finished:
                        return current
        except StreamUnsupported:
            pass
        remaining = None if timeout is None else max(follow.remaining(), 0.0)
        return await self._driver.run(
            self._core.wait(task_id, timeout=remaining, on_update=on_update)
        )

    async def create_and_wait(
        self,
        model: str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_update: Callable[[Task], object] | None = None,
        **params: Any,
    ) -> Task:
        """:meth:`create` then :meth:`wait`."""
        task = await self.create(model, **params)
        if on_update is not None:
            on_update(task)
        if task.finished:
            return task
        return await self.wait(task, timeout=timeout, on_update=on_update)

    async def download(
        self,
        task: Task | str,
        path: str | os.PathLike[str],
        *,
        watermarked: bool = False,
    ) -> Path:
        """Stream the task's video into ``path``; see the sync one."""
        return await self._driver.run(self._core.download(task, path, watermarked=watermarked))


class AsyncElements:
    """``client.elements`` of :class:`AsyncClient`."""

    def __init__(self, driver: _AsyncDriver) -> None:
        self._driver = driver
        self._core = driver.core

    async def list(self, *, limit: int | None = None) -> AsyncIterator[Element]:
        """Every element, newest first (``async for``)."""
        cursor: str | None = None
        while True:
            page = await self.list_page(cursor=cursor, limit=limit)
            for element in page.data:
                yield element
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def list_page(
        self, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[Element]:
        """One page of elements."""
        return await self._driver.run(self._core.elements_page(cursor=cursor, limit=limit))

    async def get(self, element_id: int | str) -> Element:
        """One element."""
        return await self._driver.run(self._core.element_get(element_id))

    async def delete(self, element_id: int | str) -> None:
        """Delete an element."""
        await self._driver.run(self._core.element_delete(element_id))


class AsyncUploads:
    """``client.uploads`` of :class:`AsyncClient` (see the sync one)."""

    def __init__(self, driver: _AsyncDriver) -> None:
        self._driver = driver

    async def create(self, path: str | os.PathLike[str]) -> Upload:
        """Upload a JPEG/PNG image or an MP4/MOV video; give its ``url`` to any input."""
        return await self._driver.run(_uploads.create(self._driver.core, path))

    async def get(self, upload_id: str) -> Upload:
        """One upload."""
        return await self._driver.run(_uploads.get(self._driver.core, upload_id))

    async def delete(self, upload_id: str) -> None:
        """Delete an upload now."""
        await self._driver.run(_uploads.delete(self._driver.core, upload_id))


class AsyncModels:
    """``client.models`` of :class:`AsyncClient`."""

    def __init__(self, driver: _AsyncDriver) -> None:
        self._driver = driver

    async def list(self) -> builtins.list[ModelInfo]:
        """The served models."""
        return await self._driver.run(self._driver.core.models())


class AsyncClient:
    """The asynchronous twin of :class:`kirin_api.Client`: same arguments, same behaviour,
    awaitable methods. Use ``async with``, or await :meth:`aclose`."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = ClientConfig.from_env(
            base_url, api_key, timeout=timeout, max_retries=max_retries, retry=retry, poll=poll
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient()
        self._driver = _AsyncDriver(Core(self.config), self._http)
        self.tasks = AsyncTasks(self._driver)
        self.elements = AsyncElements(self._driver)
        self.models = AsyncModels(self._driver)
        self.uploads = AsyncUploads(self._driver)

    async def webhook_secret(self) -> str:
        """The account's webhook signing secret (``whsec_...``)."""
        return await self._driver.run(self._driver.core.webhook_secret())

    async def aclose(self) -> None:
        """Close the connection pool (unless it was passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
