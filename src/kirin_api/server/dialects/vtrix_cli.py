"""The Vtrix CLI's dialect: the Kirin API as the vendor's own command-line client speaks it.

The CLI differs from the Kirin contract in three ways, all handled here:

- it submits ``{"model": id, "input": [{"params": {...}}]}`` (:func:`unwrap_input_envelope`,
  applied by the Kirin create route to every body: the shape is unambiguous);
- it reads model specs from a public spec service, ``GET /api/v1/skill/models`` and
  ``GET /api/v1/skill/models/{id}/spec``, in a ``{"data", "status": {"code", "message"}}``
  envelope (it reads the envelope's code, not the HTTP status), derived here from the same JSON
  Schemas as ``GET /model/v1/models``;
- it decodes ``output[].content[].duration`` into a Go ``string`` and treats only ``completed``
  and ``failed`` as final: requests that identify as the CLI (``X-Source: cli`` or a
  ``User-Agent`` starting ``vtrix-cli/``) get the task object with ``duration`` as a decimal
  string and a cancelled task as ``failed`` (:func:`render_for`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from kirin_api.contract.errors import InvalidParameter, NotFound, RequestError
from kirin_api.contract.registry import model_schemas
from kirin_api.server.dialects.base import Dialect
from kirin_api.server.dialects.vtrix_spec import model_spec, model_summary

CLI_USER_AGENT_PREFIX = "vtrix-cli/"
CANCELLED_MESSAGE = "task was cancelled"
PREFIX = "/api/v1/skill/"

router = APIRouter(prefix="/api/v1/skill", tags=["vtrix-cli"])


# --- requests ------------------------------------------------------------------------------


def unwrap_input_envelope(body: object) -> object:
    """The flat Kirin body of a body in the CLI's envelope; any other body unchanged.

    A body whose keys are exactly ``model`` and ``input`` is the envelope: ``input`` must then
    be a list of one object whose only key is ``params``, an object of the flat parameters.
    """
    if not isinstance(body, dict) or set(body) != {"model", "input"}:
        return body
    blocks = body["input"]
    if (
        not isinstance(blocks, list)
        or len(blocks) != 1
        or not isinstance(blocks[0], dict)
        or set(blocks[0]) != {"params"}
        or not isinstance(blocks[0]["params"], dict)
    ):
        raise InvalidParameter(
            'input must be a list of one object {"params": {...}} holding the model\'s '
            "parameters (the Vtrix CLI's envelope), or leave input out and send the "
            "parameters flat beside model",
            param="input",
        )
    params: dict[str, Any] = blocks[0]["params"]
    if "model" in params:
        raise InvalidParameter(
            "input.0.params must not repeat model; it is given beside input", param="input"
        )
    return {"model": body["model"], **params}


def is_cli_request(request: Request) -> bool:
    return request.headers.get("x-source", "").lower() == "cli" or request.headers.get(
        "user-agent", ""
    ).startswith(CLI_USER_AGENT_PREFIX)


# --- task objects ----------------------------------------------------------------------------


def for_cli(task: dict[str, Any]) -> dict[str, Any]:
    """The Kirin task object as the CLI decodes it (see the module docstring)."""
    shaped = dict(task)
    if shaped["status"] == "cancelled":
        shaped["status"] = "failed"
        shaped["error"] = {
            "code": "cancelled",
            "message": CANCELLED_MESSAGE,
            "error_message": CANCELLED_MESSAGE,
        }
    if "output" in shaped:
        shaped["output"] = [
            {**group, "content": [_duration_as_text(item) for item in group["content"]]}
            for group in shaped["output"]
        ]
    return shaped


def _duration_as_text(item: dict[str, Any]) -> dict[str, Any]:
    duration = item.get("duration")
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        return item
    return {**item, "duration": decimal_text(float(duration))}


def decimal_text(seconds: float) -> str:
    """``5.0`` -> ``"5"``, ``3.5`` -> ``"3.5"``: the shortest decimal, never an exponent."""
    if math.isfinite(seconds) and seconds == int(seconds):
        return str(int(seconds))
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def render_for(request: Request) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """How the Kirin task routes shape a task object for this request's client."""
    return for_cli if is_cli_request(request) else _unchanged


def _unchanged(task: dict[str, Any]) -> dict[str, Any]:
    return task


# --- the spec service ------------------------------------------------------------------------


def _envelope(data: Any, code: int = 200, message: str = "ok") -> JSONResponse:
    return JSONResponse(
        {"data": data, "status": {"code": code, "message": message}},
        status_code=code if code >= 400 else 200,
    )


def render_error(error: RequestError, request: Request) -> JSONResponse:
    return _envelope(None, error.status, error.message)


def _generation_endpoint(request: Request) -> str:
    public_url: str | None = request.app.state.context.public_url
    return (public_url or str(request.base_url).rstrip("/")) + "/model/v1/generation"


@router.get("/models", summary="Models, as the Vtrix CLI lists them (no key needed)")
async def vtrix_list_models(
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    type: str | None = None,  # the CLI's own query parameter name
    keywords: str | None = None,
) -> JSONResponse:
    models = [model_summary(schema) for schema in model_schemas()]
    if type:
        models = [m for m in models if m["type"] == type]
    if keywords:
        words = keywords.lower().split()
        models = [
            m
            for m in models
            if all(w in f"{m['id']} {m['name']} {m['description']}".lower() for w in words)
        ]
    start = (page - 1) * page_size
    return _envelope(
        {
            "models": models[start : start + page_size],
            "total": len(models),
            "page": page,
            "page_size": page_size,
            "total_pages": math.ceil(len(models) / page_size),
        }
    )


@router.get("/models/{model_id}/spec", summary="One model's spec, as the Vtrix CLI reads it")
async def vtrix_model_spec(model_id: str, request: Request) -> JSONResponse:
    for schema in model_schemas():
        if schema["id"] == model_id:
            return _envelope(model_spec(schema, _generation_endpoint(request)))
    served = ", ".join(s["id"] for s in model_schemas())
    raise NotFound(f"no model {model_id!r}; this server serves: {served}", param="model_id")


DIALECT = Dialect(
    name="vtrix_cli",
    routers=[router],
    path_prefixes=(PREFIX,),
    render_error=render_error,
)
