"""kirin_v1_6_multi_i2v: every rule of its seed, with a passing and a failing case; its media
and its output spec."""

from __future__ import annotations

from typing import Any

import pytest

from kirin_api.contract.errors import InvalidMedia, InvalidParameter, RequestError
from kirin_api.contract.media import ImageRules
from kirin_api.contract.registry import (
    check_media_relations,
    media_refs,
    output_spec,
    validate_request,
)

from .cases import IMG_URL, PNG_B64, Failing, check_accepts, check_refuses, image

MODEL = "kirin_v1_6_multi_i2v"


def body(**params: Any) -> dict[str, Any]:
    return {"model": MODEL, "image_list": [{"image": IMG_URL}], "prompt": "two cats", **params}


def without(key: str, **params: Any) -> dict[str, Any]:
    out = body(**params)
    del out[key]
    return out


def images(n: int, value: str = PNG_B64) -> list[dict[str, str]]:
    return [{"image": value} for _ in range(n)]


PASSING: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "defaults filled",
        body(),
        {"mode": "std", "duration": 5, "aspect_ratio": "16:9", "prompt": "two cats"},
    ),
    ("4 images", body(image_list=images(4)), {"image_list": images(4)}),
    ("base64 and URL mixed", body(image_list=[{"image": PNG_B64}, {"image": IMG_URL}]), {}),
    ("prompt 2500", body(prompt="p" * 2500), {}),
    ("negative_prompt", body(negative_prompt="blur"), {"negative_prompt": "blur"}),
    ("mode pro", body(mode="pro"), {"mode": "pro"}),
    ("duration '10'", body(duration="10"), {"duration": 10}),
    ("aspect 9:16", body(aspect_ratio="9:16"), {"aspect_ratio": "9:16"}),
    ("aspect 1:1", body(aspect_ratio="1:1"), {"aspect_ratio": "1:1"}),
]


@pytest.mark.parametrize(("case", "request_body", "expected"), PASSING, ids=[c[0] for c in PASSING])
def test_accepts(case: str, request_body: dict[str, Any], expected: dict[str, Any]) -> None:
    check_accepts(request_body, expected)


FAILING: list[Failing] = [
    ("image_list missing", without("image_list"), InvalidParameter, "image_list", ("required",)),
    ("image_list empty", body(image_list=[]), InvalidParameter, "image_list", ("at least 1",)),
    ("5 images", body(image_list=images(5)), InvalidParameter, "image_list", ("at most 4",)),
    (
        "image_list an object",
        body(image_list={"image": IMG_URL}),
        InvalidParameter,
        "image_list",
        ("array",),
    ),
    (
        "item a bare string",
        body(image_list=[IMG_URL]),
        InvalidParameter,
        "image_list.0",
        ("object",),
    ),
    (
        "item without image",
        body(image_list=[{"image": IMG_URL}, {}]),
        InvalidParameter,
        "image_list.1.image",
        ("required",),
    ),
    (
        "item with another key",
        body(image_list=[{"image": IMG_URL, "weight": 1}]),
        InvalidParameter,
        "image_list.0.weight",
        ("unknown parameter", "image"),
    ),
    (
        "item with data: prefix",
        body(image_list=[{"image": IMG_URL}, {"image": IMG_URL}, {"image": "data:,AAAA"}]),
        InvalidMedia,
        "image_list.2.image",
        ("strip",),
    ),
    (
        "item not base64",
        body(image_list=[{"image": "cat.png"}]),
        InvalidParameter,
        "image_list.0.image",
        ("base64",),
    ),
    ("prompt missing", without("prompt"), InvalidParameter, "prompt", ("required",)),
    ("prompt blank", body(prompt=" "), InvalidParameter, "prompt", ("blank",)),
    ("prompt 2501", body(prompt="p" * 2501), InvalidParameter, "prompt", ("2500",)),
    (
        "negative_prompt 2501",
        body(negative_prompt="n" * 2501),
        InvalidParameter,
        "negative_prompt",
        ("2500",),
    ),
    ("mode max", body(mode="max"), InvalidParameter, "mode", ("std, pro",)),
    ("duration 3", body(duration=3), InvalidParameter, "duration", ("5, 10",)),
    ("aspect 4:3", body(aspect_ratio="4:3"), InvalidParameter, "aspect_ratio", ("16:9",)),
    (
        "cfg_scale is not a parameter",
        body(cfg_scale=0.5),
        InvalidParameter,
        "cfg_scale",
        ("unknown parameter", "image_list"),
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
    params = validate_request(
        body(image_list=[{"image": IMG_URL}, {"image": PNG_B64}, {"image": IMG_URL}])
    ).params
    refs = media_refs(MODEL, params)
    assert [r.param for r in refs] == [
        "image_list.0.image",
        "image_list.1.image",
        "image_list.2.image",
    ]
    assert [r.value for r in refs] == [IMG_URL, PNG_B64, IMG_URL]
    assert all(r.kind == "image" for r in refs)
    assert all(r.rules == ImageRules() for r in refs)  # 10 MB, 300 px, 1:2.5..2.5:1
    assert refs[0].rules.aspect_range == (0.4, 2.5)
    # no relations between the images
    check_media_relations(MODEL, params, {r.param: image(300, 750) for r in refs})


@pytest.mark.parametrize(
    ("aspect_ratio", "size"), [("16:9", (1280, 720)), ("9:16", (720, 1280)), ("1:1", (720, 720))]
)
@pytest.mark.parametrize("duration", [5, 10])
def test_output_spec(aspect_ratio: str, size: tuple[int, int], duration: int) -> None:
    for mode in ("std", "pro"):
        params = validate_request(
            body(aspect_ratio=aspect_ratio, duration=duration, mode=mode)
        ).params
        # The images do not change the size, so no facts are needed; facts are ignored.
        for facts in (None, {"image_list.0.image": image(400, 1000)}):
            spec = output_spec(MODEL, params, facts)
            assert (spec.width, spec.height) == size
            assert (spec.fps, spec.frames, spec.audio) == (30, duration * 30, False)
