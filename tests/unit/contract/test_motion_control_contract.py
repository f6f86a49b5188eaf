"""kirin_v3_motion_control: every rule of its seed, with a passing and a failing case; its media
(rules that follow character_orientation) and its output spec (length and sound from the video)."""

from __future__ import annotations

from typing import Any

import pytest

from kirin_api.contract.errors import InvalidMedia, InvalidParameter, RequestError
from kirin_api.contract.media import ImageRules, MediaFacts, VideoRules
from kirin_api.contract.registry import (
    check_media_relations,
    media_refs,
    output_spec,
    validate_request,
)

from .cases import (
    IMG_URL,
    PNG_B64,
    VIDEO_URL,
    Failing,
    assert_refused,
    check_accepts,
    check_refuses,
    image,
    video,
)

MODEL = "kirin_v3_motion_control"


def body(**params: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "image_url": IMG_URL,
        "video_url": VIDEO_URL,
        "character_orientation": "image",
        "mode": "std",
        **params,
    }


def without(key: str, **params: Any) -> dict[str, Any]:
    out = body(**params)
    del out[key]
    return out


PASSING: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("defaults filled", body(), {"keep_original_sound": "yes", "mode": "std"}),
    ("image as base64", body(image_url=PNG_B64), {"image_url": PNG_B64}),
    ("video http", body(video_url="http://example.com/v.mov"), {}),
    ("orientation video", body(character_orientation="video"), {}),
    ("mode pro", body(mode="pro"), {"mode": "pro"}),
    ("keep sound no", body(keep_original_sound="no"), {"keep_original_sound": "no"}),
    ("prompt empty", body(prompt=""), {"prompt": ""}),
    ("prompt 2500", body(prompt="p" * 2500), {}),
    (
        "one subject with orientation video",
        body(element_list=[{"element_id": "829836802793406551"}], character_orientation="video"),
        {"element_list": [{"element_id": 829836802793406551}]},
    ),
    ("element_list null with orientation image", body(element_list=None), {}),
]


@pytest.mark.parametrize(("case", "request_body", "expected"), PASSING, ids=[c[0] for c in PASSING])
def test_accepts(case: str, request_body: dict[str, Any], expected: dict[str, Any]) -> None:
    check_accepts(request_body, expected)


FAILING: list[Failing] = [
    ("image_url missing", without("image_url"), InvalidParameter, "image_url", ("required",)),
    ("video_url missing", without("video_url"), InvalidParameter, "video_url", ("required",)),
    (
        "orientation missing",
        without("character_orientation"),
        InvalidParameter,
        "character_orientation",
        ("required",),
    ),
    ("mode missing (no default)", without("mode"), InvalidParameter, "mode", ("required",)),
    ("mode null", body(mode=None), InvalidParameter, "mode", ("std, pro",)),
    (
        "orientation other",
        body(character_orientation="left"),
        InvalidParameter,
        "character_orientation",
        ("image, video",),
    ),
    (
        "image_url with data: prefix",
        body(image_url="data:image/png;base64," + PNG_B64),
        InvalidMedia,
        "image_url",
        ("strip", "raw base64"),
    ),
    (
        "video_url as base64",
        body(video_url="AAAA"),
        InvalidParameter,
        "video_url",
        ("http or https URL", "inline"),
    ),
    (
        "video_url as a data: URI",
        body(video_url="data:video/mp4;base64,AAAA"),
        InvalidParameter,
        "video_url",
        ("http or https URL",),
    ),
    (
        "video_url ftp",
        body(video_url="ftp://example.com/v.mp4"),
        InvalidParameter,
        "video_url",
        ("'ftp'",),
    ),
    (
        "video_url without host",
        body(video_url="https://"),
        InvalidParameter,
        "video_url",
        ("host",),
    ),
    (
        "two subjects",
        body(element_list=[{"element_id": 1}, {"element_id": 2}], character_orientation="video"),
        InvalidParameter,
        "element_list",
        ("at most 1",),
    ),
    (
        "a subject with orientation image",
        body(element_list=[{"element_id": 1}]),
        InvalidParameter,
        "character_orientation",
        ("must be 'video' when element_list is given", "got 'image'"),
    ),
    (
        "empty element_list",
        body(element_list=[], character_orientation="video"),
        InvalidParameter,
        "element_list",
        ("at least 1",),
    ),
    (
        "subject id a word",
        body(element_list=[{"element_id": "cat"}], character_orientation="video"),
        InvalidParameter,
        "element_list.0.element_id",
        ("decimal digits",),
    ),
    (
        "keep sound true",
        body(keep_original_sound=True),
        InvalidParameter,
        "keep_original_sound",
        ("yes, no",),
    ),
    ("prompt 2501", body(prompt="p" * 2501), InvalidParameter, "prompt", ("2500",)),
    (
        "duration is not a parameter",
        body(duration=5),
        InvalidParameter,
        "duration",
        ("unknown parameter", "video_url", "character_orientation"),
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


# ---------------------------------------------------------------------------------------------
# Media
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("orientation", "longest"), [("image", 10.0), ("video", 30.0)])
def test_media_refs(orientation: str, longest: float) -> None:
    params = validate_request(body(character_orientation=orientation)).params
    refs = media_refs(MODEL, params)
    assert [(r.param, r.kind, r.value) for r in refs] == [
        ("image_url", "image", IMG_URL),
        ("video_url", "video", VIDEO_URL),
    ]
    assert refs[0].rules == ImageRules(max_side=65536)
    assert refs[0].rules.min_side == 300
    assert refs[0].rules.aspect_range == (0.4, 2.5)
    rules = refs[1].rules
    assert isinstance(rules, VideoRules)
    assert rules.containers == {"mp4", "mov"}
    assert rules.max_bytes == 100 * 1024 * 1024
    assert (rules.min_side, rules.max_side) == (340, 3850)
    assert (rules.min_duration, rules.max_duration) == (3.0, longest)


@pytest.mark.parametrize(
    ("orientation", "facts"),
    [
        ("image", {}),
        ("image", {"image_url": image(1000, 1000)}),
        ("image", {"video_url": video(duration=3.0)}),
        ("image", {"video_url": video(duration=10.0)}),
        ("video", {"video_url": video(duration=10.5)}),
        ("video", {"video_url": video(duration=30.0)}),
    ],
)
def test_relations_pass(orientation: str, facts: dict[str, MediaFacts]) -> None:
    params = validate_request(body(character_orientation=orientation)).params
    check_media_relations(MODEL, params, facts)


@pytest.mark.parametrize(
    ("orientation", "seconds", "words"),
    [
        ("image", 10.5, ("at most 10 seconds", "'image'", "10.5")),
        ("video", 30.1, ("at most 30 seconds", "'video'")),
        ("image", 2.9, ("at least 3 seconds", "2.9")),
        ("video", 2.0, ("at least 3 seconds",)),
    ],
)
def test_relations_fail(orientation: str, seconds: float, words: tuple[str, ...]) -> None:
    params = validate_request(body(character_orientation=orientation)).params
    with pytest.raises(InvalidMedia) as caught:
        check_media_relations(MODEL, params, {"video_url": video(duration=seconds)})
    assert_refused(caught.value, InvalidMedia, "video_url", words)


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "size", "expected"),
    [
        ("std", (1080, 1920), (720, 1280)),
        ("pro", (1080, 1920), (1080, 1920)),
        ("std", (3000, 2000), (1080, 720)),
        ("pro", (3000, 2000), (1620, 1080)),
        ("pro", (1000, 2500), (1080, 2700)),
        ("std", (999, 1001), (720, 722)),
    ],
)
def test_output_spec_size(mode: str, size: tuple[int, int], expected: tuple[int, int]) -> None:
    params = validate_request(body(mode=mode)).params
    spec = output_spec(MODEL, params, {"image_url": image(*size), "video_url": video(1920, 1080)})
    assert (spec.width, spec.height) == expected  # the image's aspect, not the video's
    assert spec.width % 2 == 0
    assert spec.height % 2 == 0
    assert min(spec.width, spec.height) == (720 if mode == "std" else 1080)
    assert spec.fps == 30


@pytest.mark.parametrize(
    ("seconds", "frames"), [(3.0, 90), (5.0, 150), (7.52, 226), (10.0, 300), (29.99, 900)]
)
def test_output_spec_lasts_as_long_as_the_video(seconds: float, frames: int) -> None:
    params = validate_request(body(character_orientation="video")).params
    spec = output_spec(
        MODEL, params, {"image_url": image(720, 720), "video_url": video(duration=seconds)}
    )
    assert spec.frames == frames
    assert abs(spec.duration - seconds) <= 1 / 60


@pytest.mark.parametrize(
    ("keep", "has_audio", "audio"),
    [("yes", True, True), ("yes", False, False), ("no", True, False), ("no", False, False)],
)
def test_output_spec_sound(keep: str, has_audio: bool, audio: bool) -> None:
    params = validate_request(body(keep_original_sound=keep)).params
    facts = {"image_url": image(720, 720), "video_url": video(audio=has_audio)}
    assert output_spec(MODEL, params, facts).audio is audio


def test_output_spec_needs_both_facts() -> None:
    params = validate_request(body()).params
    with pytest.raises(ValueError, match="'image_url'"):
        output_spec(MODEL, params, {"video_url": video()})
    with pytest.raises(ValueError, match="'video_url'"):
        output_spec(MODEL, params, {"image_url": image(720, 720)})
    with pytest.raises(ValueError, match="'image_url'"):
        output_spec(MODEL, params)
