"""kirin_custom_elements: every rule of API.md "Models", with a passing and a failing case; its
media; and that it makes no video."""

from __future__ import annotations

from typing import Any

import pytest

from kirin_api.contract.errors import InvalidMedia, InvalidParameter, RequestError
from kirin_api.contract.media import ImageRules, VideoRules
from kirin_api.contract.registry import (
    check_media_relations,
    media_refs,
    output_spec,
    produces_video,
    render_seed,
    validate_request,
)

from .cases import (
    IMG_URL,
    PNG_B64,
    VIDEO_URL,
    Failing,
    check_accepts,
    check_refuses,
    image,
    video,
)

MODEL = "kirin_custom_elements"
IMAGES = {"frontal_image": IMG_URL, "refer_images": [{"image_url": PNG_B64}]}
VIDEO = {"video_url": VIDEO_URL}


def body(**params: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "element_name": "Mochi",
        "reference_type": "image_refer",
        "element_image_list": IMAGES,
        **params,
    }


def video_body(**params: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "element_name": "Mochi",
        "reference_type": "video_refer",
        "element_video_list": VIDEO,
        **params,
    }


def without(key: str, **params: Any) -> dict[str, Any]:
    out = body(**params)
    del out[key]
    return out


def refer(n: int) -> dict[str, Any]:
    return {"frontal_image": PNG_B64, "refer_images": [{"image_url": IMG_URL}] * n}


PASSING: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("image_refer", body(), {"element_image_list": IMAGES, "element_name": "Mochi"}),
    ("video_refer", video_body(), {"element_video_list": VIDEO}),
    ("3 refer images", body(element_image_list=refer(3)), {}),
    ("name 20 chars", body(element_name="n" * 20), {}),
    ("description 100", body(element_description="d" * 100), {}),
    ("description empty", body(element_description=""), {}),
    ("other list null (image_refer)", body(element_video_list=None), {}),
    ("other list null (video_refer)", video_body(element_image_list=None), {}),
    ("callback and external id", body(callback_url=IMG_URL, external_task_id="el-1"), {}),
]


@pytest.mark.parametrize(("case", "request_body", "expected"), PASSING, ids=[c[0] for c in PASSING])
def test_accepts(case: str, request_body: dict[str, Any], expected: dict[str, Any]) -> None:
    check_accepts(request_body, expected)


FAILING: list[Failing] = [
    ("name missing", without("element_name"), InvalidParameter, "element_name", ("required",)),
    ("name empty", body(element_name=""), InvalidParameter, "element_name", ("empty",)),
    ("name blank", body(element_name="   "), InvalidParameter, "element_name", ("blank",)),
    ("name 21", body(element_name="n" * 21), InvalidParameter, "element_name", ("at most 20",)),
    (
        "description 101",
        body(element_description="d" * 101),
        InvalidParameter,
        "element_description",
        ("at most 100",),
    ),
    (
        "reference_type missing",
        without("reference_type"),
        InvalidParameter,
        "reference_type",
        ("required",),
    ),
    (
        "reference_type other",
        body(reference_type="text_refer"),
        InvalidParameter,
        "reference_type",
        ("image_refer, video_refer",),
    ),
    (
        "image_refer without images",
        without("element_image_list"),
        InvalidParameter,
        "element_image_list",
        ("required when reference_type is 'image_refer'",),
    ),
    (
        "video_refer without video",
        {**video_body(), "element_video_list": None},
        InvalidParameter,
        "element_video_list",
        ("required when reference_type is 'video_refer'",),
    ),
    (
        "image_refer with a video list too",
        body(element_video_list=VIDEO),
        InvalidParameter,
        "element_video_list",
        ("not accepted with reference_type 'image_refer'",),
    ),
    (
        "video_refer with an image list too",
        video_body(element_image_list=IMAGES),
        InvalidParameter,
        "element_image_list",
        ("not accepted with reference_type 'video_refer'",),
    ),
    (
        "wrong list refused before its content is read",
        body(element_video_list={"video_url": "nope"}),
        InvalidParameter,
        "element_video_list",
        ("not accepted",),
    ),
    (
        "frontal image missing",
        body(element_image_list={"refer_images": [{"image_url": IMG_URL}]}),
        InvalidParameter,
        "element_image_list.frontal_image",
        ("required",),
    ),
    (
        "refer images missing",
        body(element_image_list={"frontal_image": IMG_URL}),
        InvalidParameter,
        "element_image_list.refer_images",
        ("required",),
    ),
    (
        "no refer images",
        body(element_image_list=refer(0)),
        InvalidParameter,
        "element_image_list.refer_images",
        ("at least 1",),
    ),
    (
        "4 refer images",
        body(element_image_list=refer(4)),
        InvalidParameter,
        "element_image_list.refer_images",
        ("at most 3",),
    ),
    (
        "refer image a bare string",
        body(element_image_list={"frontal_image": IMG_URL, "refer_images": [IMG_URL]}),
        InvalidParameter,
        "element_image_list.refer_images.0",
        ("object",),
    ),
    (
        "frontal image with data: prefix",
        body(element_image_list={**IMAGES, "frontal_image": "data:image/png;base64,AAAA"}),
        InvalidMedia,
        "element_image_list.frontal_image",
        ("strip",),
    ),
    (
        "refer image with data: prefix",
        body(
            element_image_list={
                "frontal_image": IMG_URL,
                "refer_images": [{"image_url": IMG_URL}, {"image_url": "data:;base64,AAAA"}],
            }
        ),
        InvalidMedia,
        "element_image_list.refer_images.1.image_url",
        ("strip",),
    ),
    (
        "unknown key in the image list",
        body(element_image_list={**IMAGES, "back_image": IMG_URL}),
        InvalidParameter,
        "element_image_list.back_image",
        ("unknown parameter", "frontal_image, refer_images"),
    ),
    (
        "element video as base64",
        video_body(element_video_list={"video_url": "AAAA"}),
        InvalidParameter,
        "element_video_list.video_url",
        ("http or https URL",),
    ),
    (
        "element video missing url",
        video_body(element_video_list={}),
        InvalidParameter,
        "element_video_list.video_url",
        ("required",),
    ),
    (
        "mode is not a parameter",
        body(mode="std"),
        InvalidParameter,
        "mode",
        ("unknown parameter", "element_name"),
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


def test_media_refs_images() -> None:
    params = validate_request(body(element_image_list=refer(3))).params
    refs = media_refs(MODEL, params)
    assert [(r.param, r.kind) for r in refs] == [
        ("element_image_list.frontal_image", "image"),
        ("element_image_list.refer_images.0.image_url", "image"),
        ("element_image_list.refer_images.1.image_url", "image"),
        ("element_image_list.refer_images.2.image_url", "image"),
    ]
    assert refs[0].value == PNG_B64
    for ref in refs:
        assert ref.rules == ImageRules(aspect_range=None)
    check_media_relations(MODEL, params, {refs[0].param: image(300, 3000)})


def test_media_refs_video() -> None:
    params = validate_request(video_body()).params
    (ref,) = media_refs(MODEL, params)
    assert (ref.param, ref.kind, ref.value) == ("element_video_list.video_url", "video", VIDEO_URL)
    assert ref.rules == VideoRules()
    check_media_relations(MODEL, params, {ref.param: video(duration=20)})


def test_makes_no_video() -> None:
    params = validate_request(body()).params
    assert produces_video(MODEL) is False
    with pytest.raises(ValueError, match="makes no video"):
        output_spec(MODEL, params)
    assert 0 <= render_seed(MODEL, params) < 2**63
