"""What every model's contract shares: common fields, numbers-as-strings, the per-model record.

A model's contract is a pydantic model (a subclass of :class:`KirinRequest`) plus a
:class:`ModelContract` record; ``registry`` holds one record per served model. The rules here:

- Types are strict: a number the seeds type as ``number`` must be a JSON number (``"0.5"`` and
  ``true`` are refused), a string must be a JSON string (``123`` is refused), and nothing is
  coerced silently. The one documented exception is :class:`StringOrInt`: numbers the seeds type
  as *strings* (``duration``, ``multi_prompt[].duration``, ``element_id``) are accepted as either a
  string of digits or an integer, and normalised to ``int``.
- ``null`` is accepted only for parameters that have no default (it means "not given"); a
  parameter with a default (``mode``, ``duration``, ``watermark_info`` ...) must be left out or
  given a real value. The JSON Schema says the same (``anyOf [..., {"type": "null"}]``).
- Unknown parameters are refused everywhere (``extra="forbid"``), nested objects included.
- Errors reach a client as :class:`~kirin_api.contract.errors.InvalidParameter` naming the
  parameter and the rule (:mod:`kirin_api.contract.messages`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from kirin_api.contract.job import OutputSpec
from kirin_api.contract.messages import describe_value, rule_error, translate_validation_error

__all__ = [
    "CALLBACK_URL_MAX_LENGTH",
    "EXTERNAL_TASK_ID_MAX_LENGTH",
    "CallbackUrl",
    "ContractModel",
    "ExternalTaskId",
    "KirinRequest",
    "ModelContract",
    "StringOrInt",
    "WatermarkInfo",
    "check_callback_url",
    "not_blank",
]

CALLBACK_URL_MAX_LENGTH = 2048
EXTERNAL_TASK_ID_MAX_LENGTH = 64


# ------------------------------------------------------------------------------------------------
# Common fields
# ------------------------------------------------------------------------------------------------


class ContractModel(BaseModel):
    """Base of every request object: strict types, unknown fields refused, no NaN/Infinity."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class WatermarkInfo(ContractModel):
    """Whether to also generate a watermarked result. Custom watermarks are not supported."""

    enabled: bool = Field(
        description="true: also produce a watermarked version of the result; false: do not"
    )


def not_blank(value: str) -> str:
    """Refuse a string made only of whitespace: it is as empty as ``""`` to a model."""
    if value and not value.strip():
        raise rule_error("must not be blank (it is only whitespace)")
    return value


_URL_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f]")


def check_callback_url(value: str) -> str:
    """``callback_url``: an absolute http(s) URL with a host, no whitespace or control characters.

    Whether the host is a public address is checked when the callback is sent (``net``), because
    names resolve differently over time; here only the shape is checked.
    """
    if _URL_FORBIDDEN_CHARS.search(value):
        raise rule_error("must be an http or https URL without spaces or control characters")
    try:
        parts = urlsplit(value)
        _ = parts.port  # parses the port: a bad one ("http://h:99999") raises ValueError
    except ValueError as exc:
        raise rule_error(f"must be a valid http or https URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        scheme = parts.scheme or "none"
        raise rule_error(f"must be an http or https URL; got scheme {scheme!r}")
    if not parts.hostname:
        raise rule_error("must be an http or https URL with a host, like https://example.com/hook")
    return value


CallbackUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=CALLBACK_URL_MAX_LENGTH,
        # The pattern is for the JSON Schema only; check_callback_url does the checking, with
        # messages that say which part is wrong.
        json_schema_extra={
            "format": "uri",
            "pattern": r"^[hH][tT][tT][pP][sS]?://[^\s/?#]+[^\s]*$",
        },
    ),
    AfterValidator(check_callback_url),
]
"""An http(s) URL of at most 2048 characters, with a host."""

ExternalTaskId = Annotated[str, Field(min_length=1, max_length=EXTERNAL_TASK_ID_MAX_LENGTH)]
"""The client's own task id: 1 to 64 characters (uniqueness per account is the store's check)."""


class KirinRequest(ContractModel):
    """Base of every model's request: the parameters all models share.

    Subclasses add the model's own parameters. ``model`` itself is not a field: the registry
    takes it out of the body to pick the contract.
    """

    watermark_info: WatermarkInfo = Field(
        default_factory=lambda: WatermarkInfo(enabled=False),
        description='Whether to also generate a watermarked result: {"enabled": boolean}',
    )
    callback_url: CallbackUrl | None = Field(
        default=None,
        description="http(s) URL that receives the task object on every status change",
    )
    external_task_id: ExternalTaskId | None = Field(
        default=None,
        description="Your own task id (at most 64 characters), unique within your account",
    )


# ------------------------------------------------------------------------------------------------
# Numbers that the seeds type as strings
# ------------------------------------------------------------------------------------------------

# A canonical decimal integer: no sign on zero, no leading zeros, no spaces, at most 19 digits
# (so int() never meets a pathological string). "05" is refused: the JSON Schema's string enum
# ("5", "10") would refuse it too, and the schema must say what the validator does.
_INT_PATTERN = r"0|-?[1-9][0-9]{0,18}"
_INT_STRING = re.compile(_INT_PATTERN)


@dataclass(frozen=True)
class StringOrInt:
    """``Annotated[int, StringOrInt(...)]``: an integer given as a JSON integer or a digit string.

    The seeds type some numbers as strings (``duration: "5"``) while clients naturally send
    integers; API.md says to accept both. The value is normalised to ``int``. A float with no
    fraction (``5.0``) counts as an integer, as JSON Schema's ``integer`` says; other floats
    (``5.5``), booleans, and strings other than a plain decimal integer (``"05"``, ``" 5"``,
    ``"5s"``) are refused. Constrain with ``options`` (an enum) or ``ge``/``le`` (a range);
    ``unit`` is named in messages.
    """

    options: tuple[int, ...] | None = None
    ge: int | None = None
    le: int | None = None
    unit: str = ""

    def _allowed(self) -> str:
        unit = f" ({self.unit})" if self.unit else ""
        if self.options is not None:
            return "must be one of " + ", ".join(str(o) for o in self.options) + unit
        if self.ge is not None and self.le is not None:
            return f"must be an integer from {self.ge} to {self.le}{unit}"
        if self.ge is not None:
            return f"must be an integer of at least {self.ge}{unit}"
        if self.le is not None:
            return f"must be an integer of at most {self.le}{unit}"
        return "must be an integer" + unit

    def validate(self, value: object) -> int:
        """Parse and check one value; raises a pydantic error that the translator understands."""
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float):
            if value.is_integer() and abs(value) < 2**63:
                number = int(value)
        elif isinstance(value, str) and _INT_STRING.fullmatch(value):
            number = int(value)
        if number is None:
            raise rule_error(
                f"{self._allowed()}, given as an integer or a string of digits; "
                f"got {describe_value(value)}"
            )
        in_range = (
            (self.options is None or number in self.options)
            and (self.ge is None or number >= self.ge)
            and (self.le is None or number <= self.le)
        )
        if not in_range:
            raise rule_error(f"{self._allowed()}; got {describe_value(value)}")
        return number

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.validate, serialization=core_schema.plain_serializer_function_ser_schema(int)
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        integer: dict[str, Any] = {"type": "integer"}
        string: dict[str, Any] = {"type": "string"}
        if self.options is not None:
            integer["enum"] = list(self.options)
            string["enum"] = [str(o) for o in self.options]
        else:
            string["pattern"] = f"^({_INT_PATTERN})$"
            if self.ge is not None:
                integer["minimum"] = self.ge
            if self.le is not None:
                integer["maximum"] = self.le
        if handler.mode == "serialization":
            return integer
        return {"anyOf": [string, integer]}


# ------------------------------------------------------------------------------------------------
# The per-model record
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelContract:
    """Everything the registry needs to serve one model; each model module defines one.

    ``output_spec`` receives the normalised params (as in ``ValidatedRequest.params``) and returns
    the exact video the model must produce. For models whose size depends on inputs (an image's
    aspect ratio), the worker refines it after probing the media.
    """

    id: str
    request: type[KirinRequest]
    output_spec: Callable[[dict[str, Any]], OutputSpec]
    description: str

    def parse(self, params: dict[str, Any]) -> KirinRequest:
        """Validate the body's parameters (without ``model``) or raise ``InvalidParameter``."""
        try:
            return self.request.model_validate(params)
        except ValidationError as exc:
            raise translate_validation_error(exc, self.request, root_name=self.id) from None
