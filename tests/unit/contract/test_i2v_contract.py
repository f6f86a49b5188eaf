"""kirin_v1_i2v: every rule of its seed and of API.md, with a passing and a failing case; its
media (refs, relations) and its output spec."""

from __future__ import annotations

from typing import Any

import pytest

from kirin_api.contract.errors import InvalidMedia, InvalidParameter, RequestError
from kirin_api.contract.media import ImageRules, MediaFacts
from kirin_api.contract.registry import (
    check_media_relations,
    media_refs,
    output_spec,
    produces_video,
    validate_request,
)

from .cases import (
    IMG_URL,
    PNG_B64,
    Failing,
    assert_refused,
    check_accepts,
    check_refuses,
    image,
)

MODEL = "kirin_v1_i2v"
TRACK = [{"x": 10, "y": 20}, {"x": 30.5, "y": 40}]


def body(**params: Any) -> dict[str, Any]:
    return {"model": MODEL, "image": IMG_URL, **params}


def without(key: str, **params: Any) -> dict[str, Any]:
    out = body(**params)
    del out[key]
    return out


def group(mask: str = PNG_B64, points: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"mask": mask, "trajectories": TRACK if points is None else points}


PASSING: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "defaults filled",
        body(),
        {"image": IMG_URL, "cfg_scale": 0.5, "mode": "std", "duration": 5},
    ),
    ("image as raw base64", body(image=PNG_B64), {"image": PNG_B64}),
    ("image url scheme lower-cased", body(image="HTTPS://Example.com/A.png"), {}),
    ("image http with port", body(image="http://10.0.0.1:8080/a.jpg"), {}),
    ("image base64 one padding", body(image="AAA="), {"image": "AAA="}),
    ("image base64 unpadded (as media decodes it)", body(image="AAA"), {"image": "AAA"}),
    (
        "image base64 wrapped at 76 columns (MIME)",
        body(image="QUFB" * 19 + "\r\n" + "QUFB\n"),
        {"image": "QUFB" * 19 + "\r\n" + "QUFB\n"},
    ),
    ("image_tail with duration 5", body(image_tail=PNG_B64), {"image_tail": PNG_B64}),
    ("image_tail with duration '5'", body(image_tail=IMG_URL, duration="5"), {"duration": 5}),
    ("image_tail null", body(image_tail=None, duration=10), {"duration": 10}),
    ("prompt 1 char", body(prompt="a"), {"prompt": "a"}),
    ("prompt 2500", body(prompt="p" * 2500), {"prompt": "p" * 2500}),
    ("no prompt", body(), {}),
    ("negative_prompt 2500", body(negative_prompt="n" * 2500), {}),
    ("cfg_scale 0", body(cfg_scale=0), {"cfg_scale": 0.0}),
    ("cfg_scale 1", body(cfg_scale=1), {"cfg_scale": 1.0}),
    ("mode pro", body(mode="pro"), {"mode": "pro"}),
    ("duration 10", body(duration="10"), {"duration": 10}),
    ("static_mask with duration 5", body(static_mask=PNG_B64), {"static_mask": PNG_B64}),
    ("one dynamic mask", body(dynamic_masks=[group()]), {}),
    ("six dynamic masks", body(dynamic_masks=[group()] * 6), {}),
    ("2 trajectory points", body(dynamic_masks=[group(points=TRACK[:2])]), {}),
    (
        "77 trajectory points",
        body(dynamic_masks=[group(points=[{"x": i, "y": i} for i in range(77)])]),
        {},
    ),
    ("static and dynamic masks", body(static_mask=IMG_URL, dynamic_masks=[group()]), {}),
    ("masks as URLs", body(dynamic_masks=[group(mask=IMG_URL)]), {}),
    ("masks null with duration 10", body(static_mask=None, dynamic_masks=None, duration=10), {}),
    ("watermark", body(watermark_info={"enabled": True}), {"watermark_info": {"enabled": True}}),
]


@pytest.mark.parametrize(("case", "request_body", "expected"), PASSING, ids=[c[0] for c in PASSING])
def test_accepts(case: str, request_body: dict[str, Any], expected: dict[str, Any]) -> None:
    check_accepts(request_body, expected)


def test_url_scheme_is_normalised_and_points_are_numbers() -> None:
    params = validate_request(
        body(image="HTTPS://Example.com/A.png", dynamic_masks=[group()])
    ).params
    assert params["image"] == "https://Example.com/A.png"
    assert params["dynamic_masks"][0]["trajectories"][0] == {"x": 10.0, "y": 20.0}


FAILING: list[Failing] = [
    # image
    ("image missing", without("image"), InvalidParameter, "image", ("required",)),
    (
        "tail frame alone",
        {"model": MODEL, "image_tail": IMG_URL},
        InvalidParameter,
        "image",
        ("required", "tail frame alone"),
    ),
    ("image null", body(image=None), InvalidParameter, "image", ("string",)),
    ("image empty", body(image=""), InvalidParameter, "image", ("empty",)),
    ("image a number", body(image=5), InvalidParameter, "image", ("string",)),
    (
        "image with data: prefix",
        body(image="data:image/png;base64," + PNG_B64),
        InvalidMedia,
        "image",
        ("strip", "data:image/png;base64,", "raw base64"),
    ),
    (
        "image with upper-case DATA: prefix",
        body(image="DATA:image/jpeg;base64,AAAA"),
        InvalidMedia,
        "image",
        ("strip",),
    ),
    (
        "image ftp URL",
        body(image="ftp://example.com/a.png"),
        InvalidParameter,
        "image",
        ("http or https", "'ftp'"),
    ),
    (
        "image URL without host",
        body(image="https:///a.png"),
        InvalidParameter,
        "image",
        ("host",),
    ),
    (
        "image URL with a space",
        body(image="https://example.com/a b.png"),
        InvalidParameter,
        "image",
        ("spaces",),
    ),
    (
        "image URL bad port",
        body(image="https://example.com:99999/a.png"),
        InvalidParameter,
        "image",
        ("valid",),
    ),
    (
        "image URL too long",
        body(image="https://example.com/" + "a" * 8200),
        InvalidParameter,
        "image",
        ("8192",),
    ),
    (
        "image not base64 (a file name)",
        body(image="photo.png"),
        InvalidParameter,
        "image",
        ("base64", "the character '.'"),
    ),
    (
        "image base64 cut short",
        body(image="AAAAA"),
        InvalidParameter,
        "image",
        ("cut short",),
    ),
    (
        "image base64 padding in the middle",
        body(image="AA==AAAA"),
        InvalidParameter,
        "image",
        ("'=' padding may only end it",),
    ),
    (
        "image base64 with three '='",
        body(image="AAA==="),
        InvalidParameter,
        "image",
        ("at most two",),
    ),
    (
        "image only whitespace",
        body(image=" \n "),
        InvalidParameter,
        "image",
        ("no base64 data",),
    ),
    (
        "image URL-safe base64",
        body(image="AA-_"),
        InvalidParameter,
        "image",
        ("'-'",),
    ),
    # image_tail
    (
        "image_tail with data: prefix",
        body(image_tail="data:image/png;base64,AAAA"),
        InvalidMedia,
        "image_tail",
        ("strip",),
    ),
    (
        "image_tail with duration 10",
        body(image_tail=IMG_URL, duration=10),
        InvalidParameter,
        "image_tail",
        ("only supported with duration 5", "got duration 10"),
    ),
    (
        "image_tail with static_mask",
        body(image_tail=IMG_URL, static_mask=PNG_B64),
        InvalidParameter,
        "image_tail",
        ("cannot be used together", "static_mask"),
    ),
    (
        "image_tail with dynamic_masks",
        body(image_tail=IMG_URL, dynamic_masks=[group()]),
        InvalidParameter,
        "image_tail",
        ("exclude each other", "dynamic_masks"),
    ),
    # masks
    (
        "static_mask with duration 10",
        body(static_mask=PNG_B64, duration="10"),
        InvalidParameter,
        "static_mask",
        ("only supported with duration 5", "motion brush"),
    ),
    (
        "dynamic_masks with duration 10",
        body(dynamic_masks=[group()], duration=10),
        InvalidParameter,
        "dynamic_masks",
        ("only supported with duration 5",),
    ),
    (
        "static_mask with data: prefix",
        body(static_mask="data:image/png;base64,AAAA"),
        InvalidMedia,
        "static_mask",
        ("strip",),
    ),
    (
        "seven dynamic masks",
        body(dynamic_masks=[group()] * 7),
        InvalidParameter,
        "dynamic_masks",
        ("at most 6",),
    ),
    (
        "empty dynamic masks",
        body(dynamic_masks=[]),
        InvalidParameter,
        "dynamic_masks",
        ("at least 1",),
    ),
    (
        "dynamic_masks not an array",
        body(dynamic_masks=group()),
        InvalidParameter,
        "dynamic_masks",
        ("array",),
    ),
    (
        "dynamic mask without mask",
        body(dynamic_masks=[{"trajectories": TRACK}]),
        InvalidParameter,
        "dynamic_masks.0.mask",
        ("required",),
    ),
    (
        "dynamic mask with data: prefix",
        body(dynamic_masks=[group(), group(mask="data:image/png;base64,AAAA")]),
        InvalidMedia,
        "dynamic_masks.1.mask",
        ("strip",),
    ),
    (
        "dynamic mask bad base64",
        body(dynamic_masks=[group(mask="%%%%")]),
        InvalidParameter,
        "dynamic_masks.0.mask",
        ("base64",),
    ),
    (
        "trajectory of 1 point",
        body(dynamic_masks=[group(points=TRACK[:1])]),
        InvalidParameter,
        "dynamic_masks.0.trajectories",
        ("at least 2",),
    ),
    (
        "trajectory of 78 points",
        body(dynamic_masks=[group(points=[{"x": 1, "y": 1}] * 78)]),
        InvalidParameter,
        "dynamic_masks.0.trajectories",
        ("at most 77",),
    ),
    (
        "trajectory missing",
        body(dynamic_masks=[{"mask": PNG_B64}]),
        InvalidParameter,
        "dynamic_masks.0.trajectories",
        ("required",),
    ),
    (
        "point with negative x",
        body(dynamic_masks=[group(points=[{"x": -1, "y": 0}, {"x": 1, "y": 1}])]),
        InvalidParameter,
        "dynamic_masks.0.trajectories.0.x",
        (">= 0", "-1"),
    ),
    (
        "point without y",
        body(dynamic_masks=[group(points=[{"x": 1, "y": 0}, {"x": 1}])]),
        InvalidParameter,
        "dynamic_masks.0.trajectories.1.y",
        ("required",),
    ),
    (
        "point with a string",
        body(dynamic_masks=[group(points=[{"x": "1", "y": 0}, {"x": 1, "y": 1}])]),
        InvalidParameter,
        "dynamic_masks.0.trajectories.0.x",
        ("number", "string"),
    ),
    (
        "point with z",
        body(dynamic_masks=[group(points=[{"x": 1, "y": 0, "z": 1}, {"x": 1, "y": 1}])]),
        InvalidParameter,
        "dynamic_masks.0.trajectories.0.z",
        ("unknown parameter", "x, y"),
    ),
    (
        "unknown field in a dynamic mask",
        body(dynamic_masks=[{**group(), "speed": 2}]),
        InvalidParameter,
        "dynamic_masks.0.speed",
        ("unknown parameter", "mask, trajectories"),
    ),
    # the other parameters
    ("prompt empty", body(prompt=""), InvalidParameter, "prompt", ("empty",)),
    ("prompt blank", body(prompt="  "), InvalidParameter, "prompt", ("blank",)),
    ("prompt 2501", body(prompt="p" * 2501), InvalidParameter, "prompt", ("2500",)),
    (
        "negative_prompt 2501",
        body(negative_prompt="n" * 2501),
        InvalidParameter,
        "negative_prompt",
        ("2500",),
    ),
    ("cfg_scale 1.5", body(cfg_scale=1.5), InvalidParameter, "cfg_scale", ("between 0 and 1",)),
    ("cfg_scale string", body(cfg_scale="0.5"), InvalidParameter, "cfg_scale", ("number",)),
    ("mode max", body(mode="max"), InvalidParameter, "mode", ("std, pro",)),
    ("duration 7", body(duration=7), InvalidParameter, "duration", ("5, 10",)),
    ("duration null", body(duration=None), InvalidParameter, "duration", ("5, 10",)),
    (
        "aspect_ratio is not a parameter",
        body(aspect_ratio="16:9"),
        InvalidParameter,
        "aspect_ratio",
        ("unknown parameter", f"{MODEL} accepts", "image_tail", "dynamic_masks"),
    ),
    (
        "callback ftp",
        body(callback_url="ftp://x/y"),
        InvalidParameter,
        "callback_url",
        ("http or https",),
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


def params_of(**extra: Any) -> dict[str, Any]:
    return validate_request(body(**extra)).params


def test_media_refs_paths_and_rules() -> None:
    refs = media_refs(MODEL, params_of(static_mask=PNG_B64, dynamic_masks=[group(), group()]))
    assert [(r.param, r.kind) for r in refs] == [
        ("image", "image"),
        ("static_mask", "image"),
        ("dynamic_masks.0.mask", "image"),
        ("dynamic_masks.1.mask", "image"),
    ]
    assert refs[0].value == IMG_URL
    assert refs[0].is_url
    assert not refs[1].is_url
    assert refs[0].rules == ImageRules(max_bytes=10 * 1024 * 1024, min_side=300)
    assert refs[0].rules.aspect_range == (0.4, 2.5)
    for mask in refs[1:]:
        assert isinstance(mask.rules, ImageRules)
        assert mask.rules.aspect_range is None  # bound to the image's by a relation instead
        assert mask.rules.min_side == 300
        assert mask.rules.formats == {"JPEG", "PNG"}


def test_media_refs_image_tail_has_no_aspect_limit() -> None:
    refs = media_refs(MODEL, params_of(image_tail=PNG_B64))
    assert [r.param for r in refs] == ["image", "image_tail"]
    assert isinstance(refs[1].rules, ImageRules)
    assert refs[1].rules.aspect_range is None
    assert refs[1].rules.max_bytes == 10 * 1024 * 1024


RELATED = params_of(static_mask=PNG_B64, dynamic_masks=[group(), group()])
PASSING_FACTS: list[tuple[str, dict[str, MediaFacts]]] = [
    ("nothing known yet", {}),
    ("only the image", {"image": image(1920, 1080)}),
    (
        "masks of the image's aspect at another resolution",
        {
            "image": image(1920, 1080),
            "static_mask": image(960, 540),
            "dynamic_masks.0.mask": image(960, 540),
            "dynamic_masks.1.mask": image(960, 540),
        },
    ),
    (
        "mask aspect within the 1% tolerance",
        {"image": image(1921, 1080), "static_mask": image(1000, 566)},
    ),
    (
        "masks alone agree",
        {"static_mask": image(640, 360), "dynamic_masks.1.mask": image(640, 360)},
    ),
]


@pytest.mark.parametrize(("case", "facts"), PASSING_FACTS, ids=[c[0] for c in PASSING_FACTS])
def test_relations_pass(case: str, facts: dict[str, MediaFacts]) -> None:
    check_media_relations(MODEL, RELATED, facts)


FAILING_FACTS: list[tuple[str, dict[str, MediaFacts], type[RequestError], str, tuple[str, ...]]] = [
    (
        "static mask of another aspect",
        {"image": image(1920, 1080), "static_mask": image(1000, 1000)},
        InvalidMedia,
        "static_mask",
        ("aspect ratio of image", "1000x1000", "1920x1080"),
    ),
    (
        "dynamic mask just outside the tolerance",
        {"image": image(1000, 1000), "dynamic_masks.1.mask": image(1000, 985)},
        InvalidMedia,
        "dynamic_masks.1.mask",
        ("aspect ratio of image",),
    ),
    (
        "masks of two resolutions",
        {
            "image": image(1920, 1080),
            "static_mask": image(1920, 1080),
            "dynamic_masks.0.mask": image(960, 540),
        },
        InvalidMedia,
        "dynamic_masks.0.mask",
        ("same resolution", "960x540", "static_mask is 1920x1080"),
    ),
    (
        "masks of two resolutions, image not known yet",
        {"dynamic_masks.0.mask": image(640, 360), "dynamic_masks.1.mask": image(1280, 720)},
        InvalidMedia,
        "dynamic_masks.1.mask",
        ("same resolution",),
    ),
]


@pytest.mark.parametrize(
    ("case", "facts", "error", "param", "words"),
    FAILING_FACTS,
    ids=[c[0] for c in FAILING_FACTS],
)
def test_relations_fail(
    case: str,
    facts: dict[str, MediaFacts],
    error: type[RequestError],
    param: str,
    words: tuple[str, ...],
) -> None:
    with pytest.raises(RequestError) as caught:
        check_media_relations(MODEL, RELATED, facts)
    assert_refused(caught.value, error, param, words)


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ({"x": 0, "y": 0}, True),  # the bottom-left corner
        ({"x": 400, "y": 300}, True),  # the top-right corner: edges included
        ({"x": 399.5, "y": 0.5}, True),
        ({"x": 400.5, "y": 10}, False),
        ({"x": 10, "y": 301}, False),
    ],
)
def test_trajectory_points_inside_the_image(point: dict[str, float], inside: bool) -> None:
    params = params_of(dynamic_masks=[group(), group(points=[{"x": 1, "y": 1}, point])])
    facts = {"image": image(400, 300)}
    if inside:
        check_media_relations(MODEL, params, facts)
        return
    with pytest.raises(InvalidParameter) as caught:
        check_media_relations(MODEL, params, facts)
    assert_refused(
        caught.value,
        InvalidParameter,
        "dynamic_masks.1.trajectories",
        ("inside the input image", "point 1", "400x300", "bottom-left"),
    )
    # Unknown image: nothing to check against yet.
    check_media_relations(MODEL, params, {})


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1920, 1080), (1280, 720)),
        ((1080, 1920), (720, 1280)),
        ((1000, 1000), (720, 720)),
        ((1000, 400), (1800, 720)),  # 2.5:1, the widest allowed
        ((400, 1000), (720, 1800)),
        ((1024, 768), (960, 720)),
        ((1001, 999), (722, 720)),  # 721.44 -> the nearest even side
        ((333, 500), (720, 1082)),  # 1081.08 -> 1082 (even)
    ],
)
@pytest.mark.parametrize("mode", ["std", "pro"])
@pytest.mark.parametrize("duration", [5, 10])
def test_output_spec(
    size: tuple[int, int], expected: tuple[int, int], mode: str, duration: int
) -> None:
    params = params_of(mode=mode, duration=duration)
    spec = output_spec(MODEL, params, {"image": image(*size)})
    assert (spec.width, spec.height) == expected
    assert spec.width % 2 == 0
    assert spec.height % 2 == 0
    assert min(spec.width, spec.height) == 720  # both modes (the seed)
    assert abs(spec.width / spec.height - size[0] / size[1]) < 2 / 720
    assert spec.fps == 30
    assert spec.frames == duration * 30
    assert spec.audio is False
    assert produces_video(MODEL)


def test_output_spec_needs_the_image() -> None:
    with pytest.raises(ValueError, match="'image'"):
        output_spec(MODEL, params_of())
    with pytest.raises(ValueError, match="'image'"):
        output_spec(MODEL, params_of(), {"static_mask": image(720, 720)})
