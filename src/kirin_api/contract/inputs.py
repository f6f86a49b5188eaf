"""Field types and helpers shared by the models that take media and subjects.

- :data:`ImageInput`: an image given as an http(s) URL or as raw base64. Only the *shape* of the
  string is checked here; decoding (format, size, dimensions) is ``kirin_api.media``'s job, with
  the :class:`~kirin_api.contract.media.ImageRules` that ``registry.media_refs`` hands it.

  * A URL: scheme http or https (any case; normalised to lower case so that
    :attr:`~kirin_api.contract.media.MediaRef.is_url` recognises it), a host, a valid port, no
    spaces or control characters, at most :data:`URL_MAX_LENGTH` characters.
  * Raw base64: the standard alphabet (``A-Z a-z 0-9 + /``), ``=`` padding optional (at most
    two, only at the end), spaces, tabs and line breaks allowed anywhere (as MIME wraps it), and
    not cut short (a last group of one character cannot make a byte). This is exactly what
    ``kirin_api.media.images.decode_base64_image`` accepts, so the two doors agree; the size
    and the content are media's to check.
  * A ``data:`` URI (``data:image/png;base64,...``) is refused with **invalid_media** (API.md), the
    message saying to strip the prefix: the seeds call it out as the usual mistake.

  A value is read as a URL when it contains ``:`` (base64 never does), else as base64; so a
  mistyped URL gets a message about URLs, not about base64.

- :data:`VideoUrl`: a video, which only comes as an http(s) URL (the seeds give no base64 form).

- :func:`output_size` and :func:`required_facts`: what ``output_spec`` needs for models whose
  size follows an input image.

- :data:`ElementId` / :class:`ElementRef`: an ``element_list`` item, ``{"element_id": ...}``, where
  the id is a positive 64-bit integer (at most 2**63-1) given as a JSON integer or a decimal
  string (``829836802793406551`` or ``"829836802793406551"``), normalised to ``int``. A float is
  accepted only where it is an exact integer no larger than 2**53: beyond that a JSON number has
  already lost digits on the client's side (JavaScript) and we would look up the wrong subject.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from kirin_api.contract.common import ContractModel
from kirin_api.contract.media import MediaFacts
from kirin_api.contract.messages import describe_value, rule_error

__all__ = [
    "ASPECT_MAX",
    "ASPECT_MIN",
    "BASE64_PATTERN",
    "ELEMENT_ID_MAX",
    "INVALID_MEDIA_FLAG",
    "URL_MAX_LENGTH",
    "URL_PATTERN",
    "ElementId",
    "ElementRef",
    "ImageInput",
    "VideoUrl",
    "check_image_input",
    "check_video_url",
    "media_rule_error",
    "output_size",
    "required_facts",
]

# Long enough for presigned S3/GCS URLs with session tokens; a longer one is not a URL a client
# means to send. (The seeds are silent; the server's body limit bounds base64.)
URL_MAX_LENGTH = 8192

ELEMENT_ID_MAX = 2**63 - 1
_EXACT_FLOAT_MAX = 2**53

# The context key that marks a rule error as invalid_media rather than invalid_parameter; the
# registry reads it when it translates a ValidationError (messages.translate_validation_error only
# knows invalid_parameter).
INVALID_MEDIA_FLAG = "invalid_media"

# The JSON Schema patterns say exactly what the validators below accept, except what only code
# can check: a URL's port, and a host that is only userinfo or a port (``http://:80/``).
URL_PATTERN = r"^[hH][tT][tT][pP][sS]?://[^\x00-\x20\x7f/?#]+[^\x00-\x20\x7f]*$"
# Whitespace (W) anywhere; whole groups of four alphabet characters (C), then a last group of 2
# or 3, then at most two "="; and at least one alphabet character somewhere.
_W = r"[ \t\r\n]*"
_C = r"[A-Za-z0-9+/]"
BASE64_PATTERN = (
    rf"^(?=[\s\S]*{_C}){_W}(?:{_C}{_W}{_C}{_W}{_C}{_W}{_C}{_W})*"
    rf"(?:{_C}{_W}{_C}{_W}(?:{_C}{_W})?)?(?:={_W}){{0,2}}$"
)

_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
# The validator's own steps (faster than BASE64_PATTERN on a 13 MB string, same answers).
_BASE64_WHITESPACE = re.compile(r"[ \t\r\n]+")
_BASE64_COMPACT = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_BASE64_OUTSIDER = re.compile(r"[^A-Za-z0-9+/=]")
_DATA_URI = re.compile(r"^\s*data:", re.IGNORECASE)


def media_rule_error(message: str, *, param: str | None = None) -> PydanticCustomError:
    """Like :func:`~kirin_api.contract.messages.rule_error`, but the request is refused with
    ``invalid_media`` (the registry looks for :data:`INVALID_MEDIA_FLAG`)."""
    base = rule_error(message, param=param)
    return PydanticCustomError(
        base.type, base.message_template, {**(base.context or {}), INVALID_MEDIA_FLAG: True}
    )


def _check_url(value: str) -> str:
    """An absolute http(s) URL with a host; returns it with the scheme in lower case."""
    if len(value) > URL_MAX_LENGTH:
        raise rule_error(
            f"must be a URL of at most {URL_MAX_LENGTH} characters; got {len(value)} characters"
        )
    if _URL_FORBIDDEN.search(value):
        raise rule_error("must be an http or https URL without spaces or control characters")
    try:
        parts = urlsplit(value)
        _ = parts.port  # a bad port ("http://h:99999") raises ValueError
    except ValueError as exc:
        raise rule_error(f"must be a valid http or https URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise rule_error(
            f"must be an http or https URL or raw base64; got a URL with scheme "
            f"{parts.scheme or 'none'!r}"
        )
    if not parts.hostname:
        raise rule_error("must be an http or https URL with a host, like https://example.com/a.png")
    # Lower-case the scheme: MediaRef.is_url and the fetcher compare it as "http://"/"https://".
    return scheme + value[len(parts.scheme) :]


def _data_uri_prefix(value: str) -> str:
    head, comma, _ = value.partition(",")
    shown = head.strip()[:60]
    return shown + comma if comma else shown


def check_image_input(value: str) -> str:
    """Check the shape of an image field: an http(s) URL or raw base64 (module docstring)."""
    if _DATA_URI.match(value):
        raise media_rule_error(
            f"must be raw base64 without a data: URI prefix: strip the leading "
            f"{_data_uri_prefix(value)!r} and send only the base64 that follows the comma "
            "(or send an http or https URL)"
        )
    if ":" in value:
        return _check_url(value)
    compact = _BASE64_WHITESPACE.sub("", value)
    if _BASE64_COMPACT.fullmatch(compact):
        body = compact.rstrip("=")
        if not body:
            raise rule_error("must be an http or https URL or raw base64; got no base64 data")
        if len(body) % 4 == 1:
            raise rule_error(
                "must be an http or https URL or raw base64; it is not valid base64: it is cut "
                f"short ({len(body)} base64 characters leave one over a whole group of 4)"
            )
        return value
    outsider = _BASE64_OUTSIDER.search(compact)
    if outsider is not None:
        found = outsider.group()
        shown = repr(found) if found.isprintable() else f"U+{ord(found):04X}"
        raise rule_error(
            "must be an http or https URL or raw base64 (A-Z, a-z, 0-9, +, / and = padding); "
            f"found the character {shown}"
        )
    raise rule_error(
        "must be an http or https URL or raw base64; it is not valid base64: '=' padding may "
        "only end it (at most two)"
    )


def check_video_url(value: str) -> str:
    """Check a video field: only an http(s) URL (videos are never sent inline)."""
    if _DATA_URI.match(value) or ":" not in value:
        raise rule_error(
            "must be an http or https URL; a video cannot be sent inline (as base64 or a data: URI)"
        )
    return _check_url(value)


_IMAGE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"pattern": URL_PATTERN, "maxLength": URL_MAX_LENGTH},
        {"pattern": BASE64_PATTERN},
    ]
}

ImageInput = Annotated[
    str,
    Field(min_length=1, json_schema_extra=_IMAGE_SCHEMA),
    AfterValidator(check_image_input),
]
"""An image: an http(s) URL, or raw base64 without a ``data:`` prefix."""

VideoUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=URL_MAX_LENGTH,
        json_schema_extra={"format": "uri", "pattern": URL_PATTERN},
    ),
    AfterValidator(check_video_url),
]
"""A video: an http(s) URL."""


# ------------------------------------------------------------------------------------------------
# element_list
# ------------------------------------------------------------------------------------------------

# A positive decimal of at most 19 digits without leading zeros; the bound 2**63-1 is checked
# in code (a pattern for it would be unreadable).
_ELEMENT_ID_PATTERN = r"^[1-9][0-9]{0,18}$"
_ELEMENT_ID_STRING = re.compile(_ELEMENT_ID_PATTERN)


@dataclass(frozen=True)
class _ElementIdType:
    """The validator and JSON Schema of :data:`ElementId` (module docstring)."""

    def validate(self, value: object) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT_FLOAT_MAX:
            number = int(value)
        elif isinstance(value, float) and value.is_integer():
            raise rule_error(
                "is too large to be sent as a JSON number with a fraction or exponent (digits "
                "are lost); send it as an integer or a string of digits, like "
                '"829836802793406551"'
            )
        elif isinstance(value, str) and _ELEMENT_ID_STRING.fullmatch(value):
            number = int(value)
        if number is None:
            raise rule_error(
                "must be a subject id: a positive integer given as a JSON integer or a string of "
                f"decimal digits; got {describe_value(value)}"
            )
        if not 1 <= number <= ELEMENT_ID_MAX:
            raise rule_error(
                f"must be a positive 64-bit integer (1 to {ELEMENT_ID_MAX}); "
                f"got {describe_value(value)}"
            )
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
        integer: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": ELEMENT_ID_MAX}
        if handler.mode == "serialization":
            return integer
        return {"anyOf": [{"type": "string", "pattern": _ELEMENT_ID_PATTERN}, integer]}


ElementId = Annotated[int, _ElementIdType()]
"""A subject id: a positive 64-bit integer, as a JSON integer or a decimal string."""


class ElementRef(ContractModel):
    """One subject from the subject library (created by ``kirin_custom_elements``)."""

    element_id: ElementId = Field(
        description="Subject id from the subject library: an integer or a string of digits"
    )


# ------------------------------------------------------------------------------------------------
# Output sizes
# ------------------------------------------------------------------------------------------------

# The widest and tallest aspect ratios an input image may have where a seed limits it (1:2.5 to
# 2.5:1); also the bounds of every output (see output_size).
ASPECT_MIN = 1 / 2.5
ASPECT_MAX = 2.5


def output_size(aspect: float, short_side: int) -> tuple[int, int]:
    """``(width, height)`` with the given aspect ratio (width/height) and short side, both even.

    H.264 with yuv420p needs even sides, so the long side is rounded to the nearest even number
    (the aspect is kept within one pixel). The aspect is clamped to 1:2.5..2.5:1: every input that
    decides an output's aspect is limited to that range by its seed, except ``kirin_v3_i2v``'s
    ``image_tail`` (no aspect limit); a tail-only request with a more extreme image gets the
    nearest allowed aspect rather than a video thousands of pixels long.
    """
    if not aspect > 0:
        raise ValueError(f"aspect ratio must be positive; got {aspect}")
    aspect = min(max(aspect, ASPECT_MIN), ASPECT_MAX)
    if aspect >= 1:
        return 2 * round(short_side * aspect / 2), short_side
    return short_side, 2 * round(short_side / aspect / 2)


def required_facts(
    facts: Mapping[str, MediaFacts] | None, param: str, *, model: str, purpose: str
) -> MediaFacts:
    """The decoded facts of ``param``, or ``ValueError`` saying who needs them and why.

    ``output_spec`` of a model whose output follows its inputs cannot guess: the worker must
    probe the media first and pass the facts (keyed by ``MediaRef.param``).
    """
    found = facts.get(param) if facts is not None else None
    if found is None:
        raise ValueError(
            f"{model}: the output spec needs the decoded facts of {param!r} ({purpose}); "
            "decode the media first and pass facts={MediaRef.param: MediaFacts}"
        )
    return found
