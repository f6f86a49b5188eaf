"""The registry: served models, their JSON Schemas, render seeds.

The schema test goes beyond shape: a small JSON Schema evaluator (the subset the schemas use) is
run against random bodies, and must accept exactly the bodies the contract accepts.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kirin_api.contract.errors import InvalidMedia, InvalidParameter
from kirin_api.contract.registry import (
    KNOWN_MODELS,
    contract_for,
    model_schemas,
    render_seed,
    served_models,
    validate_request,
)

from . import (
    test_custom_elements_contract,
    test_i2v_contract,
    test_motion_control_contract,
    test_multi_i2v_contract,
    test_v3_i2v_contract,
)
from .test_t2v_contract import FAILING, PASSING, _bodies

MODEL = "kirin_v1_t2v"


def schema_of(model: str) -> dict[str, Any]:
    (entry,) = [m for m in model_schemas() if m["id"] == model]
    return entry


def test_served_models() -> None:
    assert served_models() == [
        "kirin_v1_t2v",
        "kirin_v1_i2v",
        "kirin_v1_6_multi_i2v",
        "kirin_v3_i2v",
        "kirin_v3_motion_control",
        "kirin_custom_elements",
    ]
    assert served_models() == list(KNOWN_MODELS)
    assert [m["id"] for m in model_schemas()] == served_models()


@pytest.mark.parametrize("model", list(KNOWN_MODELS))
def test_every_model_has_an_entry(model: str) -> None:
    entry = schema_of(model)
    assert entry["object"] == "model"
    assert entry["description"]
    schema = entry["parameters"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == model
    assert schema["additionalProperties"] is False
    assert schema["required"][0] == "model"
    assert schema["properties"]["model"]["const"] == model
    assert list(schema["properties"])[-3:] == ["watermark_info", "callback_url", "external_task_id"]
    assert contract_for(model).id == model


def test_model_entry_shape() -> None:
    entry = schema_of(MODEL)
    assert entry["object"] == "model"
    assert isinstance(entry["description"], str)
    assert entry["description"]
    json.dumps(model_schemas())  # JSON-serialisable as it is


def test_schema_shape() -> None:
    schema = schema_of(MODEL)["parameters"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["model", "prompt"]
    props = schema["properties"]
    assert list(props) == [
        "model",
        "prompt",
        "negative_prompt",
        "cfg_scale",
        "mode",
        "aspect_ratio",
        "duration",
        "camera_control",
        "watermark_info",
        "callback_url",
        "external_task_id",
    ]
    assert props["model"]["const"] == MODEL
    assert props["prompt"]["minLength"] == 1
    assert props["prompt"]["maxLength"] == 2500
    assert props["cfg_scale"] == {
        **props["cfg_scale"],
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "default": 0.5,
    }
    assert props["mode"]["enum"] == ["std", "pro"]
    assert props["mode"]["default"] == "std"
    assert props["aspect_ratio"]["enum"] == ["16:9", "9:16", "1:1"]
    assert props["aspect_ratio"]["default"] == "16:9"
    assert props["duration"]["default"] == 5
    assert {"type": "string", "enum": ["5", "10"]} in props["duration"]["anyOf"]
    assert {"type": "integer", "enum": [5, 10]} in props["duration"]["anyOf"]
    defs = schema["$defs"]
    for name in ("CameraControl", "CameraConfig", "WatermarkInfo"):
        assert defs[name]["type"] == "object"
        assert defs[name]["additionalProperties"] is False
    axes = defs["CameraConfig"]["properties"]
    assert set(axes) == {"horizontal", "vertical", "pan", "tilt", "roll", "zoom"}
    for axis in axes.values():
        assert (axis["type"], axis["minimum"], axis["maximum"], axis["default"]) == (
            "number",
            -10,
            10,
            0,
        )
    assert defs["CameraControl"]["required"] == ["type"]
    assert defs["WatermarkInfo"]["required"] == ["enabled"]


# ---------------------------------------------------------------------------------------------
# A JSON Schema evaluator for the subset our schemas use (draft 2020-12 semantics)
# ---------------------------------------------------------------------------------------------


def _is_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if kind == "number":
        return True
    return isinstance(value, int) or (math.isfinite(value) and value.is_integer())  # "integer"


def _equal(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        if isinstance(a, bool) or isinstance(b, bool):
            return type(a) is type(b) and a == b
        return bool(a == b)
    return type(a) is type(b) and a == b


KNOWN_KEYWORDS = {
    "$schema", "$defs", "$ref", "title", "description", "default", "format", "type", "enum",
    "const", "minimum", "maximum", "minLength", "maxLength", "pattern", "properties", "required",
    "additionalProperties", "anyOf", "oneOf", "allOf", "not", "if", "then", "else",
    "items", "minItems", "maxItems",
}  # fmt: skip


def valid(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    unknown = set(schema) - KNOWN_KEYWORDS
    assert not unknown, f"evaluator does not know {unknown}"
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        if not valid(value, root["$defs"][name], root):
            return False
    if "type" in schema and not _is_type(value, schema["type"]):
        return False
    if "enum" in schema and not any(_equal(value, e) for e in schema["enum"]):
        return False
    if "const" in schema and not _equal(value, schema["const"]):
        return False
    if _is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            return False
        if "maximum" in schema and value > schema["maximum"]:
            return False
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            return False
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return False
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return False
    if isinstance(value, dict):
        props = schema.get("properties", {})
        if any(key not in value for key in schema.get("required", [])):
            return False
        for key, item in value.items():
            if key in props:
                if not valid(item, props[key], root):
                    return False
            elif schema.get("additionalProperties") is False:
                return False
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            return False
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return False
        if "items" in schema and not all(valid(item, schema["items"], root) for item in value):
            return False
    if "anyOf" in schema and not any(valid(value, s, root) for s in schema["anyOf"]):
        return False
    if "oneOf" in schema and sum(valid(value, s, root) for s in schema["oneOf"]) != 1:
        return False
    if "allOf" in schema and not all(valid(value, s, root) for s in schema["allOf"]):
        return False
    if "not" in schema and valid(value, schema["not"], root):
        return False
    if "if" in schema:
        branch = "then" if valid(value, schema["if"], root) else "else"
        if branch in schema and not valid(value, schema[branch], root):
            return False
    return True


def accepted(body: object) -> bool:
    try:
        validate_request(body)
    except (InvalidParameter, InvalidMedia):
        return False
    return True


@pytest.mark.parametrize("case", PASSING, ids=[c[0] for c in PASSING])
def test_schema_accepts_what_the_contract_accepts(case: tuple[str, dict[str, Any], Any]) -> None:
    schema = schema_of(MODEL)["parameters"]
    assert valid(case[1], schema, schema)


# Refusals the schema does not express: a URL's port is checked by code, not by the pattern;
# NaN is not JSON at all. Bodies that are not objects are not a schema's business.
_NOT_IN_SCHEMA = {"callback bad port", "cfg_scale NaN"}
SCHEMA_FAILING = [c for c in FAILING if isinstance(c[1], dict) and c[0] not in _NOT_IN_SCHEMA]


@pytest.mark.parametrize("case", SCHEMA_FAILING, ids=[c[0] for c in SCHEMA_FAILING])
def test_schema_refuses_what_the_contract_refuses(case: tuple[str, object, Any, Any, Any]) -> None:
    schema = schema_of(MODEL)["parameters"]
    assert not valid(case[1], schema, schema)


@settings(max_examples=400, deadline=None)
@given(_bodies)
def test_schema_agrees_with_the_contract(body: dict[str, Any]) -> None:
    schema = schema_of(MODEL)["parameters"]
    assert valid(body, schema, schema) == accepted(body)


# ---------------------------------------------------------------------------------------------
# Other entry points
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["kirin_v9", "nope", "", "KIRIN_V1_I2V"])
def test_contract_for_unknown(model: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        contract_for(model)
    assert caught.value.param == "model"
    for served in KNOWN_MODELS:
        assert served in caught.value.message


# ---------------------------------------------------------------------------------------------
# Render seed
# ---------------------------------------------------------------------------------------------


def seed_of(**params: Any) -> int:
    validated = validate_request({"model": MODEL, "prompt": "a fox in the snow", **params})
    return render_seed(validated.model, validated.params)


def test_seed_is_stable_and_63_bit() -> None:
    first = seed_of()
    assert first == seed_of()
    assert 0 <= first < 2**63
    # A pinned value: the seed may not depend on the process (hash randomisation), the machine
    # or the release, or the same request would render a different video.
    assert render_seed(MODEL, {"prompt": "x", "duration": 5}) == 8788691168410005800
    assert render_seed(MODEL, {"duration": 5, "prompt": "x"}) == 8788691168410005800


@pytest.mark.parametrize(
    "same",
    [
        {"duration": "5"},
        {"duration": 5},
        {"mode": "std", "cfg_scale": 0.5, "aspect_ratio": "16:9"},
        {"callback_url": "https://example.com/cb"},
        {"external_task_id": "abc"},
        {"watermark_info": {"enabled": True}},
        {"negative_prompt": None},
    ],
)
def test_seed_ignores_delivery_and_spelling(same: dict[str, Any]) -> None:
    assert seed_of(**same) == seed_of()


@pytest.mark.parametrize(
    "different",
    [
        {"prompt": "a fox in the rain"},
        {"negative_prompt": "blur"},
        {"duration": 10},
        {"mode": "pro"},
        {"cfg_scale": 0.6},
        {"aspect_ratio": "1:1"},
        {"camera_control": {"type": "down_back"}},
    ],
)
def test_seed_follows_creative_params(different: dict[str, Any]) -> None:
    assert seed_of(**different) != seed_of()


def test_seed_depends_on_model() -> None:
    params = validate_request({"model": MODEL, "prompt": "p"}).params
    assert render_seed(MODEL, params) != render_seed("kirin_v1_i2v", params)


# ---------------------------------------------------------------------------------------------
# The other models' schemas against their contracts
# ---------------------------------------------------------------------------------------------

_MODULES = {
    "kirin_v1_i2v": test_i2v_contract,
    "kirin_v1_6_multi_i2v": test_multi_i2v_contract,
    "kirin_v3_i2v": test_v3_i2v_contract,
    "kirin_v3_motion_control": test_motion_control_contract,
    "kirin_custom_elements": test_custom_elements_contract,
}

# Refusals that JSON Schema does not express, each found by code alone (documented gaps: the
# schema accepts a little more than the contract, never less):
# - a URL's port, and anything urlsplit refuses that the pattern lets through;
# - a subject id as a 19-digit string above 2**63-1, or as a float too large to be exact;
# - kirin_v3_i2v's multi-shot arithmetic: a shot's index against its place in the list, a shot
#   longer than the video, durations that do not add up to the video's duration.
SCHEMA_GAPS = {
    "image URL bad port",
    "subject id string over 2**63-1",
    "subject id a large float",
    "shot longer than the video",
    "third shot longer than the video",
    "durations add up to less",
    "durations add up to more",
    "durations against the default duration 5",
    "index out of place",
}

_OTHER_PASSING = [
    (model, case[0], case[1]) for model, module in _MODULES.items() for case in module.PASSING
]
_OTHER_FAILING = [
    (model, case[0], case[1])
    for model, module in _MODULES.items()
    for case in module.FAILING
    if isinstance(case[1], dict) and case[0] not in SCHEMA_GAPS
]
_OTHER_GAPS = [
    (model, case[0], case[1])
    for model, module in _MODULES.items()
    for case in module.FAILING
    if case[0] in SCHEMA_GAPS
]


@pytest.mark.parametrize(
    ("model", "case", "body"), _OTHER_PASSING, ids=[f"{m}: {c}" for m, c, _ in _OTHER_PASSING]
)
def test_other_schemas_accept_what_the_contract_accepts(
    model: str, case: str, body: dict[str, Any]
) -> None:
    schema = schema_of(model)["parameters"]
    assert valid(body, schema, schema)
    # ...and so do the normalised params that the store keeps
    params = validate_request(body).params
    assert valid({**params, "model": model}, schema, schema)


@pytest.mark.parametrize(
    ("model", "case", "body"), _OTHER_FAILING, ids=[f"{m}: {c}" for m, c, _ in _OTHER_FAILING]
)
def test_other_schemas_refuse_what_the_contract_refuses(
    model: str, case: str, body: dict[str, Any]
) -> None:
    schema = schema_of(model)["parameters"]
    assert not valid(body, schema, schema)


@pytest.mark.parametrize(
    ("model", "case", "body"), _OTHER_GAPS, ids=[f"{m}: {c}" for m, c, _ in _OTHER_GAPS]
)
def test_schema_gaps_are_only_the_documented_ones(
    model: str, case: str, body: dict[str, Any]
) -> None:
    # Each listed gap really is one (the schema accepts it, the contract refuses it): a gap that
    # the schema closes should leave the list.
    schema = schema_of(model)["parameters"]
    assert valid(body, schema, schema)
    assert not accepted(body)


# Random bodies of the other models: the schema and the contract agree on every one, except on
# kirin_v3_i2v's multi-shot arithmetic (SCHEMA_GAPS), where the schema may only accept more.
_image = st.sampled_from(
    [
        "https://example.com/a.png",
        "AAAA",
        "AA==",
        "AAA",
        "data:image/png;base64,AAAA",
        "",
        "ftp://x",
    ]
)
_video = st.sampled_from(["https://example.com/v.mp4", "AAAA", "http://", "data:video/mp4,AA"])
_maybe: Any = st.one_of(st.none(), st.integers(), st.text(max_size=3))
_element_id = st.one_of(
    st.integers(-2, 2**63 + 1), st.sampled_from(["1", "0", "01", "9223372036854775807", "x"])
)
_elements = st.lists(st.fixed_dictionaries({"element_id": _element_id}), max_size=4)
_point = st.fixed_dictionaries(
    {"x": st.one_of(st.integers(-1, 5), st.floats(-1, 5)), "y": st.integers(-1, 5)}
)
_shot = st.fixed_dictionaries(
    {
        "prompt": st.sampled_from(["a", "", " ", "x" * 513]),
        "duration": st.sampled_from([1, "2", 3, 0, 16]),
    },
    optional={"index": st.integers(0, 7)},
)

_OTHER_BODIES: dict[str, Any] = {
    "kirin_v1_i2v": st.fixed_dictionaries(
        {"model": st.just("kirin_v1_i2v")},
        optional={
            "image": _image,
            "image_tail": st.one_of(st.none(), _image),
            "prompt": st.one_of(st.none(), st.sampled_from(["", " ", "p"])),
            "duration": st.sampled_from([5, 10, "5", "10", 7]),
            "mode": st.sampled_from(["std", "pro", "x"]),
            "cfg_scale": st.one_of(st.floats(-0.5, 1.5), st.booleans()),
            "static_mask": st.one_of(st.none(), _image),
            "dynamic_masks": st.one_of(
                st.none(),
                st.lists(
                    st.fixed_dictionaries(
                        {"mask": _image, "trajectories": st.lists(_point, max_size=3)}
                    ),
                    max_size=7,
                ),
            ),
        },
    ),
    "kirin_v1_6_multi_i2v": st.fixed_dictionaries(
        {"model": st.just("kirin_v1_6_multi_i2v")},
        optional={
            "image_list": st.lists(st.fixed_dictionaries({"image": _image}), max_size=5),
            "prompt": st.one_of(st.none(), st.sampled_from(["", " ", "p"])),
            "aspect_ratio": st.sampled_from(["16:9", "1:1", "4:3"]),
            "duration": st.sampled_from([5, "10", 3]),
            "cfg_scale": st.just(0.5),
        },
    ),
    "kirin_v3_i2v": st.fixed_dictionaries(
        {"model": st.just("kirin_v3_i2v")},
        optional={
            "image": st.one_of(st.none(), _image),
            "image_tail": st.one_of(st.none(), _image),
            "multi_shot": st.one_of(st.booleans(), st.none()),
            "shot_type": st.one_of(st.none(), st.sampled_from(["customize", "auto"])),
            "prompt": st.one_of(st.none(), st.sampled_from(["", " ", "p"])),
            "multi_prompt": st.one_of(st.none(), st.lists(_shot, max_size=7)),
            "element_list": st.one_of(st.none(), _elements),
            "sound": st.sampled_from(["on", "off", "yes"]),
            "duration": st.sampled_from([3, "5", 15, 2, "16"]),
        },
    ),
    "kirin_v3_motion_control": st.fixed_dictionaries(
        {"model": st.just("kirin_v3_motion_control")},
        optional={
            "image_url": _image,
            "video_url": _video,
            "character_orientation": st.sampled_from(["image", "video", "x"]),
            "mode": st.one_of(st.none(), st.sampled_from(["std", "pro"])),
            "element_list": st.one_of(st.none(), _elements),
            "keep_original_sound": st.sampled_from(["yes", "no", True]),
            "prompt": _maybe,
        },
    ),
    "kirin_custom_elements": st.fixed_dictionaries(
        {"model": st.just("kirin_custom_elements")},
        optional={
            "element_name": st.one_of(st.none(), st.text(max_size=22)),
            "element_description": st.one_of(st.none(), st.text(max_size=3)),
            "reference_type": st.sampled_from(["image_refer", "video_refer", "x"]),
            "element_image_list": st.one_of(
                st.none(),
                st.fixed_dictionaries(
                    {"frontal_image": _image},
                    optional={
                        "refer_images": st.lists(
                            st.fixed_dictionaries({"image_url": _image}), max_size=4
                        )
                    },
                ),
            ),
            "element_video_list": st.one_of(
                st.none(), st.fixed_dictionaries({"video_url": _video})
            ),
        },
    ),
}


@pytest.mark.parametrize("model", list(_OTHER_BODIES))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_other_schemas_agree_with_their_contracts(model: str, data: st.DataObject) -> None:
    body = data.draw(_OTHER_BODIES[model])
    schema = schema_of(model)["parameters"]
    in_schema = valid(body, schema, schema)
    by_contract = accepted(body)
    if by_contract:
        assert in_schema
    elif not (model == "kirin_v3_i2v" and body.get("multi_shot") is True):
        assert not in_schema
