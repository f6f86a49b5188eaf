"""What a task costs, in USD, as :class:`~decimal.Decimal` (never float: money must add up).

The default table below is **this project's own default**, chosen so that a fresh server reports
plausible numbers; it is not anyone's list price. Operators override it with a TOML file that the
settings layer reads (``tomllib``) and hands to :meth:`PricingTable.from_mapping`.

How each model is priced (the defaults, in USD):

==========================  =====================================  ==========================
model                       std                                    pro
==========================  =====================================  ==========================
kirin_v1_t2v                5 s 0.14, 10 s 0.28                    5 s 0.49, 10 s 0.98
kirin_v1_i2v                5 s 0.14, 10 s 0.28                    5 s 0.49, 10 s 0.98
kirin_v1_6_multi_i2v        5 s 0.20, 10 s 0.40                    5 s 0.70, 10 s 1.40
kirin_v3_i2v                0.084 per second, 3..15 s              0.112 per second, 3..15 s
kirin_v3_motion_control     0.07 per second, 3..30 s               0.112 per second, 3..30 s
kirin_custom_elements       free (a flat fee per task, default 0)
==========================  =====================================  ==========================

- Prices are per *mode* and *duration in whole seconds*; per-second defaults are written out as
  one entry per whole second (``duration x rate``), so every model has the same table shape.
  ``kirin_v3_i2v``'s ``sound`` does not change its price.
- ``kirin_v3_motion_control`` has no ``duration`` parameter: its video is as long as the reference
  video, which is only known once that video is decoded. It is billed by :func:`billed_seconds`:
  the output's length (``round(seconds * 30)`` frames) rounded **up** to whole seconds, so a
  10.2 s reference costs 11 s. Pass ``seconds=`` (the reference video's duration) to
  :meth:`PricingTable.cost`; before the video is known, :meth:`PricingTable.max_cost` is the most
  the task can cost (the longest video its ``character_orientation`` allows: 10 s or 30 s), which
  is what an account's balance must cover at submit.
- ``kirin_custom_elements`` makes no video: it has one flat price per task, free by default.

Shape of an override file (prices are strings, so they stay exact decimals)::

    discount = "0"          # optional: USD taken off every task's price (usage.discount)

    [kirin_v1_t2v.std]      # [<model id>.<mode>]
    5 = "0.14"              # <duration in seconds> = "<price in USD>"
    10 = "0.28"

    [kirin_v1_t2v.pro]
    5 = "0.49"
    10 = "0.98"

    [kirin_v3_motion_control.std]
    per_second = "0.08"     # sets every whole second the model can last (3..30) to 0.08 x seconds
    30 = "2.00"             # an explicit duration wins over per_second

    kirin_custom_elements = "0.01"   # a flat model takes a bare price, not a table
                                     # (write it before the first [table] of the file)

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

__all__ = [
    "BILLED_DURATIONS",
    "DEFAULT_FLAT_PRICES",
    "DEFAULT_PRICES",
    "FLAT_PRICED_MODELS",
    "MODES",
    "PER_SECOND_KEY",
    "PricingTable",
    "billed_seconds",
    "format_cost",
    "parse_price",
]

# Modes a price can be given for. Every model with a price per duration has both.
MODES: tuple[str, ...] = ("std", "pro")

# The whole seconds each duration-priced model can last: its duration options, or for motion
# control every length a reference video can give (3 to 30 s). per_second fills these.
BILLED_DURATIONS: Mapping[str, tuple[int, ...]] = {
    "kirin_v1_t2v": (5, 10),
    "kirin_v1_i2v": (5, 10),
    "kirin_v1_6_multi_i2v": (5, 10),
    "kirin_v3_i2v": tuple(range(3, 16)),
    "kirin_v3_motion_control": tuple(range(3, 31)),
}

# Models priced per task, whatever their parameters (they make no video).
FLAT_PRICED_MODELS: frozenset[str] = frozenset({"kirin_custom_elements"})

# Models whose length comes from a reference video rather than a duration parameter, with the
# longest video each character_orientation allows (the seed): max_cost bills that much.
_LENGTH_FROM_VIDEO: Mapping[str, Mapping[str, float]] = {
    "kirin_v3_motion_control": {"image": 10.0, "video": 30.0},
}

# The key of an override table that prices every whole second of a model at one rate.
PER_SECOND_KEY = "per_second"

_FPS = 30


def _per_second(model: str, rate: str) -> dict[int, Decimal]:
    return {seconds: Decimal(rate) * seconds for seconds in BILLED_DURATIONS[model]}


# model -> mode -> duration in seconds -> price in USD. This project's defaults (see above).
DEFAULT_PRICES: Mapping[str, Mapping[str, Mapping[int, Decimal]]] = {
    "kirin_v1_t2v": {
        "std": {5: Decimal("0.14"), 10: Decimal("0.28")},
        "pro": {5: Decimal("0.49"), 10: Decimal("0.98")},
    },
    "kirin_v1_i2v": {
        "std": {5: Decimal("0.14"), 10: Decimal("0.28")},
        "pro": {5: Decimal("0.49"), 10: Decimal("0.98")},
    },
    "kirin_v1_6_multi_i2v": {
        "std": {5: Decimal("0.20"), 10: Decimal("0.40")},
        "pro": {5: Decimal("0.70"), 10: Decimal("1.40")},
    },
    "kirin_v3_i2v": {
        "std": _per_second("kirin_v3_i2v", "0.084"),
        "pro": _per_second("kirin_v3_i2v", "0.112"),
    },
    "kirin_v3_motion_control": {
        "std": _per_second("kirin_v3_motion_control", "0.07"),
        "pro": _per_second("kirin_v3_motion_control", "0.112"),
    },
}

# model -> price of one task in USD, for FLAT_PRICED_MODELS. This project's defaults: free.
DEFAULT_FLAT_PRICES: Mapping[str, Decimal] = {"kirin_custom_elements": Decimal("0")}

_FOUR_PLACES = Decimal("0.0001")


def format_cost(amount: Decimal) -> str:
    """``usage.cost`` as the API writes it: four decimal places, half up (``"0.1400"``)."""
    return str(amount.quantize(_FOUR_PLACES, rounding=ROUND_HALF_UP))


def billed_seconds(seconds: float) -> int:
    """The whole seconds a video of ``seconds`` is billed for: its length at 30 fps
    (``round(seconds * 30)`` frames, as the output is made) rounded up to a whole second.

    Integer arithmetic on frames, so that 10.0 s is 10 and not 11 after a float's last digit.
    """
    if not seconds >= 0:
        raise ValueError(f"seconds must be a non-negative number; got {seconds!r}")
    frames = round(seconds * _FPS)
    return -(-frames // _FPS)


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
        raise ValueError(
            f"{where}: duration {key!r} must be a whole number of seconds, like 5 "
            f"(or {PER_SECOND_KEY})"
        )
    return int(text)


class PricingTable:
    """Prices per model, mode and duration (flat per task for :data:`FLAT_PRICED_MODELS`), and
    the discount reported in ``usage.discount``.

    ``discount`` is an amount in USD taken off each task's price; :meth:`cost` is what the
    account is charged (never below zero) and :meth:`discount_for` the part that was taken off.
    Every method that prices a request takes ``seconds``: the reference video's duration, needed
    (only) by ``kirin_v3_motion_control`` (module docstring).
    """

    def __init__(
        self,
        prices: Mapping[str, Mapping[str, Mapping[int, Decimal]]] | None = None,
        *,
        discount: Decimal = Decimal("0"),
        flat: Mapping[str, Decimal] | None = None,
    ) -> None:
        if not isinstance(discount, Decimal):
            raise TypeError("discount must be a Decimal")
        self._prices: dict[str, dict[str, dict[int, Decimal]]] = {
            model: {mode: dict(by_duration) for mode, by_duration in by_mode.items()}
            for model, by_mode in (DEFAULT_PRICES if prices is None else prices).items()
        }
        self._flat: dict[str, Decimal] = dict(DEFAULT_FLAT_PRICES if flat is None else flat)
        self.discount = parse_price(discount, where="discount")

    @classmethod
    def default(cls, *, discount: Decimal = Decimal("0")) -> PricingTable:
        """The built-in table (:data:`DEFAULT_PRICES`, :data:`DEFAULT_FLAT_PRICES`)."""
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
        seconds, a ``per_second`` for a model without a duration range, a table for a flat-priced
        model (or a bare price for another), or a price that is negative, a float, or not a
        decimal.
        """
        start = base if base is not None else cls()
        prices = {
            model: {mode: dict(by_duration) for mode, by_duration in by_mode.items()}
            for model, by_mode in start._prices.items()
        }
        flat = dict(start._flat)
        file_discount = start.discount
        for model, by_mode in data.items():
            if model == "discount":
                file_discount = parse_price(by_mode, where="discount")
                continue
            if model not in KNOWN_MODELS:
                raise ValueError(
                    f"pricing: unknown model {model!r}; known models: {', '.join(KNOWN_MODELS)}"
                )
            if model in FLAT_PRICED_MODELS:
                if isinstance(by_mode, Mapping):
                    raise ValueError(
                        f"pricing: {model} has one flat price per task: write "
                        f'{model} = "0.01", not a table'
                    )
                flat[model] = parse_price(by_mode, where=f"pricing: {model}")
                continue
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
                table = prices.setdefault(model, {}).setdefault(mode, {})
                # per_second first, so that explicit durations in the same table win over it.
                if PER_SECOND_KEY in by_duration:
                    where = f"pricing: {model}.{mode}.{PER_SECOND_KEY}"
                    rate = parse_price(by_duration[PER_SECOND_KEY], where=where)
                    for seconds in BILLED_DURATIONS[model]:
                        table[seconds] = rate * seconds
                for key, value in by_duration.items():
                    if key == PER_SECOND_KEY:
                        continue
                    where = f"pricing: {model}.{mode}.{key}"
                    duration = _parse_duration(key, where=where)
                    table[duration] = parse_price(value, where=where)
        return cls(prices, discount=file_discount if discount is None else discount, flat=flat)

    def _duration(self, model: str, params: Mapping[str, Any], seconds: float | None) -> int:
        if model in _LENGTH_FROM_VIDEO:
            if seconds is None:
                raise ValueError(
                    f"{model} is priced by the length of its reference video: pass seconds= "
                    "(the video's duration), or use max_cost before the video is known"
                )
            return billed_seconds(seconds)
        return int(params["duration"])

    def list_price(
        self, model: str, params: Mapping[str, Any], *, seconds: float | None = None
    ) -> Decimal:
        """The price before discount of a validated request: by ``mode`` (a model without one is
        priced as ``std``) and ``duration`` from ``params``; for ``kirin_v3_motion_control`` by
        :func:`billed_seconds` of ``seconds``, the reference video's duration (``ValueError``
        without it); for a flat-priced model, its flat price.

        Raises ``LookupError`` when the table has no price for it: a configuration error, which
        the server should catch at start-up with :meth:`missing`.
        """
        if model in FLAT_PRICED_MODELS:
            try:
                return self._flat[model]
            except KeyError:
                raise LookupError(f"no flat price for {model} in the pricing table") from None
        mode = str(params.get("mode", "std"))
        duration = self._duration(model, params, seconds)
        try:
            return self._prices[model][mode][duration]
        except KeyError:
            raise LookupError(
                f"no price for {model} mode {mode} duration {duration}s in the pricing table"
            ) from None

    def discount_for(
        self, model: str, params: Mapping[str, Any], *, seconds: float | None = None
    ) -> Decimal:
        """The discount taken off this request's price (at most the price)."""
        return min(self.discount, self.list_price(model, params, seconds=seconds))

    def cost(
        self, model: str, params: Mapping[str, Any], *, seconds: float | None = None
    ) -> Decimal:
        """What the account is charged for this request: list price less the discount.

        ``seconds`` is the reference video's duration, required for ``kirin_v3_motion_control``
        and ignored for the other models.
        """
        return self.list_price(model, params, seconds=seconds) - self.discount_for(
            model, params, seconds=seconds
        )

    def max_cost(self, model: str, params: Mapping[str, Any]) -> Decimal:
        """The most this request can cost, known before its media are: what an account's
        balance must cover at submit. Equal to :meth:`cost` except for models whose length comes
        from a reference video, priced at the longest video their ``character_orientation``
        allows (10 s or 30 s).
        """
        longest = _LENGTH_FROM_VIDEO.get(model)
        if longest is None:
            return self.cost(model, params)
        return self.cost(model, params, seconds=longest[str(params["character_orientation"])])

    def discount_value(self) -> int | float:
        """The table's discount as a JSON number for ``usage.discount`` (an int when whole).

        The API types ``usage.discount`` as a number, so this is the one place a float may
        appear; every sum is done on Decimals before it.
        """
        if self.discount == self.discount.to_integral_value():
            return int(self.discount)
        return float(self.discount)

    def usage(
        self, model: str, params: Mapping[str, Any], *, seconds: float | None = None
    ) -> dict[str, str | Decimal]:
        """``usage`` of a completed task: ``{"cost": "0.1400", "discount": Decimal("0")}``.

        ``discount`` stays a Decimal: the JSON layer writes it as a number (API.md).
        """
        return {
            "cost": format_cost(self.cost(model, params, seconds=seconds)),
            "discount": self.discount_for(model, params, seconds=seconds),
        }

    def missing(
        self, model: str, modes_and_durations: Mapping[str, tuple[int, ...]] | None = None
    ) -> list[str]:
        """The ``mode/duration`` pairs of ``model`` that have no price (empty when all do).

        Left out, ``modes_and_durations`` is every mode with the model's
        :data:`BILLED_DURATIONS`. A flat-priced model answers ``["flat"]`` when its price is
        missing.
        """
        if model in FLAT_PRICED_MODELS:
            return [] if model in self._flat else ["flat"]
        if modes_and_durations is None:
            durations = BILLED_DURATIONS.get(model, ())
            modes_and_durations = {mode: durations for mode in MODES}
        table = self._prices.get(model, {})
        return [
            f"{mode}/{duration}"
            for mode, durations in modes_and_durations.items()
            for duration in durations
            if duration not in table.get(mode, {})
        ]

    def as_mapping(self) -> dict[str, Any]:
        """The table in the TOML shape (prices as strings), e.g. to show an operator: a table
        of modes per duration-priced model, a bare price per flat-priced one."""
        out: dict[str, Any] = {
            model: {
                mode: {str(d): str(p) for d, p in sorted(by_duration.items())}
                for mode, by_duration in by_mode.items()
            }
            for model, by_mode in self._prices.items()
        }
        out.update({model: str(price) for model, price in self._flat.items()})
        return out
