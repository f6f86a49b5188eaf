"""kirin_v1_t2v: every rule of its seed and of API.md, with a passing and a failing case.

Failing cases name the exception class (InvalidParameter -> 400 invalid_parameter, InvalidRequest
-> 400 invalid_request), the exact dotted ``param``, and words the message must contain.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kirin_api.contract.errors import InvalidParameter, InvalidRequest, RequestError
from kirin_api.contract.registry import output_spec, validate_request

MODEL = "kirin_v1_t2v"
OK_CONFIG = {"type": "simple", "config": {"pan": 5}}


def body(**params: Any) -> dict[str, Any]:
    """A valid minimal body with ``params`` laid over it."""
    return {"model": MODEL, "prompt": "a red panda rides a bicycle", **params}


def without(key: str, **params: Any) -> dict[str, Any]:
    out = body(**params)
    del out[key]
    return out


# ---------------------------------------------------------------------------------------------
# Passing cases: (id, body, expected subset of the normalised params)
# ---------------------------------------------------------------------------------------------

PASSING: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "defaults filled",
        body(),
        {
            "prompt": "a red panda rides a bicycle",
            "cfg_scale": 0.5,
            "mode": "std",
            "aspect_ratio": "16:9",
            "duration": 5,
            "watermark_info": {"enabled": False},
        },
    ),
    ("duration string 5", body(duration="5"), {"duration": 5}),
    ("duration int 5", body(duration=5), {"duration": 5}),
    ("duration string 10", body(duration="10"), {"duration": 10}),
    ("duration int 10", body(duration=10), {"duration": 10}),
    ("duration 5.0 is the integer 5 (as in JSON Schema)", body(duration=5.0), {"duration": 5}),
    ("prompt 1 char", body(prompt="a"), {"prompt": "a"}),
    ("prompt 2500 chars", body(prompt="x" * 2500), {"prompt": "x" * 2500}),
    ("prompt with surrounding spaces kept", body(prompt=" a "), {"prompt": " a "}),
    ("negative_prompt 2500", body(negative_prompt="n" * 2500), {"negative_prompt": "n" * 2500}),
    ("negative_prompt empty", body(negative_prompt=""), {"negative_prompt": ""}),
    ("negative_prompt null is not given", body(negative_prompt=None), {}),
    ("cfg_scale 0", body(cfg_scale=0), {"cfg_scale": 0.0}),
    ("cfg_scale 1", body(cfg_scale=1), {"cfg_scale": 1.0}),
    ("cfg_scale 0.25", body(cfg_scale=0.25), {"cfg_scale": 0.25}),
    ("mode std", body(mode="std"), {"mode": "std"}),
    ("mode pro", body(mode="pro"), {"mode": "pro"}),
    ("aspect 16:9", body(aspect_ratio="16:9"), {"aspect_ratio": "16:9"}),
    ("aspect 9:16", body(aspect_ratio="9:16"), {"aspect_ratio": "9:16"}),
    ("aspect 1:1", body(aspect_ratio="1:1"), {"aspect_ratio": "1:1"}),
    (
        "camera simple, missing axes are 0",
        body(camera_control=OK_CONFIG),
        {
            "camera_control": {
                "type": "simple",
                "config": {
                    "horizontal": 0.0,
                    "vertical": 0.0,
                    "pan": 5.0,
                    "tilt": 0.0,
                    "roll": 0.0,
                    "zoom": 0.0,
                },
            }
        },
    ),
    (
        "camera simple, explicit zeros",
        body(camera_control={"type": "simple", "config": {"zoom": -3.5, "pan": 0, "roll": 0.0}}),
        {"camera_control": {"type": "simple", "config": {"zoom": -3.5, "pan": 0.0}}},
    ),
    (
        "camera with mode std and duration '5' given",
        body(camera_control=OK_CONFIG, mode="std", duration="5"),
        {"duration": 5},
    ),
    ("camera down_back", body(camera_control={"type": "down_back"}), {}),
    ("camera forward_up", body(camera_control={"type": "forward_up"}), {}),
    ("camera right_turn_forward", body(camera_control={"type": "right_turn_forward"}), {}),
    ("camera left_turn_forward", body(camera_control={"type": "left_turn_forward"}), {}),
    (
        "camera down_back with null config",
        body(camera_control={"type": "down_back", "config": None}),
        {"camera_control": {"type": "down_back"}},
    ),
    ("camera_control null is not given", body(camera_control=None), {}),
    (
        "watermark enabled",
        body(watermark_info={"enabled": True}),
        {"watermark_info": {"enabled": True}},
    ),
    (
        "watermark disabled",
        body(watermark_info={"enabled": False}),
        {"watermark_info": {"enabled": False}},
    ),
    (
        "callback https",
        body(callback_url="https://example.com/hook?x=1"),
        {"callback_url": "https://example.com/hook?x=1"},
    ),
    (
        "callback http with port",
        body(callback_url="http://10.0.0.1:8080/cb"),
        {"callback_url": "http://10.0.0.1:8080/cb"},
    ),
    (
        "callback 2048 chars",
        body(callback_url="https://example.com/" + "a" * 2028),
        {"callback_url": "https://example.com/" + "a" * 2028},
    ),
    ("callback null", body(callback_url=None), {}),
    ("external id 1", body(external_task_id="x"), {"external_task_id": "x"}),
    ("external id 64", body(external_task_id="e" * 64), {"external_task_id": "e" * 64}),
    ("external id null", body(external_task_id=None), {}),
]


@pytest.mark.parametrize(("case", "request_body", "expected"), PASSING, ids=[c[0] for c in PASSING])
def test_accepts(case: str, request_body: dict[str, Any], expected: dict[str, Any]) -> None:
    validated = validate_request(request_body)
    assert validated.model == MODEL
    assert "model" not in validated.params
    for key, value in expected.items():
        if isinstance(value, dict) and key == "camera_control" and "config" in value:
            got = validated.params[key]
            assert got["type"] == value["type"]
            for axis, amount in value["config"].items():
                assert got["config"][axis] == amount
        else:
            assert validated.params[key] == value
    for key, value in request_body.items():
        if value is None:
            assert key not in validated.params  # null means "not given"


def test_accepted_lifted_fields() -> None:
    validated = validate_request(
        body(
            callback_url="https://example.com/cb",
            external_task_id="mine-1",
            watermark_info={"enabled": True},
        )
    )
    assert validated.callback_url == "https://example.com/cb"
    assert validated.external_task_id == "mine-1"
    assert validated.watermark is True
    plain = validate_request(body())
    assert (plain.callback_url, plain.external_task_id, plain.watermark) == (None, None, False)


@pytest.mark.parametrize("axis", ["horizontal", "vertical", "pan", "tilt", "roll", "zoom"])
@pytest.mark.parametrize("amount", [-10, 10, -10.0, 10.0, 0.5, -0.001])
def test_every_axis_accepts_its_range(axis: str, amount: float) -> None:
    validated = validate_request(body(camera_control={"type": "simple", "config": {axis: amount}}))
    assert validated.params["camera_control"]["config"][axis] == amount


@pytest.mark.parametrize("axis", ["horizontal", "vertical", "pan", "tilt", "roll", "zoom"])
@pytest.mark.parametrize("amount", [-10.5, 11, 10.0001, -100])
def test_every_axis_refuses_out_of_range(axis: str, amount: float) -> None:
    with pytest.raises(InvalidParameter) as caught:
        validate_request(body(camera_control={"type": "simple", "config": {axis: amount}}))
    assert caught.value.param == f"camera_control.config.{axis}"
    assert "-10" in caught.value.message
    assert "10" in caught.value.message


# ---------------------------------------------------------------------------------------------
# Failing cases: (id, body, exception class, param, words the message must contain)
# ---------------------------------------------------------------------------------------------

FAILING: list[tuple[str, object, type[RequestError], str | None, tuple[str, ...]]] = [
    # the body and the model
    ("body is a list", [body()], InvalidRequest, None, ("JSON object",)),
    ("body is a string", "hello", InvalidRequest, None, ("JSON object",)),
    ("body is null", None, InvalidRequest, None, ("JSON object",)),
    ("model missing", without("model"), InvalidParameter, "model", ("required", MODEL)),
    ("model null", body(model=None), InvalidParameter, "model", ("required",)),
    ("model not a string", body(model=7), InvalidParameter, "model", ("string", MODEL)),
    ("model unknown", body(model="kirin_v9"), InvalidParameter, "model", ("kirin_v9", MODEL)),
    # unknown parameters
    (
        "unknown parameter",
        body(fps=30),
        InvalidParameter,
        "fps",
        ("unknown parameter 'fps'", f"{MODEL} accepts", "prompt", "camera_control", "model"),
    ),
    (
        "typo reported before the missing prompt",
        {"model": MODEL, "promt": "x"},
        InvalidParameter,
        "promt",
        ("unknown parameter",),
    ),
    (
        "unknown field in camera_control",
        body(camera_control={"type": "down_back", "speed": 1}),
        InvalidParameter,
        "camera_control.speed",
        ("unknown parameter", "type, config"),
    ),
    (
        "unknown config field",
        body(camera_control={"type": "simple", "config": {"pan": 1, "dolly": 1}}),
        InvalidParameter,
        "camera_control.config.dolly",
        ("unknown parameter", "horizontal, vertical, pan, tilt, roll, zoom"),
    ),
    (
        "unknown watermark field",
        body(watermark_info={"enabled": True, "text": "mine"}),
        InvalidParameter,
        "watermark_info.text",
        ("unknown parameter", "enabled"),
    ),
    # prompt
    ("prompt missing", without("prompt"), InvalidParameter, "prompt", ("prompt", "required")),
    ("prompt null", body(prompt=None), InvalidParameter, "prompt", ("string",)),
    ("prompt empty", body(prompt=""), InvalidParameter, "prompt", ("empty",)),
    ("prompt spaces", body(prompt="   "), InvalidParameter, "prompt", ("blank",)),
    ("prompt whitespace mix", body(prompt="\t\n "), InvalidParameter, "prompt", ("blank",)),
    ("prompt 2501", body(prompt="x" * 2501), InvalidParameter, "prompt", ("2500", "2501")),
    ("prompt number", body(prompt=123), InvalidParameter, "prompt", ("string", "number")),
    ("prompt list", body(prompt=["a"]), InvalidParameter, "prompt", ("string", "array")),
    # negative_prompt
    (
        "negative_prompt 2501",
        body(negative_prompt="n" * 2501),
        InvalidParameter,
        "negative_prompt",
        ("2500",),
    ),
    (
        "negative_prompt number",
        body(negative_prompt=5),
        InvalidParameter,
        "negative_prompt",
        ("string",),
    ),
    # cfg_scale
    ("cfg_scale bool", body(cfg_scale=True), InvalidParameter, "cfg_scale", ("number", "boolean")),
    (
        "cfg_scale string",
        body(cfg_scale="0.5"),
        InvalidParameter,
        "cfg_scale",
        ("number", "string"),
    ),
    ("cfg_scale below", body(cfg_scale=-0.1), InvalidParameter, "cfg_scale", ("0", "1", "-0.1")),
    ("cfg_scale above", body(cfg_scale=1.01), InvalidParameter, "cfg_scale", ("between 0 and 1",)),
    ("cfg_scale NaN", body(cfg_scale=float("nan")), InvalidParameter, "cfg_scale", ("finite",)),
    ("cfg_scale null", body(cfg_scale=None), InvalidParameter, "cfg_scale", ("number",)),
    # mode and aspect_ratio
    ("mode unknown", body(mode="turbo"), InvalidParameter, "mode", ("std, pro", '"turbo"')),
    ("mode upper case", body(mode="STD"), InvalidParameter, "mode", ("std, pro",)),
    ("mode null", body(mode=None), InvalidParameter, "mode", ("std, pro", "null")),
    (
        "aspect unknown",
        body(aspect_ratio="4:3"),
        InvalidParameter,
        "aspect_ratio",
        ("16:9, 9:16, 1:1", '"4:3"'),
    ),
    # duration
    ("duration 7", body(duration=7), InvalidParameter, "duration", ("5, 10", "seconds", "got 7")),
    ("duration '7'", body(duration="7"), InvalidParameter, "duration", ("5, 10", 'got "7"')),
    ("duration 5.5", body(duration=5.5), InvalidParameter, "duration", ("5, 10", "5.5")),
    ("duration '05'", body(duration="05"), InvalidParameter, "duration", ("5, 10",)),
    ("duration '+5'", body(duration="+5"), InvalidParameter, "duration", ("5, 10",)),
    ("duration 10.5", body(duration=10.5), InvalidParameter, "duration", ("integer",)),
    ("duration bool", body(duration=True), InvalidParameter, "duration", ("5, 10",)),
    ("duration ' 5'", body(duration=" 5"), InvalidParameter, "duration", ("5, 10",)),
    ("duration '5s'", body(duration="5s"), InvalidParameter, "duration", ("5, 10",)),
    ("duration null", body(duration=None), InvalidParameter, "duration", ("5, 10",)),
    # camera_control between parameters
    (
        "camera with mode pro",
        body(camera_control=OK_CONFIG, mode="pro"),
        InvalidParameter,
        "camera_control",
        ("std", "duration 5", "pro"),
    ),
    (
        "camera with duration 10",
        body(camera_control=OK_CONFIG, duration=10),
        InvalidParameter,
        "camera_control",
        ("std", "duration 5", "10"),
    ),
    (
        "camera preset with duration '10'",
        body(camera_control={"type": "forward_up"}, duration="10"),
        InvalidParameter,
        "camera_control",
        ("duration 5",),
    ),
    # camera_control itself
    (
        "camera not an object",
        body(camera_control="simple"),
        InvalidParameter,
        "camera_control",
        ("object",),
    ),
    (
        "camera type missing",
        body(camera_control={"config": {"pan": 1}}),
        InvalidParameter,
        "camera_control.type",
        ("required",),
    ),
    (
        "camera type unknown",
        body(camera_control={"type": "orbit"}),
        InvalidParameter,
        "camera_control.type",
        ("simple, down_back, forward_up, right_turn_forward, left_turn_forward", '"orbit"'),
    ),
    (
        "simple without config",
        body(camera_control={"type": "simple"}),
        InvalidParameter,
        "camera_control.config",
        ("required", "simple"),
    ),
    (
        "simple with null config",
        body(camera_control={"type": "simple", "config": None}),
        InvalidParameter,
        "camera_control.config",
        ("required",),
    ),
    (
        "simple with two non-zero",
        body(camera_control={"type": "simple", "config": {"pan": 1, "zoom": -2}}),
        InvalidParameter,
        "camera_control.config",
        ("exactly one", "pan=1", "zoom=-2"),
    ),
    (
        "simple all zero",
        body(camera_control={"type": "simple", "config": {"pan": 0, "zoom": 0}}),
        InvalidParameter,
        "camera_control.config",
        ("exactly one", "all are 0"),
    ),
    (
        "simple empty config",
        body(camera_control={"type": "simple", "config": {}}),
        InvalidParameter,
        "camera_control.config",
        ("exactly one",),
    ),
    (
        "config not an object",
        body(camera_control={"type": "simple", "config": [1]}),
        InvalidParameter,
        "camera_control.config",
        ("object", "array"),
    ),
    (
        "config axis a string",
        body(camera_control={"type": "simple", "config": {"pan": "5"}}),
        InvalidParameter,
        "camera_control.config.pan",
        ("number", "string"),
    ),
    (
        "config axis a bool",
        body(camera_control={"type": "simple", "config": {"pan": True}}),
        InvalidParameter,
        "camera_control.config.pan",
        ("number", "boolean"),
    ),
    (
        "config given for down_back",
        body(camera_control={"type": "down_back", "config": {"pan": 1}}),
        InvalidParameter,
        "camera_control.config",
        ("not accepted", "down_back", "simple"),
    ),
    (
        "empty config given for left_turn_forward",
        body(camera_control={"type": "left_turn_forward", "config": {}}),
        InvalidParameter,
        "camera_control.config",
        ("not accepted",),
    ),
    # watermark_info
    (
        "watermark a bool",
        body(watermark_info=True),
        InvalidParameter,
        "watermark_info",
        ("object", "boolean"),
    ),
    (
        "watermark a list",
        body(watermark_info=[{"enabled": True}]),
        InvalidParameter,
        "watermark_info",
        ("object",),
    ),
    (
        "watermark empty",
        body(watermark_info={}),
        InvalidParameter,
        "watermark_info.enabled",
        ("required",),
    ),
    (
        "watermark enabled a string",
        body(watermark_info={"enabled": "true"}),
        InvalidParameter,
        "watermark_info.enabled",
        ("boolean", "string"),
    ),
    (
        "watermark enabled a number",
        body(watermark_info={"enabled": 1}),
        InvalidParameter,
        "watermark_info.enabled",
        ("boolean",),
    ),
    ("watermark null", body(watermark_info=None), InvalidParameter, "watermark_info", ("object",)),
    # callback_url
    (
        "callback ftp",
        body(callback_url="ftp://example.com/x"),
        InvalidParameter,
        "callback_url",
        ("http or https", "'ftp'"),
    ),
    (
        "callback javascript",
        body(callback_url="javascript:alert(1)"),
        InvalidParameter,
        "callback_url",
        ("http or https", "javascript"),
    ),
    (
        "callback no host",
        body(callback_url="https:///path"),
        InvalidParameter,
        "callback_url",
        ("host",),
    ),
    (
        "callback only scheme",
        body(callback_url="http://"),
        InvalidParameter,
        "callback_url",
        ("host",),
    ),
    (
        "callback relative",
        body(callback_url="/hook"),
        InvalidParameter,
        "callback_url",
        ("http or https",),
    ),
    (
        "callback with a space",
        body(callback_url="https://exa mple.com/"),
        InvalidParameter,
        "callback_url",
        ("spaces",),
    ),
    (
        "callback bad port",
        body(callback_url="https://example.com:99999/"),
        InvalidParameter,
        "callback_url",
        ("valid",),
    ),
    (
        "callback 2049 chars",
        body(callback_url="https://example.com/" + "a" * 2029),
        InvalidParameter,
        "callback_url",
        ("2048",),
    ),
    (
        "callback empty",
        body(callback_url=""),
        InvalidParameter,
        "callback_url",
        ("empty",),
    ),
    (
        "callback a number",
        body(callback_url=1),
        InvalidParameter,
        "callback_url",
        ("string",),
    ),
    # external_task_id
    (
        "external id 65",
        body(external_task_id="e" * 65),
        InvalidParameter,
        "external_task_id",
        ("64", "65"),
    ),
    (
        "external id empty",
        body(external_task_id=""),
        InvalidParameter,
        "external_task_id",
        ("empty",),
    ),
    (
        "external id a number",
        body(external_task_id=42),
        InvalidParameter,
        "external_task_id",
        ("string", "number"),
    ),
]


@pytest.mark.parametrize(
    ("case", "request_body", "error", "param", "words"), FAILING, ids=[c[0] for c in FAILING]
)
def test_refuses(
    case: str,
    request_body: object,
    error: type[RequestError],
    param: str | None,
    words: tuple[str, ...],
) -> None:
    with pytest.raises(RequestError) as caught:
        validate_request(request_body)
    exc = caught.value
    assert type(exc) is error
    assert exc.status == 400
    assert exc.code == ("invalid_parameter" if error is InvalidParameter else "invalid_request")
    assert exc.param == param
    if param is not None:
        # The message names the parameter at fault (its dotted path, or its last part).
        assert param in exc.message or param.rsplit(".", 1)[-1] in exc.message
        assert exc.body()["error"]["param"] == param
    for word in words:
        assert word in exc.message, f"{word!r} not in {exc.message!r}"
    # pydantic's own wording never reaches a client
    assert "Input should" not in exc.message
    assert "pydantic" not in exc.message


def test_error_body_shape() -> None:
    with pytest.raises(InvalidParameter) as caught:
        validate_request(body(duration=7))
    assert caught.value.body() == {
        "error": {
            "code": "invalid_parameter",
            "message": "duration must be one of 5, 10 (seconds); got 7",
            "param": "duration",
        }
    }


# ---------------------------------------------------------------------------------------------
# Output spec
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aspect_ratio", "duration", "size", "frames"),
    [
        ("16:9", 5, (1280, 720), 150),
        ("16:9", "10", (1280, 720), 300),
        ("9:16", 5, (720, 1280), 150),
        ("9:16", 10, (720, 1280), 300),
        ("1:1", "5", (720, 720), 150),
        ("1:1", 10, (720, 720), 300),
    ],
)
def test_output_spec(
    aspect_ratio: str, duration: int | str, size: tuple[int, int], frames: int
) -> None:
    for mode in ("std", "pro"):  # 720p at 30 fps in both modes (the seed)
        validated = validate_request(body(aspect_ratio=aspect_ratio, duration=duration, mode=mode))
        spec = output_spec(MODEL, validated.params)
        assert (spec.width, spec.height) == size
        assert spec.fps == 30
        assert spec.frames == frames
        assert spec.audio is False
        assert spec.duration == int(duration)


# ---------------------------------------------------------------------------------------------
# Property: whatever is accepted round-trips, and its output is one of the three sizes
# ---------------------------------------------------------------------------------------------

_MISSING = object()
_axes = st.sampled_from(["horizontal", "vertical", "pan", "tilt", "roll", "zoom", "dolly"])
_numbers = st.one_of(
    st.integers(-12, 12),
    st.floats(-12, 12, allow_nan=False),
    st.sampled_from([0, 0.0, -0.0, 10, -10, "5", True, None]),
)
_camera = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"]
            )
        },
        optional={"config": st.one_of(st.none(), st.dictionaries(_axes, _numbers, max_size=3))},
    ),
)
_text = st.text(max_size=40)
_optional: dict[str, st.SearchStrategy[Any]] = {
    "negative_prompt": st.one_of(st.none(), _text, st.integers()),
    "cfg_scale": st.one_of(
        st.floats(-0.5, 1.5, allow_nan=False), st.integers(-1, 2), st.booleans()
    ),
    "mode": st.sampled_from(["std", "pro", "max"]),
    "aspect_ratio": st.sampled_from(["16:9", "9:16", "1:1", "4:3"]),
    "duration": st.sampled_from([5, 10, "5", "10", 7, "7", 5.0]),
    "camera_control": _camera,
    "watermark_info": st.one_of(st.fixed_dictionaries({"enabled": st.booleans()}), st.none()),
    "callback_url": st.one_of(
        st.none(), st.sampled_from(["https://example.com/cb", "ftp://x", "http://h:1/p"])
    ),
    "external_task_id": st.one_of(st.none(), st.text(max_size=70)),
}
_bodies = st.fixed_dictionaries(
    {"model": st.just(MODEL), "prompt": st.one_of(_text, st.integers())}, optional=_optional
)

SIZES = {(1280, 720), (720, 1280), (720, 720)}


@settings(max_examples=400, deadline=None)
@given(_bodies)
def test_accepted_bodies_round_trip(request_body: dict[str, Any]) -> None:
    try:
        first = validate_request(request_body)
    except InvalidParameter as exc:
        refusal: InvalidParameter | None = exc
    else:
        refusal = None
    if refusal is not None:
        assert refusal.param  # every refusal names a parameter
        assert "Input should" not in refusal.message
        return
    again = validate_request({**first.params, "model": MODEL})
    assert again.params == first.params
    assert again == first
    spec = output_spec(MODEL, first.params)
    assert (spec.width, spec.height) in SIZES
    assert spec.fps == 30
    assert spec.frames == first.params["duration"] * 30
