"""What a task costs, in USD, as :class:`~decimal.Decimal` (never float: money must add up).

The default table below is **this project's own default**, chosen so that a fresh server reports
plausible numbers; it is not anyone's list price. Operators override it with a TOML file that the
settings layer reads (``tomllib``) and hands to :meth:`PricingTable.from_mapping`.

Shape of an override file (prices are strings, so they stay exact decimals)::

    discount = "0"          # optional: USD taken off every task's price (usage.discount)

    [kirin_v1_t2v.std]      # [<model id>.<mode>]
    5 = "0.14"              # <duration in seconds> = "<price in USD>"
    10 = "0.28"

    [kirin_v1_t2v.pro]
    5 = "0.49"
    10 = "0.98"

The dotted form ``[kirin_v1_t2v]`` / ``std.5 = "0.14"`` is the same TOML. Entries in the file
replace the defaults for that model, mode and duration; everything else keeps its default. Prices
may also be TOML integers, or floats when the file is parsed with
``tomllib.load(f, parse_float=decimal.Decimal)``; plain floats are refused because they are not
exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from kirin_api.contract.registry import KNOWN_MODELS

__all__ = ["DEFAULT_PRICES", "MODES", "PricingTable", "format_cost", "parse_price"]

# Modes a price can be given for. Models without a mode (none are served yet) would use "std".
MODES: tuple[str, ...] = ("std", "pro")

# model -> mode -> duration in seconds -> price in USD. This project's defaults (see above).
DEFAULT_PRICES: Mapping[str, Mapping[str, Mapping[int, Decimal]]] = {
    "kirin_v1_t2v": {
        "std": {5: Decimal("0.14"), 10: Decimal("0.28")},
        "pro": {5: Decimal("0.49"), 10: Decimal("0.98")},
    },
}

_FOUR_PLACES = Decimal("0.0001")


def format_cost(amount: Decimal) -> str:
    """``usage.cost`` as the API writes it: four decimal places, half up (``"0.1400"``)."""
    return str(amount.quantize(_FOUR_PLACES, rounding=ROUND_HALF_UP))


def parse_price(value: object, *, where: str) -> Decimal:
    """A non-negative, finite decimal from a string, int or Decimal; ``ValueError`` otherwise.

    ``where`` names the entry in messages (``kirin_v1_t2v.std.5``).
    """
    if isinstance(value, bool):
        raise ValueError(f'{where}: expected a decimal string such as "0.14"; got {value!r}')
    if isinstance(value, float):
        raise ValueError(
            f'{where}: write the price as a string such as "0.14" (got the float {value!r}, '
            "which is not an exact decimal)"
        )
    if isinstance(value, Decimal):
        price = value
    elif isinstance(value, int | str):
        try:
            price = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{where}: {value!r} is not a decimal number of USD") from None
    else:
        raise ValueError(f'{where}: expected a decimal string such as "0.14"; got {value!r}')
    if not price.is_finite():
        raise ValueError(f"{where}: {value!r} is not a finite decimal number of USD")
    if price < 0:
        raise ValueError(f"{where}: a price cannot be negative; got {value!r}")
    return price


def _parse_duration(key: object, *, where: str) -> int:
    text = str(key)
    if isinstance(key, bool) or not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(f"{where}: duration {key!r} must be a whole number of seconds, like 5")
    return int(text)


class PricingTable:
    """Prices per model, mode and duration, and the discount reported in ``usage.discount``.

    ``discount`` is an amount in USD taken off each task's price; :meth:`cost` is what the
    account is charged (never below zero) and :meth:`discount_for` the part that was taken off.
    """

    def __init__(
        self,
        prices: Mapping[str, Mapping[str, Mapping[int, Decimal]]] | None = None,
        *,
        discount: Decimal = Decimal("0"),
    ) -> None:
        if not isinstance(discount, Decimal):
            raise TypeError("discount must be a Decimal")
        self._prices: dict[str, dict[str, dict[int, Decimal]]] = {
            model: {mode: dict(by_duration) for mode, by_duration in by_mode.items()}
            for model, by_mode in (DEFAULT_PRICES if prices is None else prices).items()
        }
        self.discount = parse_price(discount, where="discount")

    @classmethod
    def default(cls, *, discount: Decimal = Decimal("0")) -> PricingTable:
        """The built-in table (:data:`DEFAULT_PRICES`) with ``discount``."""
        return cls(discount=discount)

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        *,
        discount: Decimal | None = None,
        base: PricingTable | None = None,
    ) -> PricingTable:
        """A table from a parsed TOML override file (shape in the module docstring).

        Entries override ``base`` (the defaults when left out). ``discount``, when given (from
        the settings), wins over a ``discount`` key in the file. Raises ``ValueError`` naming the
        entry at fault for an unknown model or mode, a duration that is not a whole number of
        seconds, or a price that is negative, a float, or not a decimal.
        """
        start = base if base is not None else cls()
        prices = {
            model: {mode: dict(by_duration) for mode, by_duration in by_mode.items()}
            for model, by_mode in start._prices.items()
        }
        file_discount = start.discount
        for model, by_mode in data.items():
            if model == "discount":
                file_discount = parse_price(by_mode, where="discount")
                continue
            if model not in KNOWN_MODELS:
                raise ValueError(
                    f"pricing: unknown model {model!r}; known models: {', '.join(KNOWN_MODELS)}"
                )
            if not isinstance(by_mode, Mapping):
                raise ValueError(
                    f"pricing: [{model}] must be a table of modes ({', '.join(MODES)})"
                )
            for mode, by_duration in by_mode.items():
                if mode not in MODES:
                    raise ValueError(
                        f"pricing: {model}.{mode}: unknown mode {mode!r}; modes: "
                        + ", ".join(MODES)
                    )
                if not isinstance(by_duration, Mapping):
                    raise ValueError(
                        f'pricing: {model}.{mode} must be a table of duration = "price"'
                    )
                for key, value in by_duration.items():
                    where = f"pricing: {model}.{mode}.{key}"
                    duration = _parse_duration(key, where=where)
                    price = parse_price(value, where=where)
                    prices.setdefault(model, {}).setdefault(mode, {})[duration] = price
        return cls(prices, discount=file_discount if discount is None else discount)

    def list_price(self, model: str, params: Mapping[str, Any]) -> Decimal:
        """The price before discount of a validated request (``mode`` and ``duration`` from
        ``params``; a model without ``mode`` is priced as ``std``).

        Raises ``LookupError`` when the table has no price for it: a configuration error, which
        the server should catch at start-up with :meth:`missing`.
        """
        mode = str(params.get("mode", "std"))
        duration = int(params["duration"])
        try:
            return self._prices[model][mode][duration]
        except KeyError:
            raise LookupError(
                f"no price for {model} mode {mode} duration {duration}s in the pricing table"
            ) from None

    def discount_for(self, model: str, params: Mapping[str, Any]) -> Decimal:
        """The discount taken off this request's price (at most the price)."""
        return min(self.discount, self.list_price(model, params))

    def cost(self, model: str, params: Mapping[str, Any]) -> Decimal:
        """What the account is charged for this request: list price less the discount."""
        return self.list_price(model, params) - self.discount_for(model, params)

    def discount_value(self) -> int | float:
        """The table's discount as a JSON number for ``usage.discount`` (an int when whole).

        The API types ``usage.discount`` as a number, so this is the one place a float may
        appear; every sum is done on Decimals before it.
        """
        if self.discount == self.discount.to_integral_value():
            return int(self.discount)
        return float(self.discount)

    def usage(self, model: str, params: Mapping[str, Any]) -> dict[str, str | Decimal]:
        """``usage`` of a completed task: ``{"cost": "0.1400", "discount": Decimal("0")}``.

        ``discount`` stays a Decimal: the JSON layer writes it as a number (API.md).
        """
        return {
            "cost": format_cost(self.cost(model, params)),
            "discount": self.discount_for(model, params),
        }

    def missing(self, model: str, modes_and_durations: Mapping[str, tuple[int, ...]]) -> list[str]:
        """The ``mode/duration`` pairs of ``model`` that have no price (empty when all do)."""
        table = self._prices.get(model, {})
        return [
            f"{mode}/{duration}"
            for mode, durations in modes_and_durations.items()
            for duration in durations
            if duration not in table.get(mode, {})
        ]

    def as_mapping(self) -> dict[str, dict[str, dict[str, str]]]:
        """The table in the TOML shape (prices as strings), e.g. to show an operator."""
        return {
            model: {
                mode: {str(d): str(p) for d, p in sorted(by_duration.items())}
                for mode, by_duration in by_mode.items()
            }
            for model, by_mode in self._prices.items()
        }
