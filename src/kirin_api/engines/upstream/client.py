"""The one HTTP client of upstream engines: timeouts, retries with backoff, ``Retry-After``.

Foreign failures become :class:`UpstreamError`, whose ``kind`` tells the engine what to do:

- ``bad_request``: the upstream refused the task's parameters or media (-> ``...099``);
- ``refused``: the upstream refused the content by policy (-> ``...099``, its message kept);
- ``credentials``: our keys or the upstream account are at fault: authentication, balance,
  permissions (-> ``...094``, with a message for the operator);
- ``busy``: the upstream's rate or parallel-task limit (-> the task waits in our queue);
- ``unavailable``: no answer, a timeout or a 5xx, after the retries (-> ``...095``);
- ``not_found``, ``conflict``: answers the engine's flow handles itself.

Base URLs are the operator's, so they are not subject to the private-address rule of user
URLs; result downloads come from the upstream's answers and are capped in size.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from kirin_api.contract.errors import KirinError

log = logging.getLogger("kirin_api.engines.upstream")

ErrorKind = Literal[
    "bad_request", "refused", "credentials", "busy", "unavailable", "not_found", "conflict"
]
# A result larger than this is not a video of ours.
MAX_RESULT_BYTES = 1 << 30
USER_AGENT = "kirin-api-gateway/0.1"


class UpstreamError(KirinError):
    def __init__(self, kind: ErrorKind, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


# How an upstream dialect reads an error answer: its kind and message (None: not an error).
Classifier = Callable[[httpx.Response], tuple[ErrorKind, str] | None]


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of requests that got no usable answer (connection errors, timeouts, 5xx):
    waits of ``first`` seconds growing by ``factor`` up to ``longest``, for at most ``total``
    seconds in all; then the failure stands."""

    total: float = 60.0
    first: float = 0.5
    factor: float = 2.0
    longest: float = 10.0


class UpstreamClient:
    """Requests to one upstream base URL; ``classify`` reads its dialect's errors."""

    def __init__(
        self,
        base_url: str,
        classify: Classifier,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_outcome: Callable[[str], None] = lambda outcome: None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._classify = classify
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        # Told how each request went ("ok" or an error kind): the worker counts them.
        self._on_outcome = on_outcome
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        retry: bool = True,
    ) -> Any:
        """The JSON of a successful answer. ``retry``: a request without a usable answer is
        sent again (only for requests that may be repeated: reads, and creates that the
        upstream deduplicates by ``external_task_id``)."""

        def once() -> Any:
            try:
                response = self._http.request(
                    method, path, headers=dict(headers or {}), json=json, params=params
                )
                problem = self._problem(response)
            except httpx.HTTPError as exc:
                problem = UpstreamError("unavailable", f"{method} {path}: {_describe(exc)}")
            self._on_outcome("ok" if problem is None else problem.kind)
            if problem is not None:
                raise problem
            return response.json()

        return self._retrying(once) if retry else once()

    def _retrying(self, once: Callable[[], Any]) -> Any:
        """``once()`` until it does not fail as ``unavailable``, for at most the policy's total
        time, waiting longer each time."""
        started = self._clock()
        wait = self._retry.first
        while True:
            try:
                return once()
            except UpstreamError as problem:
                if problem.kind != "unavailable":
                    raise
                if self._clock() - started + wait > self._retry.total:
                    raise UpstreamError(
                        "unavailable",
                        f"{problem.message} (tried for {self._clock() - started:.0f}s)",
                    ) from problem
                log.info("upstream %s: %s; again in %.1fs", self.base_url, problem.message, wait)
            self._sleep(wait)
            wait = min(wait * self._retry.factor, self._retry.longest)

    def _problem(self, response: httpx.Response) -> UpstreamError | None:
        classified = self._classify(response)
        if classified is None:
            try:
                response.json()
            except ValueError:
                return UpstreamError(
                    "unavailable", f"HTTP {response.status_code} with a body that is not JSON"
                )
            return None
        kind, message = classified
        return UpstreamError(kind, message, retry_after=_retry_after(response))

    def download(self, url: str, dest: Path, headers: Mapping[str, str] | None = None) -> None:
        """Stream a result to ``dest`` (at most :data:`MAX_RESULT_BYTES`), retried like reads."""
        self._retrying(lambda: self._download_once(url, dest, headers))

    def _download_once(self, url: str, dest: Path, headers: Mapping[str, str] | None) -> None:
        size = 0
        try:
            # Results may sit behind a CDN that redirects; API calls never follow redirects.
            stream = self._http.stream(
                "GET", url, headers=dict(headers or {}), follow_redirects=True
            )
            with stream as response:
                if response.status_code != 200:
                    kind: ErrorKind = "unavailable" if response.status_code >= 500 else "not_found"
                    raise UpstreamError(kind, f"result download: HTTP {response.status_code}")
                with dest.open("wb") as out:
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > MAX_RESULT_BYTES:
                            raise UpstreamError("bad_request", "the result is over 1 GiB")
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise UpstreamError("unavailable", f"result download: {_describe(exc)}") from exc

    def close(self) -> None:
        self._http.close()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})"
    return f"{type(exc).__name__}: {exc}"
