"""Any server of the Kirin contract as an upstream (the vendor's, or another kirin-api): the
same model ids and parameters, an API key, progress passed through, and a cancel that works."""

from __future__ import annotations

from typing import Any

import httpx

from kirin_api.contract.errors import TaskErrorKind
from kirin_api.contract.job import RenderJob
from kirin_api.engines.upstream.client import ErrorKind, UpstreamClient, UpstreamError
from kirin_api.engines.upstream.relay import Remote, RemoteState

_KINDS: dict[str, ErrorKind] = {
    "invalid_request": "bad_request",
    "invalid_parameter": "bad_request",
    "invalid_media": "bad_request",
    "payload_too_large": "bad_request",
    "unauthorized": "credentials",
    "forbidden": "credentials",
    "insufficient_balance": "credentials",
    "not_found": "not_found",
    "conflict": "conflict",
    "too_many_requests": "busy",
}
_STATES: dict[str, RemoteState] = {
    "pending": "waiting",
    "processing": "running",
    "completed": "done",
    "failed": "failed",
    "cancelled": "failed",
}


def classify(response: httpx.Response) -> tuple[ErrorKind, str] | None:
    if response.status_code < 400:
        return None
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError):
        code, message = "", response.text[:200]
    kind = _KINDS.get(code)
    if kind is None:
        kind = "busy" if response.status_code == 429 else "unavailable"
        if 400 <= response.status_code < 500 and response.status_code != 429:
            kind = "bad_request"
    return kind, f"HTTP {response.status_code} {code}: {message}"


class KirinDialect:
    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    def find(self, client: UpstreamClient, job: RenderJob) -> Remote | None:
        params = {"external_task_id": job.task_id, "model": job.model, "limit": 1}
        page = client.request(
            "GET", "/model/v1/generation/tasks", headers=self.headers(), params=params
        )
        tasks = page.get("data") or []
        return self._remote(tasks[0]) if tasks else None

    def create(self, client: UpstreamClient, job: RenderJob, params: dict[str, Any]) -> Remote:
        body = {"model": job.model, **params}
        task = client.request("POST", "/model/v1/generation", headers=self.headers(), json=body)
        return self._remote(task)

    def read(self, client: UpstreamClient, job: RenderJob, remote: Remote) -> Remote:
        task = client.request(
            "GET", f"/model/v1/generation/task/{remote.id}", headers=self.headers()
        )
        return self._remote(task)

    def cancel(self, client: UpstreamClient, job: RenderJob, remote: Remote) -> None:
        try:
            client.request(
                "POST",
                f"/model/v1/generation/task/{remote.id}/cancel",
                headers=self.headers(),
                retry=False,
            )
        except UpstreamError as exc:
            if exc.kind != "conflict":  # already finished upstream: nothing to cancel
                raise

    @staticmethod
    def _remote(task: dict[str, Any]) -> Remote:
        status = str(task.get("status"))
        state = _STATES.get(status, "running")
        error = task.get("error") or {}
        code = str(error.get("code") or "")
        message = str(error.get("message") or error.get("error_message") or "")
        if status == "cancelled":
            message = "the upstream task was cancelled there"
        content = ((task.get("output") or [{}])[0].get("content") or [{}])[0]
        usage = task.get("usage") or {}
        return Remote(
            id=str(task["id"]),
            state=state,
            progress=float(task.get("progress") or 0.0),
            message=f"{message} (upstream code {code})" if code else message,
            failure=_failure_kind(code),
            video_url=content.get("url"),
            watermark_url=content.get("watermark_url"),
            element_id=str(content["element_id"]) if "element_id" in content else None,
            cost=usage.get("cost"),
        )


def _failure_kind(code: str) -> TaskErrorKind:
    """The upstream's nine-digit code says which kind of failure it was; keep the kind."""
    try:
        return TaskErrorKind(code[-3:])
    except ValueError:
        return TaskErrorKind.INTERNAL
