"""kirin_v3_i2v: every rule of its seed and of API.md (single and multi-shot, subjects), with a
passing and a failing case; its media and its output spec."""

from __future__ import annotations

from typing import Any

import pytest

from kirin_api.contract.errors import InvalidMedia, InvalidParameter, RequestError
from kirin_api.contract.media import ImageRules
from kirin_api.contract.registry import (
    check_media_relations,
    media_refs,
    output_spec,
    render_seed,
    validate_request,
)

from .cases import IMG_URL, PNG_B64, Failing, check_accepts, check_refuses, image

MODEL = "kirin_v3_i2v"
BIG_ID = 829836802793406551


def body(**params: Any) -> dict[str, Any]:
    return {"model": MODEL, "image": IMG_URL, "prompt": "a knight walks", **params}


def without(key: str, **params: Any) -> dict[str, Any]:
    out = body(**params)
    del out[key]
    return out


def shot(duration: int | str, prompt: str = "a shot", **extra: Any) -> dict[str, Any]:
    return {"prompt": prompt, "duration": duration, **extra}


def multi(*shots: dict[str, Any], **params: Any) -> dict[str, Any]:
    out = {
        "model": MODEL,
        "image": IMG_URL,
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": list(shots),
        **params,
    }
    return out


PASSING: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "defaults filled",
        body(),
        {"multi_shot": False, "sound": "off", "mode": "std", "duration": 5},
    ),
    ("only image_tail", without("image", image_tail=PNG_B64), {"image_tail": PNG_B64}),
    ("image and image_tail", body(image_tail=IMG_URL), {"image_tail": IMG_URL}),
    ("prompt 2500", body(prompt="p" * 2500), {}),
    ("negative_prompt", body(negative_prompt="n" * 2500), {}),
    ("sound on", body(sound="on"), {"sound": "on"}),
    ("mode pro", body(mode="pro"), {"mode": "pro"}),
    ("duration 3", body(duration=3), {"duration": 3}),
    ("duration '15'", body(duration="15"), {"duration": 15}),
    ("one subject as a number", body(element_list=[{"element_id": BIG_ID}]), {}),
    (
        "subject id as a decimal string",
        body(element_list=[{"element_id": str(BIG_ID)}]),
        {"element_list": [{"element_id": BIG_ID}]},
    ),
    (
        "subject id 2**63-1",
        body(element_list=[{"element_id": str(2**63 - 1)}]),
        {"element_list": [{"element_id": 2**63 - 1}]},
    ),
    (
        "subject id 1.0",
        body(element_list=[{"element_id": 1.0}]),
        {"element_list": [{"element_id": 1}]},
    ),
    ("3 subjects", body(element_list=[{"element_id": i} for i in (1, 2, 3)]), {}),
    (
        "multi_shot false ignores shot_type and multi_prompt",
        body(shot_type="customize", multi_prompt=[shot(2)]),
        {"multi_shot": False},
    ),
    (
        "one shot as long as the video",
        multi(shot("5")),
        {"multi_prompt": [{"index": 1, "prompt": "a shot", "duration": 5}]},
    ),
    (
        "three shots adding up",
        multi(shot(2), shot("3"), shot(5), duration=10),
        {"duration": 10},
    ),
    ("six shots", multi(*[shot(2)] * 6, duration=12), {}),
    ("shot prompt 512", multi(shot(5, prompt="s" * 512)), {}),
    ("indexes given in order", multi(shot(2, index=1), shot(3, index=2)), {}),
    ("multi_shot ignores prompt", multi(shot(5), prompt="ignored"), {}),
    ("multi_shot with an empty prompt", multi(shot(5), prompt=""), {}),
]


@pytest.mark.parametrize(("case", "request_body", "expected"), PASSING, ids=[c[0] for c in PASSING])
def test_accepts(case: str, request_body: dict[str, Any], expected: dict[str, Any]) -> None:
    check_accepts(request_body, expected)


def test_ignored_parameters_are_dropped() -> None:
    single = validate_request(body(shot_type="customize", multi_prompt=[shot(2)])).params
    assert "shot_type" not in single
    assert "multi_prompt" not in single
    shots = validate_request(multi(shot(2), shot(3), prompt="ignored")).params
    assert "prompt" not in shots
    assert [s["index"] for s in shots["multi_prompt"]] == [1, 2]
    # Ignored values and spelled-out indexes change neither the params nor the seed.
    plain = validate_request(multi(shot(2), shot(3))).params
    assert plain == shots
    assert render_seed(MODEL, plain) == render_seed(MODEL, shots)
    assert validate_request(body()).params == single


FAILING: list[Failing] = [
    (
        "neither image nor image_tail",
        without("image"),
        InvalidParameter,
        "image",
        ("image_tail", "at least one"),
    ),
    (
        "both null",
        body(image=None, image_tail=None),
        InvalidParameter,
        "image",
        ("image_tail",),
    ),
    (
        "image with data: prefix",
        body(image="data:image/jpeg;base64,AAAA"),
        InvalidMedia,
        "image",
        ("strip",),
    ),
    (
        "image_tail with data: prefix",
        body(image_tail="data:image/png;base64,AAAA"),
        InvalidMedia,
        "image_tail",
        ("strip",),
    ),
    ("image_tail ftp", body(image_tail="ftp://x/y"), InvalidParameter, "image_tail", ("http",)),
    # single shot
    (
        "prompt missing with multi_shot false",
        without("prompt"),
        InvalidParameter,
        "prompt",
        ("required when multi_shot is false",),
    ),
    (
        "prompt empty with multi_shot false",
        body(prompt=""),
        InvalidParameter,
        "prompt",
        ("empty", "multi_shot is false"),
    ),
    ("prompt blank", body(prompt=" \t"), InvalidParameter, "prompt", ("blank",)),
    ("prompt 2501", body(prompt="p" * 2501), InvalidParameter, "prompt", ("2500",)),
    (
        "ignored multi_prompt is still type-checked",
        body(multi_prompt="two shots"),
        InvalidParameter,
        "multi_prompt",
        ("array",),
    ),
    ("multi_shot a string", body(multi_shot="true"), InvalidParameter, "multi_shot", ("boolean",)),
    ("multi_shot null", body(multi_shot=None), InvalidParameter, "multi_shot", ("boolean",)),
    # multi-shot
    (
        "shot_type missing",
        {**multi(shot(5)), "shot_type": None},
        InvalidParameter,
        "shot_type",
        ("required when multi_shot is true", "customize"),
    ),
    (
        "shot_type other",
        multi(shot(5), shot_type="intelligence"),
        InvalidParameter,
        "shot_type",
        ("customize",),
    ),
    (
        "multi_prompt missing",
        {**multi(), "multi_prompt": None},
        InvalidParameter,
        "multi_prompt",
        ("required when multi_shot is true",),
    ),
    ("no shots", multi(), InvalidParameter, "multi_prompt", ("at least 1",)),
    (
        "seven shots",
        multi(*[shot(1)] * 7, duration=7),
        InvalidParameter,
        "multi_prompt",
        ("at most 6",),
    ),
    (
        "shot prompt 513",
        multi(shot(5, prompt="s" * 513)),
        InvalidParameter,
        "multi_prompt.0.prompt",
        ("512",),
    ),
    (
        "shot prompt empty",
        multi(shot(5, prompt="")),
        InvalidParameter,
        "multi_prompt.0.prompt",
        ("empty",),
    ),
    (
        "shot prompt blank",
        multi(shot(2), shot(3, prompt="   ")),
        InvalidParameter,
        "multi_prompt.1.prompt",
        ("blank",),
    ),
    (
        "shot prompt missing",
        multi({"duration": 5}),
        InvalidParameter,
        "multi_prompt.0.prompt",
        ("required",),
    ),
    (
        "shot duration missing",
        multi({"prompt": "x"}),
        InvalidParameter,
        "multi_prompt.0.duration",
        ("required",),
    ),
    (
        "shot duration 0",
        multi(shot(0), shot(5)),
        InvalidParameter,
        "multi_prompt.0.duration",
        ("one of 1, 2",),
    ),
    (
        "shot duration '2.5'",
        multi(shot("2.5"), shot(3)),
        InvalidParameter,
        "multi_prompt.0.duration",
        ("integer",),
    ),
    (
        "shot longer than the video",
        multi(shot(6), duration=5),
        InvalidParameter,
        "multi_prompt.0.duration",
        ("at most the video's duration (5 seconds)", "got 6"),
    ),
    (
        "third shot longer than the video",
        multi(shot(1), shot(1), shot("8"), duration="7"),
        InvalidParameter,
        "multi_prompt.2.duration",
        ("at most the video's duration (7 seconds)",),
    ),
    (
        "durations add up to less",
        multi(shot(2), shot(2), duration=5),
        InvalidParameter,
        "multi_prompt",
        ("add up to duration (5 seconds) exactly", "they add up to 4 (2 + 2)"),
    ),
    (
        "durations add up to more",
        multi(shot(3), shot(3), duration=5),
        InvalidParameter,
        "multi_prompt",
        ("add up to duration", "6 (3 + 3)"),
    ),
    (
        "durations against the default duration 5",
        multi(shot(4)),
        InvalidParameter,
        "multi_prompt",
        ("(5 seconds)",),
    ),
    (
        "index out of place",
        multi(shot(2, index=2), shot(3, index=1)),
        InvalidParameter,
        "multi_prompt.0.index",
        ("place in the list", "here 1", "got 2"),
    ),
    (
        "index counted from 0",
        multi(shot(2, index=0), shot(3, index=1)),
        InvalidParameter,
        "multi_prompt.0.index",
        ("between 1 and 6", "got 0"),
    ),
    (
        "index a string",
        multi(shot(5, index="1")),
        InvalidParameter,
        "multi_prompt.0.index",
        ("integer",),
    ),
    (
        "unknown field in a shot",
        multi(shot(5, camera="pan")),
        InvalidParameter,
        "multi_prompt.0.camera",
        ("unknown parameter", "index, prompt, duration"),
    ),
    # subjects
    (
        "4 subjects",
        body(element_list=[{"element_id": i} for i in (1, 2, 3, 4)]),
        InvalidParameter,
        "element_list",
        ("at most 3",),
    ),
    (
        "empty element_list",
        body(element_list=[]),
        InvalidParameter,
        "element_list",
        ("at least 1",),
    ),
    (
        "subject without id",
        body(element_list=[{}]),
        InvalidParameter,
        "element_list.0.element_id",
        ("required",),
    ),
    (
        "subject id 0",
        body(element_list=[{"element_id": 0}]),
        InvalidParameter,
        "element_list.0.element_id",
        ("positive 64-bit integer",),
    ),
    (
        "subject id negative",
        body(element_list=[{"element_id": -5}]),
        InvalidParameter,
        "element_list.0.element_id",
        ("positive",),
    ),
    (
        "subject id 2**63",
        body(element_list=[{"element_id": 2**63}]),
        InvalidParameter,
        "element_list.0.element_id",
        ("9223372036854775807",),
    ),
    (
        "subject id string over 2**63-1",
        body(element_list=[{"element_id": "9999999999999999999"}]),
        InvalidParameter,
        "element_list.0.element_id",
        ("9223372036854775807",),
    ),
    (
        "subject id hex string",
        body(element_list=[{"element_id": "0x1f"}]),
        InvalidParameter,
        "element_list.0.element_id",
        ("decimal digits",),
    ),
    (
        "subject id with leading zero",
        body(element_list=[{"element_id": "0123"}]),
        InvalidParameter,
        "element_list.0.element_id",
        ("decimal digits",),
    ),
    (
        "subject id negative string",
        body(element_list=[{"element_id": "-1"}]),
        InvalidParameter,
        "element_list.0.element_id",
        ("decimal digits",),
    ),
    (
        "subject id a large float",
        body(element_list=[{"element_id": 8.298368027934066e17}]),
        InvalidParameter,
        "element_list.0.element_id",
        ("digits are lost",),
    ),
    (
        "subject id a fraction",
        body(element_list=[{"element_id": 1.5}]),
        InvalidParameter,
        "element_list.0.element_id",
        ("subject id",),
    ),
    (
        "subject id a bool",
        body(element_list=[{"element_id": True}]),
        InvalidParameter,
        "element_list.0.element_id",
        ("subject id",),
    ),
    # the other parameters
    ("sound yes", body(sound="yes"), InvalidParameter, "sound", ("on, off",)),
    ("mode max", body(mode="max"), InvalidParameter, "mode", ("std, pro",)),
    ("duration 2", body(duration=2), InvalidParameter, "duration", ("3, 4, 5",)),
    ("duration '16'", body(duration="16"), InvalidParameter, "duration", ("15",)),
    (
        "negative_prompt 2501",
        body(negative_prompt="n" * 2501),
        InvalidParameter,
        "negative_prompt",
        ("2500",),
    ),
    (
        "cfg_scale is not a parameter",
        body(cfg_scale=0.5),
        InvalidParameter,
        "cfg_scale",
        ("unknown parameter", "multi_prompt"),
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
    check_refuses(request_body, error, param, words)


def test_media_refs() -> None:
    both = media_refs(MODEL, validate_request(body(image_tail=PNG_B64)).params)
    assert [(r.param, r.kind, r.value) for r in both] == [
        ("image", "image", IMG_URL),
        ("image_tail", "image", PNG_B64),
    ]
    assert both[0].rules == ImageRules()
    assert isinstance(both[1].rules, ImageRules)
    assert both[1].rules.aspect_range is None  # the seed: no aspect limit for image_tail
    assert both[1].rules.min_side == 300
    tail = media_refs(MODEL, validate_request(without("image", image_tail=IMG_URL)).params)
    assert [r.param for r in tail] == ["image_tail"]
    # image and tail of different shapes are fine
    check_media_relations(
        MODEL,
        validate_request(body(image_tail=PNG_B64)).params,
        {"image": image(1920, 1080), "image_tail": image(300, 3000)},
    )


@pytest.mark.parametrize(
    ("mode", "size", "expected"),
    [
        ("std", (1920, 1080), (1280, 720)),
        ("pro", (1920, 1080), (1920, 1080)),
        ("std", (1080, 1920), (720, 1280)),
        ("pro", (1080, 1920), (1080, 1920)),
        ("pro", (1000, 1000), (1080, 1080)),
        ("pro", (1024, 768), (1440, 1080)),
        ("std", (1001, 999), (722, 720)),
        ("pro", (999, 1001), (1080, 1082)),
    ],
)
def test_output_spec_from_image(
    mode: str, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    params = validate_request(body(mode=mode, duration=7, image_tail=IMG_URL)).params
    # The first frame decides, not the tail.
    spec = output_spec(MODEL, params, {"image": image(*size), "image_tail": image(500, 500)})
    assert (spec.width, spec.height) == expected
    assert spec.width % 2 == 0
    assert spec.height % 2 == 0
    assert min(spec.width, spec.height) == (720 if mode == "std" else 1080)
    assert abs(spec.width / spec.height - size[0] / size[1]) < 2 / 720
    assert (spec.fps, spec.frames, spec.audio) == (30, 210, False)


def test_output_spec_tail_only_sound_and_multi_shot() -> None:
    params = validate_request(
        {
            **multi(shot(4), shot(11), duration=15, sound="on", mode="pro"),
            "image": None,
            "image_tail": PNG_B64,
        }
    ).params
    spec = output_spec(MODEL, params, {"image_tail": image(1200, 1600)})
    assert (spec.width, spec.height) == (1080, 1440)
    assert spec.frames == 450
    assert spec.audio is True


def test_output_spec_clamps_an_extreme_tail_aspect() -> None:
    params = validate_request(without("image", image_tail=IMG_URL)).params
    spec = output_spec(MODEL, params, {"image_tail": image(300, 3000)})  # 1:10, allowed for a tail
    assert (spec.width, spec.height) == (720, 1800)  # the tallest output: 1:2.5


def test_output_spec_needs_the_image_it_follows() -> None:
    with pytest.raises(ValueError, match="'image'"):
        output_spec(MODEL, validate_request(body()).params, {"image_tail": image(500, 500)})
    with pytest.raises(ValueError, match="'image_tail'"):
        output_spec(MODEL, validate_request(without("image", image_tail=IMG_URL)).params)
