"""Helpers shared by the per-model contract tests: refusal checks and media facts."""

from __future__ import annotations

from typing import Any

import pytest

from kirin_api.contract.errors import InvalidMedia, InvalidParameter, RequestError
from kirin_api.contract.media import MediaFacts
from kirin_api.contract.registry import validate_request

# A real (tiny) PNG in raw base64, as the v3 seed shows it; the contract checks only the shape.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAUAAAAFCAYAAACNbyblAAAAHElEQVQI12P4//8/w38GIAXDIBKE0DHxgljNBAAO"
    "9TXL0Y4OHwAAAABJRU5ErkJggg=="
)
IMG_URL = "https://example.com/a.png"
VIDEO_URL = "https://example.com/moves.mp4"

Failing = tuple[str, object, type[RequestError], str | None, tuple[str, ...]]

_CODES = {InvalidParameter: "invalid_parameter", InvalidMedia: "invalid_media"}


def assert_refused(
    exc: RequestError, error: type[RequestError], param: str | None, words: tuple[str, ...]
) -> None:
    """The refusal is ``error`` (-> its HTTP status and code), names ``param``, says ``words``."""
    assert type(exc) is error, f"{type(exc).__name__}: {exc.message}"
    assert exc.status == 400
    if error in _CODES:
        assert exc.code == _CODES[error]
    assert exc.param == param, exc.message
    if param is not None:
        assert param in exc.message or param.rsplit(".", 1)[-1] in exc.message
        assert exc.body()["error"]["param"] == param
    for word in words:
        assert word in exc.message, f"{word!r} not in {exc.message!r}"
    assert "Input should" not in exc.message
    assert "pydantic" not in exc.message


def check_refuses(
    request_body: object, error: type[RequestError], param: str | None, words: tuple[str, ...]
) -> None:
    with pytest.raises(RequestError) as caught:
        validate_request(request_body)
    assert_refused(caught.value, error, param, words)


def check_accepts(request_body: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """Validate, check ``expected`` is a subset of the params and that they round-trip."""
    validated = validate_request(request_body)
    assert validated.model == request_body["model"]
    for key, value in expected.items():
        assert validated.params[key] == value, (key, validated.params.get(key))
    for key, value in request_body.items():
        if value is None:
            assert key not in validated.params
    again = validate_request({**validated.params, "model": validated.model})
    assert again == validated
    return validated.params


def image(width: int, height: int, fmt: str = "PNG") -> MediaFacts:
    return MediaFacts(width=width, height=height, format=fmt, size_bytes=50_000)


def video(
    width: int = 1280, height: int = 720, *, duration: float = 5.0, audio: bool = False
) -> MediaFacts:
    return MediaFacts(
        width=width,
        height=height,
        format="mp4",
        size_bytes=2_000_000,
        duration=duration,
        frames=round(duration * 30),
        fps=30.0,
        has_audio=audio,
    )
