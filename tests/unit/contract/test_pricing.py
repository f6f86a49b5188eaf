"""Pricing: Decimal prices per model, mode and duration; overrides from a TOML mapping; discount."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from typing import Any

import pytest

from kirin_api.contract.pricing import DEFAULT_PRICES, PricingTable, format_cost
from kirin_api.contract.registry import validate_request

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
