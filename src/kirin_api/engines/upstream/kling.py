"""The official Kling API (legacy v1 paths) as an upstream: JWTs from an access-key pair,
Kling's envelope and codes, tasks found again by ``external_task_id`` in the path (as Kling's
docs allow). Kling's API has no cancel: a task cancelled here runs (and is billed) upstream."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from kirin_api.contract.job import RenderJob
from kirin_api.contract.kling_products import NATURAL_MODEL_NAME, product_of
from kirin_api.contract.tokens import sign_token
from kirin_api.engines.upstream.client import ErrorKind, UpstreamClient, UpstreamError
from kirin_api.engines.upstream.relay import Remote, RemoteState

# A token lives this long and is renewed this long before it expires.
TOKEN_LIFETIME = 1800.0
TOKEN_RENEW_BEFORE = 300.0
_STATES: dict[str, RemoteState] = {
    "submitted": "waiting",
    "processing": "running",
    "succeed": "done",
    "failed": "failed",
}


def _kind(code: int, status: int) -> ErrorKind:
    if 1000 <= code <= 1004 or 1100 <= code <= 1103 or code == 1304:
        return "credentials"
    if code in (1200, 1201):
        return "bad_request"
    if code in (1202, 1203):
        return "not_found"
    if code in (1300, 1301):
        return "refused"
    if code in (1302, 1303) or status == 429:
        return "busy"
    if status in (401, 403):
        return "credentials"
    if status == 404:
        return "not_found"
    if status >= 500 or 5000 <= code <= 5999:
        return "unavailable"
    return "bad_request"


def classify(response: httpx.Response) -> tuple[ErrorKind, str] | None:
    """Kling answers ``{"code": 0, ...}`` on success; anything else is an error by its code."""
    try:
        body = response.json()
    except ValueError:
        return None if response.status_code < 400 else ("unavailable", _status(response))
    code = body.get("code") if isinstance(body, dict) else None
    if response.status_code < 400 and code == 0:
        return None
    number = code if isinstance(code, int) else 0
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    return _kind(number, response.status_code), f"Kling code {number}: {message}"


def _status(response: httpx.Response) -> str:
    return f"HTTP {response.status_code}"


class KlingDialect:
    def __init__(
        self, access_key: str, secret_key: str, model_name: str | None, model: str
    ) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._product = product_of(model)
        self._model_name = model_name or NATURAL_MODEL_NAME[model]
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def headers(self) -> dict[str, str]:
        """A cached token, signed again shortly before it expires."""
        now = time.time()
        with self._lock:
            if self._token is None or self._token[1] - now < TOKEN_RENEW_BEFORE:
                token = sign_token(self._access_key, self._secret_key, now, TOKEN_LIFETIME)
                self._token = (token, now + TOKEN_LIFETIME)
            return {"Authorization": f"Bearer {self._token[0]}"}

    def find(self, client: UpstreamClient, job: RenderJob) -> Remote | None:
        try:
            body = client.request(
                "GET", f"{self._product.path}/{job.task_id}", headers=self.headers()
            )
        except UpstreamError as exc:
            if exc.kind == "not_found":
                return None
            raise
        return self._remote(body["data"])

    def create(self, client: UpstreamClient, job: RenderJob, params: dict[str, Any]) -> Remote:
        body = kling_body(params, self._model_name if self._product.model_names else None)
        answer = client.request("POST", self._product.path, headers=self.headers(), json=body)
        return self._remote(answer["data"])

    def read(self, client: UpstreamClient, job: RenderJob, remote: Remote) -> Remote:
        body = client.request("GET", f"{self._product.path}/{remote.id}", headers=self.headers())
        return self._remote(body["data"])

    def cancel(self, client: UpstreamClient, job: RenderJob, remote: Remote) -> None:
        return None  # Kling's v1 API cannot cancel a task

    @staticmethod
    def _remote(data: dict[str, Any]) -> Remote:
        state = _STATES.get(str(data.get("task_status")), "running")
        result = data.get("task_result") or {}
        videos = result.get("videos") or []
        elements = result.get("elements") or []
        return Remote(
            id=str(data["task_id"]),
            state=state,
            progress={"waiting": 0.0, "running": 0.1}.get(state),
            message=str(data.get("task_status_msg") or ""),
            video_url=videos[0].get("url") if videos else None,
            watermark_url=videos[0].get("watermark_url") if videos else None,
            element_id=str(elements[0]["element_id"]) if elements else None,
            cost=data.get("final_unit_deduction"),
        )


def kling_body(params: dict[str, Any], model_name: str | None) -> dict[str, Any]:
    """Kling's body for the relayed parameters: durations as strings (as Kling types them),
    its element video list shape, and the ``model_name``."""
    body = dict(params)
    if model_name is not None:
        body["model_name"] = model_name
    if "duration" in body:
        body["duration"] = str(body["duration"])
    if "multi_prompt" in body:
        body["multi_prompt"] = [
            {**shot, "duration": str(shot["duration"])} for shot in body["multi_prompt"]
        ]
    videos = body.get("element_video_list")
    if isinstance(videos, dict) and "video_url" in videos:
        body["element_video_list"] = {"refer_videos": [{"video_url": videos["video_url"]}]}
    return body
