"""The models this server serves, and the one door through which a request body becomes a task.

The server calls :func:`validate_request` on every ``POST /model/v1/generation`` body and
:func:`model_schemas` for ``GET /model/v1/models``; the worker calls :func:`output_spec` and
:func:`render_seed`. Adding a model is one module with a :class:`ModelContract` (see
``t2v.py``) and one line in ``_CONTRACTS`` below.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from kirin_api.contract import t2v
from kirin_api.contract.common import COMMON_FIELDS, ModelContract, describe_value
from kirin_api.contract.errors import InvalidParameter, InvalidRequest
from kirin_api.contract.job import OutputSpec

__all__ = [
    "KNOWN_MODELS",
    "ValidatedRequest",
    "contract_for",
    "model_schemas",
    "output_spec",
    "render_seed",
    "served_models",
    "validate_request",
]

# Every model id of the Kirin API (API.md "Models"), served here or not: a known id that is not
# served yet gets a different message from a typo.
KNOWN_MODELS: tuple[str, ...] = (
    "kirin_v1_t2v",
    "kirin_v1_i2v",
    "kirin_v1_6_multi_i2v",
    "kirin_v3_i2v",
    "kirin_v3_motion_control",
    "kirin_custom_elements",
)

# One line per served model, in the order /model/v1/models lists them.
_CONTRACTS: list[ModelContract] = [
    t2v.CONTRACT,
]
_SERVED: dict[str, ModelContract] = {contract.id: contract for contract in _CONTRACTS}

# Parameters that change how a result is delivered, not what is rendered: left out of the seed.
_DELIVERY_PARAMS: frozenset[str] = frozenset(COMMON_FIELDS)

_SEED_MASK = (1 << 63) - 1


@dataclass(frozen=True)
class ValidatedRequest:
    """A request that passed its model's contract.

    ``params`` is the normalised request without ``model``: defaults filled in, numbers-as-strings
    turned into ints, parameters given as ``null`` (or not at all, where there is no default)
    left out, JSON-serialisable, and stable: validating ``{"model": model, **params}`` again gives
    the same ``params``. It still holds ``watermark_info`` and, where given, ``callback_url`` and
    ``external_task_id``; those are also lifted out below for the store.
    """

    model: str
    params: dict[str, Any]
    external_task_id: str | None
    callback_url: str | None
    watermark: bool


def served_models() -> list[str]:
    """The model ids this server serves, in listing order."""
    return list(_SERVED)


def contract_for(model: str) -> ModelContract:
    """The contract of a served model, or ``InvalidParameter(param="model")`` saying why not."""
    contract = _SERVED.get(model)
    if contract is not None:
        return contract
    served = ", ".join(_SERVED)
    if model in KNOWN_MODELS:
        raise InvalidParameter(
            f"model {model!r} is not served by this server yet; it serves: {served}",
            param="model",
        )
    raise InvalidParameter(
        f"model must be one of the models this server serves: {served}; "
        f"got {describe_value(model)}",
        param="model",
    )


def validate_request(body: object) -> ValidatedRequest:
    """Check a parsed JSON body against its model's contract and normalise it.

    Raises ``InvalidRequest`` when the body is not a JSON object, and ``InvalidParameter`` (with
    ``param`` the dotted path at fault) for everything else: a missing, unknown or unserved
    ``model``, and any parameter that breaks its model's rules.
    """
    if not isinstance(body, dict):
        raise InvalidRequest("body must be a JSON object")
    if "model" not in body or body["model"] is None:
        raise InvalidParameter(
            f"model is required; this server serves: {', '.join(_SERVED)}", param="model"
        )
    model = body["model"]
    if not isinstance(model, str):
        raise InvalidParameter(
            f"model must be a string, one of: {', '.join(_SERVED)}; got {describe_value(model)}",
            param="model",
        )
    contract = contract_for(model)
    request = contract.parse({key: value for key, value in body.items() if key != "model"})
    params = request.model_dump(mode="json", exclude_none=True)
    return ValidatedRequest(
        model=model,
        params=params,
        external_task_id=request.external_task_id,
        callback_url=request.callback_url,
        watermark=request.watermark_info.enabled,
    )


def output_spec(model: str, params: dict[str, Any]) -> OutputSpec:
    """The video a validated request of ``model`` must produce (size, fps, frames, audio)."""
    return contract_for(model).output_spec(params)


def model_schemas() -> list[dict[str, Any]]:
    """The served models for ``GET /model/v1/models``, each with the JSON Schema of its body.

    The schema is draft 2020-12 and describes the whole body, ``model`` included: types, enums,
    ranges, lengths, defaults, ``required``, ``additionalProperties: false``, and the rules between
    fields that JSON Schema can say (``if``/``then``, ``oneOf``).
    """
    return [
        {
            "id": contract.id,
            "object": "model",
            "description": contract.description,
            "parameters": _body_schema(contract),
        }
        for contract in _SERVED.values()
    ]


def _body_schema(contract: ModelContract) -> dict[str, Any]:
    schema = copy.deepcopy(contract.request.model_json_schema())
    properties: dict[str, Any] = schema.get("properties", {})
    # Model's own parameters first, the shared ones last: the order a reader wants.
    ordered: dict[str, Any] = {
        "model": {"type": "string", "const": contract.id, "description": "Model id"}
    }
    ordered.update({k: v for k, v in properties.items() if k not in COMMON_FIELDS})
    ordered.update({k: v for k, v in properties.items() if k in COMMON_FIELDS})
    schema["properties"] = ordered
    schema["required"] = ["model", *schema.get("required", [])]
    schema["title"] = contract.id
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def render_seed(model: str, params: dict[str, Any]) -> int:
    """A deterministic 63-bit seed for a validated request: the same request renders the same video.

    It hashes a canonical JSON (sorted keys, no spaces) of the model id and the creative
    parameters, leaving out those that only change delivery (``callback_url``,
    ``external_task_id``, ``watermark_info``). ``params`` must be normalised (as in
    ``ValidatedRequest.params``) so that ``"5"`` and ``5``, or a default given and left out,
    give the same seed.
    """
    creative = {key: value for key, value in params.items() if key not in _DELIVERY_PARAMS}
    canonical = json.dumps(
        {"model": model, "params": creative},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") & _SEED_MASK
