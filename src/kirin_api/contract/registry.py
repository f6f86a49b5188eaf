"""The models this server serves, and the one door through which a request body becomes a task.

The server calls :func:`validate_request` on every ``POST /model/v1/generation`` body and
:func:`model_schemas` for ``GET /model/v1/models``; the worker calls :func:`output_spec` and
:func:`render_seed`. Media pass through three more calls, in this order:

1. :func:`media_refs` lists every image and video of a validated request, with its dotted
   ``param`` and the rules it must meet; ``kirin_api.media`` decodes each one (base64 at submit,
   URLs in the worker after fetching) and checks it against those rules;
2. :func:`check_media_relations` checks the rules *between* media, and between media and
   parameters, on what decoding found (``MediaFacts`` keyed by ``MediaRef.param``); it skips any
   rule whose facts are not known yet, so it can run at submit on the base64 media and again in
   the worker on all of them;
3. :func:`output_spec` gives the exact video to render; models whose size or length follows
   their inputs need the facts (``ValueError`` otherwise). :func:`produces_video` is false for
   ``kirin_custom_elements``, which creates a subject, not a video.

Adding a model is one module with a :class:`ModelContract` and the functions ``media_refs``,
``check_media_relations`` and ``output_spec`` (see ``i2v.py``), and one entry in ``_MODELS``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from kirin_api.contract import (
    custom_elements,
    i2v,
    motion_control,
    multi_i2v,
    t2v,
    v3_i2v,
)
from kirin_api.contract.common import KirinRequest, ModelContract
from kirin_api.contract.errors import InvalidMedia, InvalidParameter, InvalidRequest
from kirin_api.contract.inputs import INVALID_MEDIA_FLAG
from kirin_api.contract.job import OutputSpec
from kirin_api.contract.media import MediaFacts, MediaRef
from kirin_api.contract.messages import COMMON_FIELDS, describe_value, translate_validation_error

__all__ = [
    "KNOWN_MODELS",
    "ValidatedRequest",
    "check_media_relations",
    "contract_for",
    "media_refs",
    "model_schemas",
    "output_spec",
    "produces_video",
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


Params = Mapping[str, Any]
Facts = Mapping[str, MediaFacts]


@dataclass(frozen=True)
class _Model:
    """A served model: its contract and the functions on its media and its output."""

    contract: ModelContract
    media_refs: Callable[[Params], list[MediaRef]]
    check_media_relations: Callable[[Params, Facts], None]
    output_spec: Callable[[Params, Facts | None], OutputSpec]
    produces_video: bool = True
    # Applied to the dumped params: takes ignored parameters out (kirin_v3_i2v).
    normalise: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def _no_media(params: Params) -> list[MediaRef]:
    return []


def _no_relations(params: Params, facts: Facts) -> None:
    return None


def _t2v_output_spec(params: Params, facts: Facts | None) -> OutputSpec:
    return t2v.output_spec(dict(params))


# One entry per served model, in the order /model/v1/models lists them.
_MODELS: list[_Model] = [
    _Model(t2v.CONTRACT, _no_media, _no_relations, _t2v_output_spec),
    _Model(i2v.CONTRACT, i2v.media_refs, i2v.check_media_relations, i2v.output_spec),
    _Model(
        multi_i2v.CONTRACT,
        multi_i2v.media_refs,
        multi_i2v.check_media_relations,
        multi_i2v.output_spec,
    ),
    _Model(
        v3_i2v.CONTRACT,
        v3_i2v.media_refs,
        v3_i2v.check_media_relations,
        v3_i2v.output_spec,
        normalise=v3_i2v.normalise,
    ),
    _Model(
        motion_control.CONTRACT,
        motion_control.media_refs,
        motion_control.check_media_relations,
        motion_control.output_spec,
    ),
    _Model(
        custom_elements.CONTRACT,
        custom_elements.media_refs,
        custom_elements.check_media_relations,
        custom_elements.output_spec,
        produces_video=False,
    ),
]
_CONTRACTS: list[ModelContract] = [model.contract for model in _MODELS]
_SERVED: dict[str, ModelContract] = {contract.id: contract for contract in _CONTRACTS}
_BY_ID: dict[str, _Model] = {model.contract.id: model for model in _MODELS}

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

    Raises ``InvalidRequest`` when the body is not a JSON object, ``InvalidMedia`` for an image
    given as a ``data:`` URI (the message says to strip the prefix), and ``InvalidParameter``
    (with ``param`` the dotted path at fault) for everything else: a missing, unknown or unserved
    ``model``, and any parameter that breaks its model's rules. Media are only checked for their
    shape here (URL or base64); decoding them is ``kirin_api.media``'s, with :func:`media_refs`.
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
    request = _parse(contract, {key: value for key, value in body.items() if key != "model"})
    params = request.model_dump(mode="json", exclude_none=True)
    normalise = _BY_ID[model].normalise
    if normalise is not None:
        params = normalise(params)
    return ValidatedRequest(
        model=model,
        params=params,
        external_task_id=request.external_task_id,
        callback_url=request.callback_url,
        watermark=request.watermark_info.enabled,
    )


def _parse(contract: ModelContract, params: dict[str, Any]) -> KirinRequest:
    """``contract.parse``, except that a rule marked as a media rule becomes ``InvalidMedia``."""
    try:
        return contract.request.model_validate(params)
    except ValidationError as exc:
        translated = translate_validation_error(exc, contract.request, root_name=contract.id)
        # The error the translator reported: the same order as its own (unknown names first;
        # the sort is stable).
        errors = sorted(
            exc.errors(include_url=False), key=lambda e: 0 if e["type"] == "extra_forbidden" else 1
        )
        if (errors[0].get("ctx") or {}).get(INVALID_MEDIA_FLAG):
            raise InvalidMedia(translated.message, param=translated.param) from None
        raise translated from None


def _model(model: str) -> _Model:
    return _BY_ID[contract_for(model).id]


def produces_video(model: str) -> bool:
    """Whether ``model``'s tasks make a video (``kirin_custom_elements`` makes a subject)."""
    return _model(model).produces_video


def media_refs(model: str, params: Mapping[str, Any]) -> list[MediaRef]:
    """Every image and video of a validated request, in parameter order, each with its dotted
    ``param`` (``image``, ``dynamic_masks.0.mask``, ``image_list.2.image``,
    ``element_image_list.refer_images.1.image_url`` ...), its value (an http(s) URL, or raw base64
    for images) and the rules its model's seed gives it (:class:`ImageRules` /
    :class:`VideoRules`). Empty for a model without media (``kirin_v1_t2v``).
    """
    return _model(model).media_refs(params)


def check_media_relations(
    model: str, params: Mapping[str, Any], facts: Mapping[str, MediaFacts]
) -> None:
    """Check the rules that relate media to each other or to parameters, on decoded ``facts``
    (keyed by ``MediaRef.param``); each media's own rules are ``kirin_api.media``'s.

    Pure: only the facts and the validated params are read. A rule whose facts are not all in
    ``facts`` is skipped, so this can run at submit (base64 media) and again in the worker (all
    media). Raises ``InvalidMedia`` naming the medium at fault and the rule (a mask whose aspect
    differs from the image's, masks of different resolutions, a reference video too long for the
    ``character_orientation``), or ``InvalidParameter`` where a parameter is at fault (a
    trajectory point outside the image: ``param`` = ``dynamic_masks.N.trajectories``). In the
    worker the same errors become the task's ``...099`` failure.
    """
    _model(model).check_media_relations(params, facts)


def output_spec(
    model: str, params: Mapping[str, Any], facts: Mapping[str, MediaFacts] | None = None
) -> OutputSpec:
    """The video a validated request of ``model`` must produce (size, fps, frames, audio).

    ``kirin_v1_t2v`` and ``kirin_v1_6_multi_i2v`` need no ``facts``. ``kirin_v1_i2v`` and
    ``kirin_v3_i2v`` take their aspect ratio from their image (``facts["image"]``, or
    ``facts["image_tail"]`` where only a tail frame is given), ``kirin_v3_motion_control`` from
    ``facts["image_url"]`` and its length and audio from ``facts["video_url"]``: without those
    facts they raise ``ValueError`` saying which are missing. ``kirin_custom_elements`` makes no
    video and always raises ``ValueError`` (ask :func:`produces_video` first).
    """
    return _model(model).output_spec(params, facts)


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
