"""JSON on the hot paths (task columns read per request, answers written per request) with
orjson, several times faster than the standard library's. What orjson refuses or would read
differently (integers past 64 bits, non-string keys, NaN literals) goes to the standard
library, so what is read is what ``json`` reads. Written NaN is ``null``, as FastAPI writes it."""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps", "loads"]


# orjson reads an integer past 64 bits as a float (silently losing digits): text with a run of
# digits that long goes to the standard library (a 19-digit negative or any 20-digit run). Found by
# writing every digit as "0" and looking for the runs: a regular expression took several times
# longer than the parse itself on a task's columns (the hot path of every task read).
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUNS = (b"0" * 20, b"-" + b"0" * 19)


def _has_long_integer(text: str) -> bool:
    shape = text.encode("utf-8", "surrogatepass").translate(_DIGITS_AS_ZEROS)
    # Spelled out: a generator for two tests cost half as much again (three texts a task read).
    return _LONG_RUNS[0] in shape or _LONG_RUNS[1] in shape


def loads(text: str) -> Any:
    if _has_long_integer(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # NaN/Infinity literals or numbers orjson does not take: the standard library's reading.
        return json.loads(text)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as FastAPI writes a returned dict (no NaN)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        # orjson.JSONEncodeError is a TypeError: big integers, non-string keys, other types.
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
            "utf-8"
        )
