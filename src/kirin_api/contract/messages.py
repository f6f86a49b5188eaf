"""Messages a client can act on: our rules' errors (:func:`rule_error`), a client's value as it
wrote it (:func:`describe_value`), and pydantic's :class:`~pydantic.ValidationError` translated
into our :class:`~kirin_api.contract.errors.InvalidParameter` (:func:`translate_validation_error`),
with ``param`` as a dotted path (``camera_control.config.pan``, ``multi_prompt.2.duration``) and
a message that names the parameter, what was wrong, and what is allowed. Raw pydantic wording
never reaches a client.

Rules between fields are raised from validators with :func:`rule_error`, whose message is a
predicate (``"must ..."``, ``"is only supported ..."``) that the translator prefixes with the
dotted path of the parameter at fault.
"""

from __future__ import annotations

import json
import math
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from kirin_api.contract.errors import InvalidParameter

# The parameters every model takes besides its own; listed after a model's own parameters in
# messages and schemas, where a reader looks for them last.
COMMON_FIELDS: tuple[str, ...] = ("watermark_info", "callback_url", "external_task_id")

# The error type of our own rule errors; its context carries the message and, optionally, the
# dotted path (relative to where the validator ran) of the parameter at fault.
_RULE_ERROR = "kirin_rule"


def rule_error(message: str, *, param: str | None = None) -> PydanticCustomError:
    """An error to raise from a validator for a rule pydantic cannot express by itself.

    ``message`` is a predicate that reads after the parameter's dotted path ("must have exactly
    one ..."). ``param`` is the dotted path of the parameter at fault *relative to the model the
    validator belongs to*; leave it out for a field validator (the field's own path is used).
    """
    context: dict[str, Any] = {"message": message}
    if param is not None:
        context["param"] = param
    return PydanticCustomError(_RULE_ERROR, "{message}", context)


def describe_value(value: object) -> str:
    """A short JSON-flavoured rendering of a client's value for messages (``"7"``, ``5.5``, ``an
    object``), so the client can tell a string from a number."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, int | float):
        return _format_number(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 60 else text[:50] + '..." (' + str(len(value)) + " characters)"
    return type(value).__name__


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _format_number(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


# ------------------------------------------------------------------------------------------------
# ValidationError -> InvalidParameter
# ------------------------------------------------------------------------------------------------


def _dotted(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _models_in(annotation: Any) -> type[BaseModel] | None:
    """The first pydantic model class inside an annotation (through Optional, list, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin is None:
        return None
    args = get_args(annotation)
    if origin is Annotated:
        args = args[:1]
    for arg in args:
        found = _models_in(arg)
        if found is not None:
            return found
    return None


def _resolve(
    root: type[BaseModel], loc: Sequence[int | str]
) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """Walk ``loc`` from ``root``: the model that owns the last key, and that key's field."""
    owner: type[BaseModel] | None = root
    field: FieldInfo | None = None
    for index, part in enumerate(loc):
        if isinstance(part, int):
            continue  # a list index: stay on the item model found for the list
        if owner is None:
            return None, None
        field = owner.model_fields.get(part)
        if index == len(loc) - 1:
            return owner, field
        owner = _models_in(field.annotation) if field is not None else None
        field = None
    return owner, field


def _literal_options(annotation: Any) -> list[Any] | None:
    origin = get_origin(annotation)
    if origin is Literal:
        return list(get_args(annotation))
    if origin in (Union, types.UnionType, Annotated):
        for arg in get_args(annotation):
            found = _literal_options(arg)
            if found is not None:
                return found
    return None


def _bounds(field: FieldInfo | None) -> tuple[Any, Any]:
    low: Any = None
    high: Any = None
    if field is None:
        return low, high
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Le):
            high = item.le
    return low, high


def _accepted_fields(owner: type[BaseModel], extra: Sequence[str] = ()) -> list[str]:
    names = list(owner.model_fields)
    own = [n for n in names if n not in COMMON_FIELDS]
    common = [n for n in names if n in COMMON_FIELDS]
    return [*extra, *own, *common]


def _error_priority(error: Any) -> int:
    # An unknown name usually explains the rest ("promt" -> "prompt is required"): report it first.
    return 0 if error["type"] == "extra_forbidden" else 1


def translate_validation_error(
    exc: ValidationError,
    root: type[BaseModel],
    *,
    root_name: str,
    root_extra: Sequence[str] = ("model",),
) -> InvalidParameter:
    """Translate the first (most telling) error of ``exc`` into ``InvalidParameter``.

    ``root`` is the model that was validated, ``root_name`` names it in messages about unknown
    parameters (the model id), and ``root_extra`` lists the top-level names it accepts besides
    its fields (``model``, which the registry takes out before validating).
    """
    errors = sorted(exc.errors(include_url=False), key=_error_priority)
    error = errors[0]
    loc = [part for part in error["loc"] if isinstance(part, int | str)]
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    value = error.get("input")

    if kind == _RULE_ERROR:
        if ctx.get("param"):
            loc = [*loc, *str(ctx["param"]).split(".")]
        param = _dotted(loc)
        return InvalidParameter(f"{param} {ctx['message']}", param=param or None)

    param = _dotted(loc)
    owner, field = _resolve(root, loc)
    message = _message(kind, param, ctx, value, owner, field, root, root_name, root_extra)
    if len(errors) > 1:
        message += f" ({len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} not shown)"
    return InvalidParameter(message, param=param or None)


def _message(
    kind: str,
    param: str,
    ctx: dict[str, Any],
    value: object,
    owner: type[BaseModel] | None,
    field: FieldInfo | None,
    root: type[BaseModel],
    root_name: str,
    root_extra: Sequence[str],
) -> str:
    got = f"got {describe_value(value)}"
    if kind == "extra_forbidden":
        parent = param.rpartition(".")[0]
        if owner is None:
            return f"unknown parameter {param!r}"
        if owner is root and not parent:
            accepted = ", ".join(_accepted_fields(owner, root_extra))
            return f"unknown parameter {param!r}; {root_name} accepts: {accepted}"
        accepted = ", ".join(_accepted_fields(owner))
        return f"unknown parameter {param!r}; {parent} accepts: {accepted}"
    if kind == "missing":
        return f"{param} is required"
    if kind in ("string_type", "string_sub_type"):
        return f"{param} must be a string; got {_json_type(value)}"
    if kind == "string_too_short":
        minimum = ctx.get("min_length", 1)
        if minimum == 1:
            return f"{param} must not be empty"
        return f"{param} must be at least {minimum} characters long; {got}"
    if kind == "string_too_long":
        length = len(value) if isinstance(value, str) else "more"
        return f"{param} must be at most {ctx.get('max_length')} characters long; got {length}"
    if kind == "string_pattern_mismatch":
        return f"{param} must match the pattern {ctx.get('pattern')}; {got}"
    if kind in ("literal_error", "enum"):
        options = _literal_options(field.annotation) if field is not None else None
        allowed = ", ".join(str(o) for o in options) if options else str(ctx.get("expected"))
        return f"{param} must be one of {allowed}; {got}"
    if kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"):
        noun = "an integer" if kind.startswith("int") else "a number"
        low, high = _bounds(field)
        where = f" from {_fmt(low)} to {_fmt(high)}" if low is not None and high is not None else ""
        return (
            f"{param} must be {noun}{where} (a JSON number, not a string); got {_json_type(value)}"
        )
    if kind == "finite_number":
        return f"{param} must be a finite number; {got}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high = _bounds(field)
        if low is not None and high is not None:
            return f"{param} must be between {_fmt(low)} and {_fmt(high)}; {got}"
        bound = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">"}.get(
            kind, "<"
        )
        limit = next(iter(ctx.values()), "?")
        return f"{param} must be {bound} {_fmt(limit)}; {got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"{param} must be a boolean (true or false); got {_json_type(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type", "is_instance_of"):
        return f"{param} must be an object; got {_json_type(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"{param} must be an array; got {_json_type(value)}"
    if kind == "too_short":
        return f"{param} must have at least {ctx.get('min_length')} items; {got}"
    if kind == "too_long":
        return f"{param} must have at most {ctx.get('max_length')} items"
    if kind == "value_error":
        # A plain ValueError from a validator: its text is ours, written as a predicate.
        text = str(ctx.get("error", "is invalid"))
        return f"{param} {text}"
    # Anything not foreseen still names the parameter and the rule (pydantic's own words).
    return f"{param} is invalid: {ctx.get('expected') or kind.replace('_', ' ')}; {got}"


def _fmt(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _format_number(value)
    return str(value)
