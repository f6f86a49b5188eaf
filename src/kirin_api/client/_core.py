"""The SDK's behaviour, written once and without I/O (sans-IO).

Every operation is a *flow*: a generator that yields actions (:class:`Send` a request,
:class:`Fetch` a URL into a file, :class:`Sleep`) and receives their outcomes (an
``httpx.Response`` or the ``httpx.RequestError`` that stopped it). The sync and the async
clients are thin drivers that perform those actions with ``httpx.Client``/``time.sleep`` or
``httpx.AsyncClient``/``anyio.sleep``; so retries, polling, the create-retry recovery and error
mapping cannot drift apart between them, and tests can drive a flow by hand with a fake clock.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias, TypeVar
from urllib.parse import quote, urljoin

import httpx

from kirin_api.client.errors import (
    APIConnectionError,
    APIError,
    ConflictError,
    KirinError,
    NoResultError,
    PermissionDeniedError,
    RequestTimeoutError,
    WaitTimeoutError,
    error_from_response,
    parse_retry_after,
)
from kirin_api.client.types import Element, ModelInfo, Page, Task

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "Action",
    "ClientConfig",
    "Core",
    "Fetch",
    "Flow",
    "Outcome",
    "PollPolicy",
    "RetryPolicy",
    "Send",
    "Sleep",
]

ENV_BASE_URL = "KIRIN_BASE_URL"
ENV_API_KEY = "KIRIN_API_KEY"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
"""Where ``kirin serve`` listens by default."""
DEFAULT_TIMEOUT = 60.0
"""Seconds for one HTTP operation (connect, one read, one write)."""
DEFAULT_WAIT_TIMEOUT = 600.0
"""Seconds :meth:`wait` waits for a task to finish before it gives up."""
GENERATION_PATH = "/model/v1/generation"

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Send ``request`` and hand back the whole response (body read)."""

    request: httpx.Request


@dataclass(frozen=True)
class Fetch:
    """Send ``request``; on a 2xx stream the body into ``dest`` (atomically, via a ``.part``
    file) and hand back the response; otherwise hand back the response with its body read."""

    request: httpx.Request
    dest: Path


@dataclass(frozen=True)
class Sleep:
    """Pause for ``seconds``; the outcome is ``None``."""

    seconds: float


Action: TypeAlias = Send | Fetch | Sleep
Outcome: TypeAlias = httpx.Response | httpx.RequestError | None
Flow: TypeAlias = Generator[Action, Outcome, T]


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a request again.

    Retried: 429 and 5xx answers, and connection errors (never a create without an
    ``external_task_id``). The delay is ``Retry-After`` where the server sent one (a little
    later, never earlier, so that many clients do not come back at the same instant), else an
    exponential backoff from ``initial_delay``, capped at ``max_delay``, minus up to ``jitter``
    of itself. A ``Retry-After`` longer than ``max_retry_after`` is not waited out: the error
    is raised at once with the hint on it.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: float = 0.25

    def delay(self, retry_number: int, retry_after: float | None, rand: float) -> float | None:
        """Seconds before retry ``retry_number`` (0-based); ``None``: do not retry.

        ``rand`` is a uniform number in [0, 1), passed in so that tests are deterministic.
        """
        if retry_number >= self.max_retries:
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return retry_after * (1 + 0.1 * rand)
        base = min(self.max_delay, self.initial_delay * 2.0**retry_number)
        return base * (1 - self.jitter * rand)


@dataclass(frozen=True)
class PollPolicy:
    """How often :meth:`wait` polls a task.

    The server's ``Retry-After`` on an unfinished task is followed (kept within
    ``min_interval``..``max_hint``); without one, the interval grows from ``initial_interval``
    by ``factor`` up to ``max_interval``, with a little jitter.
    """

    initial_interval: float = 0.5
    factor: float = 1.5
    max_interval: float = 5.0
    min_interval: float = 0.05
    max_hint: float = 30.0
    jitter: float = 0.1

    def interval(self, poll_number: int, hint: float | None, rand: float) -> float:
        """Seconds to sleep after poll ``poll_number`` (0-based) saw an unfinished task."""
        if hint is not None:
            return min(self.max_hint, max(self.min_interval, hint))
        base = min(self.max_interval, self.initial_interval * self.factor**poll_number)
        return max(self.min_interval, base * (1 - self.jitter * rand))


@dataclass(frozen=True)
class ClientConfig:
    """Everything a client needs; :meth:`from_env` fills the gaps from the environment."""

    base_url: str
    api_key: str
    timeout: float = DEFAULT_TIMEOUT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll: PollPolicy = field(default_factory=PollPolicy)
    user_agent: str = "kirin-python"
    clock: Callable[[], float] = time.monotonic
    rand: Callable[[], float] = random.random

    @classmethod
    def from_env(
        cls,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> ClientConfig:
        """Arguments first, then ``KIRIN_BASE_URL``/``KIRIN_API_KEY``, then the defaults."""
        env = os.environ if environ is None else environ
        base_url = base_url or env.get(ENV_BASE_URL) or DEFAULT_BASE_URL
        api_key = api_key or env.get(ENV_API_KEY)
        if not api_key:
            raise KirinError(f"no API key: pass api_key=... or set {ENV_API_KEY}")
        policy = retry or RetryPolicy()
        if max_retries is not None:
            policy = RetryPolicy(
                max_retries=max_retries,
                initial_delay=policy.initial_delay,
                max_delay=policy.max_delay,
                max_retry_after=policy.max_retry_after,
                jitter=policy.jitter,
            )
        from kirin_api import __version__

        return cls(
            base_url=base_url.rstrip("/"),
            api_key=api_key,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            retry=policy,
            poll=poll or PollPolicy(),
            user_agent=f"kirin-python/{__version__}",
        )


@dataclass
class _Attempts:
    count: int = 0


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class Core:
    """Request building, response parsing and every decision (retry, poll, recover).

    Methods returning :data:`Flow` do no I/O: a driver runs them.
    """

    def __init__(self, config: ClientConfig) -> None:
        self.config = config

    # -- requests ---------------------------------------------------------------------------

    def _timeout(self) -> dict[str, Any]:
        # Set on each request because drivers call ``send``, which does not apply the client's
        # default timeout to a request built outside it.
        return {"timeout": httpx.Timeout(self.config.timeout).as_dict()}

    def build(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        """An authenticated request to ``path`` on the server (``content``: a raw body, its
        type in ``headers``)."""
        all_headers = {
            "Authorization": f"Bearer {self.config.api_key}",
            "Accept": "application/json",
            "User-Agent": self.config.user_agent,
            **(headers or {}),
        }
        return httpx.Request(
            method,
            self.config.base_url + path,
            params=_drop_none(params or {}),
            json=json,
            content=content,
            headers=all_headers,
            extensions=self._timeout(),
        )

    def build_download(self, url: str) -> httpx.Request:
        """A request for a result URL. It carries no API key: result URLs are signed, and may
        point at another host (an S3 bucket) that must never see the key."""
        absolute = urljoin(self.config.base_url + "/", url)
        return httpx.Request(
            "GET",
            absolute,
            headers={"User-Agent": self.config.user_agent},
            extensions=self._timeout(),
        )

    # -- the one retry loop -----------------------------------------------------------------

    def call(
        self,
        request: httpx.Request,
        *,
        retry: bool = True,
        fetch_to: Path | None = None,
        attempts: _Attempts | None = None,
    ) -> Flow[httpx.Response]:
        """Send ``request`` (or fetch it into ``fetch_to``) until it succeeds, fails for good,
        or runs out of retries; answers the 2xx response or raises the mapped error."""
        attempts = attempts or _Attempts()
        retry_number = 0
        while True:
            outcome = yield (Send(request) if fetch_to is None else Fetch(request, fetch_to))
            attempts.count += 1
            retry_after: float | None = None
            if isinstance(outcome, httpx.Response):
                if outcome.is_success:
                    return outcome
                error: KirinError = error_from_response(
                    outcome.status_code, outcome.content, outcome.headers
                )
                retry_after = parse_retry_after(outcome.headers)
                retryable = outcome.status_code == 429 or outcome.status_code >= 500
                cause: BaseException | None = None
            elif isinstance(outcome, httpx.RequestError):
                error = _connection_error(outcome)
                # A transport error may or may not have reached the server; other request errors
                # (a body that would not decode, too many redirects) will not get better.
                retryable = isinstance(outcome, httpx.TransportError)
                cause = outcome
            else:  # pragma: no cover - a driver bug
                raise TypeError(f"unexpected outcome {outcome!r}")
            delay = (
                self.config.retry.delay(retry_number, retry_after, self.config.rand())
                if retry and retryable
                else None
            )
            if delay is None:
                raise error from cause
            retry_number += 1
            yield Sleep(delay)

    def call_json(self, request: httpx.Request, *, retry: bool = True) -> Flow[Any]:
        """:meth:`call`, answering the parsed JSON body."""
        response = yield from self.call(request, retry=retry)
        return response.json()

    # -- tasks ------------------------------------------------------------------------------

    def create(self, model: str, params: Mapping[str, Any]) -> Flow[Task]:
        """Create a task.

        Sent once, unless ``params`` carry an ``external_task_id``: then a lost answer can be
        retried safely, because the server refuses a second task with that id (409). A 409
        after a retry means an earlier attempt landed: that task is looked up and returned.
        """
        body = {"model": model, **params}
        external_id = body.get("external_task_id")
        request = self.build("POST", GENERATION_PATH, json=body)
        if external_id is None:
            response = yield from self.call(request, retry=False)
            return Task.model_validate_json(response.content)
        attempts = _Attempts()
        try:
            response = yield from self.call(request, attempts=attempts)
        except ConflictError:
            if attempts.count < 2:
                raise  # the very first attempt met an older task with this id: a real conflict
            page = yield from self.list_page(external_task_id=str(external_id), limit=1)
            if page.data and page.data[0].model == model:
                return page.data[0]
            raise
        return Task.model_validate_json(response.content)

    def _task_path(self, task_id: str) -> str:
        return f"{GENERATION_PATH}/task/{quote(task_id, safe='')}"

    def get(self, task_id: str) -> Flow[Task]:
        """One task."""
        response = yield from self.call(self.build("GET", self._task_path(task_id)))
        return Task.model_validate_json(response.content)

    def list_page(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        status: str | None = None,
        model: str | None = None,
        external_task_id: str | None = None,
    ) -> Flow[Page[Task]]:
        """One page of the account's tasks, newest first."""
        params = {
            "cursor": cursor,
            "limit": limit,
            "status": status,
            "model": model,
            "external_task_id": external_task_id,
        }
        request = self.build("GET", f"{GENERATION_PATH}/tasks", params=params)
        response = yield from self.call(request)
        return Page[Task].model_validate_json(response.content)

    def cancel(self, task_id: str) -> Flow[Task]:
        """Ask to cancel a task; answers it as it is now (it may still finish otherwise).

        Retrying is safe: cancelling twice asks for the same thing.
        """
        request = self.build("POST", self._task_path(task_id) + "/cancel")
        response = yield from self.call(request)
        return Task.model_validate_json(response.content)

    def wait(
        self,
        task_id: str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_update: Callable[[Task], object] | None = None,
    ) -> Flow[Task]:
        """Poll until the task finishes and answer it, whatever its status (a failed task is
        returned, not raised). Raises :class:`WaitTimeoutError` once ``timeout`` seconds have
        passed (``None``: no limit). ``on_update`` sees every state polled."""
        clock = self.config.clock
        deadline = None if timeout is None else clock() + timeout
        poll_number = 0
        while True:
            response = yield from self.call(self.build("GET", self._task_path(task_id)))
            task = Task.model_validate_json(response.content)
            if on_update is not None:
                on_update(task)
            if task.finished:
                return task
            delay = self.config.poll.interval(
                poll_number, parse_retry_after(response.headers), self.config.rand()
            )
            poll_number += 1
            if deadline is not None:
                remaining = deadline - clock()
                if remaining <= 0:
                    raise WaitTimeoutError(
                        f"task {task_id} still {task.status} after {timeout:g} s "
                        f"(progress {task.progress:.0%})",
                        task,
                    )
                delay = min(delay, remaining)
            yield Sleep(delay)

    def create_and_wait(
        self,
        model: str,
        params: Mapping[str, Any],
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_update: Callable[[Task], object] | None = None,
    ) -> Flow[Task]:
        """:meth:`create`, then :meth:`wait`."""
        task = yield from self.create(model, params)
        if on_update is not None:
            on_update(task)
        if task.finished:
            return task
        return (yield from self.wait(task.id, timeout=timeout, on_update=on_update))

    def download(
        self,
        task: Task | str,
        dest: str | os.PathLike[str],
        *,
        watermarked: bool = False,
    ) -> Flow[Path]:
        """Stream the task's clean (or watermarked) video into ``dest``; answers the path.

        ``dest`` may be a directory (the file is named after the task). A result URL that has
        expired (403) is refreshed once by fetching the task again.
        """
        if isinstance(task, str):
            task = yield from self.get(task)
        refreshed = False
        while True:
            url = _video_url(task, watermarked)
            path = Path(dest)
            if path.is_dir():
                path = path / f"{task.id}{'.watermarked' if watermarked else ''}.mp4"
            try:
                yield from self.call(self.build_download(url), fetch_to=path)
            except PermissionDeniedError:
                if refreshed:
                    raise
                refreshed = True
                task = yield from self.get(task.id)
                continue
            return path

    # -- elements, models, secret -------------------------------------------------------------

    def _element_path(self, element_id: int | str) -> str:
        return f"/model/v1/elements/{quote(str(element_id), safe='')}"

    def elements_page(
        self, *, cursor: str | None = None, limit: int | None = None
    ) -> Flow[Page[Element]]:
        """One page of the account's elements, newest first."""
        request = self.build("GET", "/model/v1/elements", params={"cursor": cursor, "limit": limit})
        response = yield from self.call(request)
        return Page[Element].model_validate_json(response.content)

    def element_get(self, element_id: int | str) -> Flow[Element]:
        """One element."""
        response = yield from self.call(self.build("GET", self._element_path(element_id)))
        return Element.model_validate_json(response.content)

    def element_delete(self, element_id: int | str) -> Flow[None]:
        """Delete an element (a retry that meets 404 means an earlier attempt deleted it)."""
        attempts = _Attempts()
        try:
            yield from self.call(
                self.build("DELETE", self._element_path(element_id)), attempts=attempts
            )
        except APIError as exc:
            if not (exc.status_code == 404 and attempts.count > 1):
                raise

    def models(self) -> Flow[list[ModelInfo]]:
        """The models the server serves."""
        response = yield from self.call(self.build("GET", "/model/v1/models"))
        return Page[ModelInfo].model_validate_json(response.content).data

    def webhook_secret(self) -> Flow[str]:
        """The account's webhook signing secret (``whsec_...``)."""
        body = yield from self.call_json(self.build("GET", "/model/v1/webhook-secret"))
        return str(body["secret"])


def _video_url(task: Task, watermarked: bool) -> str:
    if task.status != "completed":
        raise NoResultError(f"task {task.id} is {task.status}: it has no video")
    url = task.watermark_url if watermarked else task.video_url
    if url is None:
        which = (
            "watermarked video (create it with watermark_info.enabled)"
            if watermarked
            else ("video")
        )
        raise NoResultError(f"task {task.id} has no {which}")
    return url


def _connection_error(exc: httpx.RequestError) -> KirinError:
    try:
        where = f" ({exc.request.method} {exc.request.url})"
    except RuntimeError:  # an error raised before a request existed
        where = ""
    message = f"{type(exc).__name__}{where}: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(message)
    return APIConnectionError(message)
