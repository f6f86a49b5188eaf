"""Pricing: Decimal prices per model, mode and duration (per second of the reference video for
motion control, flat for custom elements); overrides from a TOML mapping; discount."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from typing import Any

import pytest

from kirin_api.contract.pricing import DEFAULT_PRICES, PricingTable, billed_seconds, format_cost
from kirin_api.contract.registry import KNOWN_MODELS, validate_request

MODEL = "kirin_v1_t2v"


def params(**overrides: Any) -> dict[str, Any]:
    return validate_request({"model": MODEL, "prompt": "p", **overrides}).params


@pytest.mark.parametrize(
    ("mode", "duration", "cost"),
    [
        ("std", 5, "0.1400"),
        ("std", "10", "0.2800"),
        ("pro", "5", "0.4900"),
        ("pro", 10, "0.9800"),
    ],
)
def test_default_costs(mode: str, duration: int | str, cost: str) -> None:
    table = PricingTable()
    amount = table.cost(MODEL, params(mode=mode, duration=duration))
    assert isinstance(amount, Decimal)
    assert format_cost(amount) == cost


def test_default_mode_and_duration() -> None:
    assert PricingTable().cost(MODEL, params()) == Decimal("0.14")


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("0.14"), "0.1400"),
        (Decimal("0"), "0.0000"),
        (Decimal("1"), "1.0000"),
        (Decimal("0.00005"), "0.0001"),  # half up
        (Decimal("0.00004"), "0.0000"),
        (Decimal("12.3456789"), "12.3457"),
        (Decimal("0.1") + Decimal("0.2"), "0.3000"),
    ],
)
def test_format_cost(amount: Decimal, text: str) -> None:
    assert format_cost(amount) == text


def test_override_from_toml_nested_tables() -> None:
    data = tomllib.loads(
        """
        discount = "0.04"
        [kirin_v1_t2v.std]
        5 = "0.10"
        [kirin_v1_t2v.pro]
        10 = "1.50"
        """
    )
    table = PricingTable.from_mapping(data)
    assert table.cost(MODEL, params()) == Decimal("0.06")  # 0.10 - 0.04
    assert table.list_price(MODEL, params(mode="pro", duration=10)) == Decimal("1.50")
    # entries not in the file keep their defaults
    assert table.list_price(MODEL, params(duration=10)) == Decimal("0.28")
    assert table.discount == Decimal("0.04")


def test_override_from_toml_dotted_keys() -> None:
    data = tomllib.loads('[kirin_v1_t2v]\nstd.5 = "0.2"\npro.5 = 1\n')
    table = PricingTable.from_mapping(data)
    assert table.list_price(MODEL, params()) == Decimal("0.2")
    assert table.list_price(MODEL, params(mode="pro")) == Decimal("1")


def test_toml_floats_parsed_as_decimal_are_accepted() -> None:
    data = tomllib.loads("[kirin_v1_t2v.std]\n5 = 0.15\n", parse_float=Decimal)
    assert PricingTable.from_mapping(data).list_price(MODEL, params()) == Decimal("0.15")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"kirin_v9": {"std": {"5": "0.1"}}}, ("unknown model", "kirin_v9", MODEL)),
        ({MODEL: {"ultra": {"5": "0.1"}}}, ("unknown mode", "ultra", "std, pro")),
        ({MODEL: {"std": {"5": "-0.01"}}}, ("negative", f"{MODEL}.std.5")),
        ({MODEL: {"std": {"5": "abc"}}}, ("not a decimal", f"{MODEL}.std.5")),
        ({MODEL: {"std": {"5": "NaN"}}}, ("finite",)),
        ({MODEL: {"std": {"5": "Infinity"}}}, ("finite",)),
        ({MODEL: {"std": {"5": 0.14}}}, ("float", "string")),
        ({MODEL: {"std": {"5": True}}}, ("decimal string",)),
        ({MODEL: {"std": {"5": ["0.1"]}}}, ("decimal string",)),
        ({MODEL: {"std": {"five": "0.1"}}}, ("whole number of seconds",)),
        ({MODEL: {"std": {"0": "0.1"}}}, ("whole number of seconds",)),
        ({MODEL: {"std": "0.1"}}, ("table",)),
        ({MODEL: "0.1"}, ("table of modes",)),
        ({"discount": "-1"}, ("discount", "negative")),
        ({"discount": 0.5}, ("discount", "float")),
    ],
)
def test_from_mapping_refuses(data: dict[str, Any], words: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=r".") as caught:
        PricingTable.from_mapping(data)
    for word in words:
        assert word in str(caught.value), f"{word!r} not in {caught.value}"


def test_discount_is_reported_and_never_makes_cost_negative() -> None:
    table = PricingTable(discount=Decimal("0.20"))
    assert table.usage(MODEL, params()) == {"cost": "0.0000", "discount": Decimal("0.14")}
    assert table.usage(MODEL, params(mode="pro")) == {"cost": "0.2900", "discount": Decimal("0.20")}


def test_default_discount_is_zero() -> None:
    table = PricingTable()
    assert table.discount == Decimal("0")
    assert table.usage(MODEL, params()) == {"cost": "0.1400", "discount": Decimal("0")}


def test_discount_must_be_decimal() -> None:
    with pytest.raises(TypeError):
        PricingTable(discount=0.1)  # type: ignore[arg-type]


def test_missing_price_is_a_lookup_error() -> None:
    table = PricingTable({MODEL: {"std": {5: Decimal("0.14")}}})
    with pytest.raises(LookupError, match="kirin_v1_t2v mode pro duration 5s"):
        table.cost(MODEL, params(mode="pro"))
    assert table.missing(MODEL, {"std": (5, 10), "pro": (5,)}) == ["std/10", "pro/5"]
    assert PricingTable().missing(MODEL, {"std": (5, 10), "pro": (5, 10)}) == []


def test_defaults_are_decimal_and_not_mutated_by_overrides() -> None:
    for by_mode in DEFAULT_PRICES.values():
        for by_duration in by_mode.values():
            assert all(isinstance(p, Decimal) for p in by_duration.values())
    PricingTable.from_mapping({MODEL: {"std": {"5": "9"}}})
    assert DEFAULT_PRICES[MODEL]["std"][5] == Decimal("0.14")
    assert PricingTable().as_mapping()[MODEL]["std"] == {"5": "0.14", "10": "0.28"}


def test_default_constructor_and_discount_value() -> None:
    table = PricingTable.default(discount=Decimal("0"))
    assert table.cost(MODEL, params()) == Decimal("0.14")
    assert table.discount_value() == 0
    assert isinstance(table.discount_value(), int)
    assert PricingTable.default(discount=Decimal("0.05")).discount_value() == 0.05


def test_settings_discount_wins_over_the_file() -> None:
    data = {"discount": "0.10", MODEL: {"std": {"5": "0.20"}}}
    assert PricingTable.from_mapping(data).discount == Decimal("0.10")
    table = PricingTable.from_mapping(data, discount=Decimal("0.01"))
    assert table.discount == Decimal("0.01")
    assert format_cost(table.cost(MODEL, params())) == "0.1900"


# ---------------------------------------------------------------------------------------------
# Every model
# ---------------------------------------------------------------------------------------------

IMG = "https://example.com/a.png"
VID = "https://example.com/v.mp4"
MOTION = "kirin_v3_motion_control"
ELEMENTS = "kirin_custom_elements"


def params_of(model: str, **fields: Any) -> dict[str, Any]:
    return validate_request({"model": model, **fields}).params


def motion(**fields: Any) -> dict[str, Any]:
    base = {"image_url": IMG, "video_url": VID, "character_orientation": "image", "mode": "std"}
    return params_of(MOTION, **{**base, **fields})


@pytest.mark.parametrize(
    ("model", "fields", "cost"),
    [
        ("kirin_v1_i2v", {"image": IMG}, "0.1400"),
        ("kirin_v1_i2v", {"image": IMG, "mode": "pro", "duration": 10}, "0.9800"),
        ("kirin_v1_6_multi_i2v", {"image_list": [{"image": IMG}], "prompt": "p"}, "0.2000"),
        (
            "kirin_v1_6_multi_i2v",
            {"image_list": [{"image": IMG}], "prompt": "p", "mode": "pro", "duration": "10"},
            "1.4000",
        ),
        ("kirin_v3_i2v", {"image": IMG, "prompt": "p"}, "0.4200"),  # 5 s x 0.084
        ("kirin_v3_i2v", {"image": IMG, "prompt": "p", "duration": 3}, "0.2520"),
        ("kirin_v3_i2v", {"image": IMG, "prompt": "p", "mode": "pro", "duration": 15}, "1.6800"),
        ("kirin_v3_i2v", {"image": IMG, "prompt": "p", "sound": "on"}, "0.4200"),
        (
            ELEMENTS,
            {
                "element_name": "cat",
                "reference_type": "video_refer",
                "element_video_list": {"video_url": VID},
            },
            "0.0000",
        ),
    ],
)
def test_default_costs_of_every_model(model: str, fields: dict[str, Any], cost: str) -> None:
    assert format_cost(PricingTable().cost(model, params_of(model, **fields))) == cost


@pytest.mark.parametrize(
    ("seconds", "billed"),
    [(3.0, 3), (5.0, 5), (10.0, 10), (10.01, 10), (10.02, 11), (10.2, 11), (29.99, 30), (0, 0)],
)
def test_billed_seconds(seconds: float, billed: int) -> None:
    # 10.01 s is 300 frames at 30 fps: a 10 s output, billed 10 s; 10.02 s is 301 frames.
    assert billed_seconds(seconds) == billed


def test_billed_seconds_refuses_nonsense() -> None:
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="non-negative"):
            billed_seconds(bad)


@pytest.mark.parametrize(
    ("mode", "seconds", "cost"),
    [
        ("std", 3.0, "0.2100"),
        ("std", 10.2, "0.7700"),
        ("pro", 30.0, "3.3600"),
        ("pro", 7.5, "0.8960"),
    ],
)
def test_motion_control_is_priced_by_the_video(mode: str, seconds: float, cost: str) -> None:
    params = motion(mode=mode, character_orientation="video")
    assert format_cost(PricingTable().cost(MOTION, params, seconds=seconds)) == cost
    assert PricingTable().usage(MOTION, params, seconds=seconds)["cost"] == cost


def test_motion_control_needs_seconds_and_has_a_ceiling() -> None:
    table = PricingTable()
    with pytest.raises(ValueError, match="seconds="):
        table.cost(MOTION, motion())
    # Before the video is known: the longest video the orientation allows.
    assert table.max_cost(MOTION, motion()) == Decimal("0.70")  # 10 s x 0.07
    assert table.max_cost(MOTION, motion(character_orientation="video", mode="pro")) == Decimal(
        "3.360"
    )
    # Other models: their cost.
    assert table.max_cost(MODEL, params()) == table.cost(MODEL, params()) == Decimal("0.14")
    with pytest.raises(LookupError, match="duration 2s"):
        table.cost(MOTION, motion(), seconds=2.0)


def test_every_model_is_fully_priced_by_default() -> None:
    table = PricingTable()
    for model in KNOWN_MODELS:
        assert table.missing(model) == [], model
    assert table.missing(MOTION) == []
    assert PricingTable({}, flat={}).missing(ELEMENTS) == ["flat"]
    assert PricingTable({}).missing("kirin_v1_i2v") == ["std/5", "std/10", "pro/5", "pro/10"]


def test_per_second_override_and_explicit_entries_win() -> None:
    data = tomllib.loads(
        """
        kirin_custom_elements = "0.05"
        [kirin_v3_motion_control.std]
        per_second = "0.10"
        30 = "2.00"
        """
    )
    table = PricingTable.from_mapping(data)
    assert table.list_price(MOTION, motion(), seconds=4) == Decimal("0.40")
    assert table.list_price(MOTION, motion(), seconds=30) == Decimal("2.00")
    assert table.list_price(MOTION, motion(mode="pro"), seconds=4) == Decimal("0.448")  # default
    elements = params_of(
        ELEMENTS,
        element_name="cat",
        reference_type="video_refer",
        element_video_list={"video_url": VID},
    )
    assert table.cost(ELEMENTS, elements) == Decimal("0.05")
    assert table.as_mapping()[ELEMENTS] == "0.05"
    assert table.as_mapping()[MOTION]["std"]["3"] == "0.30"


def test_discount_applies_to_every_model() -> None:
    table = PricingTable(discount=Decimal("0.10"))
    assert table.cost(MOTION, motion(), seconds=3) == Decimal("0.11")  # 0.21 - 0.10
    elements = params_of(
        ELEMENTS, element_name="c", reference_type="image_refer",
        element_image_list={"frontal_image": IMG, "refer_images": [{"image_url": IMG}]},
    )  # fmt: skip
    assert table.usage(ELEMENTS, elements) == {"cost": "0.0000", "discount": Decimal("0")}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({ELEMENTS: {"std": {"5": "0.1"}}}, ("flat price", ELEMENTS)),
        ({ELEMENTS: "-1"}, ("negative",)),
        ({MOTION: {"std": {"per_second": "x"}}}, ("per_second", "not a decimal")),
        ({MOTION: {"std": {"per_second": 0.1}}}, ("float",)),
        ({MOTION: "0.1"}, ("table of modes",)),
    ],
)
def test_from_mapping_refuses_flat_and_per_second_mistakes(
    data: dict[str, Any], words: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match=r".") as caught:
        PricingTable.from_mapping(data)
    for word in words:
        assert word in str(caught.value), f"{word!r} not in {caught.value}"
