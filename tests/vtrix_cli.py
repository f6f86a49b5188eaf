"""The Vtrix CLI's wire behaviour, reproduced from its public source (VtrixAI/vtrix-cli,
``internal/models``, ``internal/generation``, ``cmd/run.go``) to drive this server as it does.

- Spec service: ``GET {models_url}/api/v1/skill/models[/{id}/spec]`` with only ``User-Agent:
  vtrix-cli/<version>`` and ``X-Source: cli``; it reads the ``{"data", "status"}`` envelope and
  ignores the HTTP status.
- Params: built only from the spec's parameters (others dropped), coerced by ``type``, enums
  checked against the raw text, objects with ``children`` from dotted names.
- Submit: ``POST spec.api.endpoint`` with ``{"model", "input": [{"params"}]}``; poll
  ``{endpoint}/task/{id}`` every few seconds until ``completed`` or ``failed`` (nothing else is
  final); ``vtrix task status`` reads ``{generation_url}/model/v1/generation/task/{id}`` once.
- Answers are decoded as its Go structs do: a field of the wrong JSON type is an error
  (``json: cannot unmarshal number into ... of type string``), see :func:`decode_task`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

USER_AGENT = "vtrix-cli/1.0.1"
FINAL = ("completed", "failed")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


class CliError(Exception):
    """What the CLI would print and exit 1 with."""


def _spec_headers() -> dict[str, str]:
    return {"User-Agent": USER_AGENT, "X-Source": "cli"}


def coerce(
    parameters: list[dict[str, Any]], raw: dict[str, str], prefix: str = ""
) -> dict[str, Any]:
    """``ValidateAndCoerce``: the request params from ``--param k=v`` strings."""
    out: dict[str, Any] = {}
    for p in parameters:
        name = p["name"]
        key = prefix + name
        kind = p["type"]
        if kind == "object" and p.get("children"):
            nested = {k: v for k, v in raw.items() if k.startswith(key + ".")}
            if not nested:
                if p["required"]:
                    raise CliError(f'missing required parameter: "{key}"')
                continue
            out[name] = coerce(p["children"], raw, key + ".")
            continue
        if key not in raw:
            if p["required"]:
                raise CliError(f'missing required parameter: "{key}"')
            continue
        out[name] = _coerce_value(p, raw[key])
    return out


def _coerce_value(p: dict[str, Any], value: str) -> Any:
    constraints = p.get("constraints") or {}
    enum = constraints.get("enum")
    if enum and value not in enum:
        raise CliError(f'"{value}" is not allowed. Allowed values: {", ".join(enum)}')
    kind = p["type"]
    if kind == "array" or kind.startswith("array["):
        items = json.loads(value)
        if not isinstance(items, list):
            raise CliError(f"expected a JSON array ({p['name']})")
        return items
    if kind in ("int", "integer"):
        return int(value)
    if kind in ("float", "number"):
        return float(value)
    if kind in ("bool", "boolean"):  # Go's strconv.ParseBool
        if value not in _TRUE + _FALSE:
            raise CliError(f'invalid value for parameter "{p["name"]}": not a boolean')
        return value in _TRUE
    return value


def decode_task(body: Any) -> dict[str, Any]:
    """The Go ``TaskStatus`` decode: the fields it reads must have its types."""
    expect: dict[str, type | tuple[type, ...]] = {
        "id": str,
        "status": str,
        "model": str,
        "created_at": int,
        "progress": (int, float),
    }
    for name, kind in expect.items():
        if name in body and body[name] is not None and not isinstance(body[name], kind):
            raise CliError(f"json: cannot unmarshal into TaskStatus.{name}: {body[name]!r}")
    for group in body.get("output") or []:
        for item in group["content"]:
            for name in ("type", "url", "duration", "id"):
                if name in item and not isinstance(item[name], str):
                    raise CliError(
                        f"json: cannot unmarshal {type(item[name]).__name__} into Go struct "
                        f"field OutputContent.output.content.{name} of type string"
                    )
    usage = body.get("usage")
    if usage is not None:
        for name in ("cost", "unit_price"):
            if name in usage and not isinstance(usage[name], str):
                raise CliError(f"json: cannot unmarshal into UsageInfo.{name}")
    error = body.get("error")
    if error is not None and not isinstance(error, str | dict):
        raise CliError("json: cannot unmarshal TaskError")
    decoded: dict[str, Any] = body
    return decoded


def error_message(task: dict[str, Any]) -> str:
    error = task.get("error")
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        return str(error.get("error_message") or error.get("message") or "unknown error")
    return "unknown error"


@dataclass
class VtrixCli:
    models_url: str  # VTRIX_MODELS_URL
    generation_url: str  # VTRIX_GENERATION_URL
    api_key: str
    poll_interval: float = 0.2  # the CLI waits 5 s; tests need not

    def _get_envelope(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = httpx.get(
            self.models_url + path, params=params, headers=_spec_headers(), timeout=15
        )
        body = response.json()
        code = body["status"]["code"]
        if code not in (0, 200):
            raise CliError(f"status {code}: {body['status']['message']}")
        return body["data"]

    def models(self, **query: Any) -> dict[str, Any]:
        data: dict[str, Any] = self._get_envelope("/api/v1/skill/models", query or None)
        return data

    def spec(self, model_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self._get_envelope(f"/api/v1/skill/models/{model_id}/spec")
        return data

    def _headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.api_key}",
            **_spec_headers(),
        }

    def submit(self, model_id: str, raw: dict[str, str]) -> tuple[str, dict[str, Any]]:
        """``vtrix run`` up to the submit: the task id and the spec."""
        spec = self.spec(model_id)
        params = coerce(spec["parameters"], raw)
        body = {"model": model_id, "input": [{"params": params}]}
        response = httpx.post(
            spec["api"]["endpoint"], content=json.dumps(body), headers=self._headers(), timeout=30
        )
        if response.status_code >= 400:
            raise CliError(f"HTTP {response.status_code}: {response.text}")
        created = decode_task(response.json())
        if not created.get("id"):
            raise CliError(error_message(created))
        return str(created["id"]), spec

    def run(self, model_id: str, raw: dict[str, str], timeout: float = 120) -> dict[str, Any]:
        """``vtrix run``: submit, then poll the spec's endpoint until a final status."""
        task_id, spec = self.submit(model_id, raw)
        url = spec["api"]["endpoint"].rstrip("/") + f"/task/{task_id}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = decode_task(httpx.get(url, headers=self._headers(), timeout=30).json())
            if task["status"] in FINAL:
                return task
            time.sleep(self.poll_interval)
        raise CliError(f"task {task_id} timed out waiting for result")

    def task_status(self, task_id: str) -> dict[str, Any]:
        """``vtrix task status``: one read, decoded strictly."""
        url = self.generation_url.rstrip("/") + f"/model/v1/generation/task/{task_id}"
        response = httpx.get(url, headers=self._headers(), timeout=30)
        if response.status_code >= 400:
            raise CliError(f"HTTP {response.status_code}: {response.text}")
        return decode_task(response.json())
