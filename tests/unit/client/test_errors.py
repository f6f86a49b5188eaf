"""The one mapping from HTTP answers to exception classes."""

from __future__ import annotations

import json

import pytest

from kirin_api.client import errors as e


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, e.BadRequestError),
        (401, e.AuthenticationError),
        (402, e.InsufficientBalanceError),
        (403, e.PermissionDeniedError),
        (404, e.NotFoundError),
        (409, e.ConflictError),
        (413, e.PayloadTooLargeError),
        (429, e.RateLimitError),
        (500, e.InternalServerError),
        (503, e.ServiceUnavailableError),
        (502, e.InternalServerError),
        (418, e.APIError),
    ],
)
def test_each_status_has_its_class(status: int, cls: type[e.APIError]) -> None:
    body = json.dumps({"error": {"code": "some_code", "message": "m", "param": "a.b"}}).encode()
    error = e.error_from_response(status, body, {})
    assert type(error) is cls
    assert isinstance(error, e.APIError)
    assert isinstance(error, e.KirinError)
    assert (error.status_code, error.code, error.message, error.param) == (
        status,
        "some_code",
        "m",
        "a.b",
    )


def test_envelope_fields_and_str() -> None:
    envelope = {
        "error": {
            "code": "invalid_parameter",
            "message": "pan out of range",
            "param": "camera_control.config.pan",
        }
    }
    body = json.dumps(envelope).encode()
    error = e.error_from_response(400, body)
    assert str(error) == "400 invalid_parameter (param camera_control.config.pan): pan out of range"


def test_a_body_without_the_envelope_still_maps() -> None:
    error = e.error_from_response(502, b"<html>Bad Gateway</html>", {})
    assert isinstance(error, e.InternalServerError)
    assert error.code == "internal_error"
    assert "Bad Gateway" in error.message
    empty = e.error_from_response(503, b"", {})
    assert isinstance(empty, e.ServiceUnavailableError)
    assert empty.code == "unavailable"
    assert empty.message == "HTTP 503"
    assert empty.param is None


def test_request_id_from_header_or_message() -> None:
    body = b'{"error": {"code": "internal_error", "message": "internal error; request id 0a1b2c"}}'
    assert e.error_from_response(500, body).request_id == "0a1b2c"
    assert e.error_from_response(500, body, {"X-Request-Id": "hdr"}).request_id == "hdr"


def test_rate_limit_error_carries_retry_after() -> None:
    error = e.error_from_response(429, b"{}", {"Retry-After": "7"})
    assert isinstance(error, e.RateLimitError)
    assert error.retry_after == 7.0
    assert e.error_from_response(429, b"{}", {}).retry_after is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3", 3.0), ("0", 0.0), ("1.5", 1.5), ("-4", 0.0), ("soon", None), ("nan", None)],
)
def test_parse_retry_after(value: str, seconds: float | None) -> None:
    assert e.parse_retry_after({"retry-after": value}) == seconds


def test_parse_retry_after_http_date() -> None:
    parsed = e.parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert parsed == 0.0  # in the past: retry now


def test_timeouts_sit_under_both_branches() -> None:
    assert issubclass(e.RequestTimeoutError, e.APIConnectionError)
    assert issubclass(e.RequestTimeoutError, e.APITimeoutError)
    assert issubclass(e.WaitTimeoutError, e.APITimeoutError)
    assert not issubclass(e.WaitTimeoutError, e.APIConnectionError)
    assert issubclass(e.NoResultError, ValueError)
