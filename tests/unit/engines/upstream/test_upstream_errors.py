"""How the Kling and Kirin dialects of the upstream engines read an upstream's answers: which
failures are credentials, limits, bad requests or outages."""

from __future__ import annotations

import httpx
import pytest

from kirin_api.engines.upstream import kirin, kling

# --- Kling's and Kirin's error answers ---------------------------------------------------------


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1004, 1100, 1101, 1102, 1103, 1304], ids=str
)
def test_kling_credential_codes_are_credentials(code: int) -> None:
    answer = httpx.Response(401, json={"code": code, "message": "auth failed"})
    assert kling.classify(answer) == ("credentials", f"Kling code {code}: auth failed")


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, 1200, "bad_request"),
        (400, 1201, "bad_request"),
        (404, 1203, "not_found"),
        (400, 1301, "refused"),
        (429, 1302, "busy"),
        (429, 1303, "busy"),
        (500, 5000, "unavailable"),
    ],
    ids=lambda value: str(value),
)
def test_kling_codes_have_their_kind(status: int, code: int, kind: str) -> None:
    answer = httpx.Response(status, json={"code": code, "message": "why"})
    classified = kling.classify(answer)
    assert classified is not None
    assert classified[0] == kind
    assert f"Kling code {code}" in classified[1]


def test_kling_success_envelope_is_no_error() -> None:
    answer = httpx.Response(200, json={"code": 0, "message": "SUCCEED", "data": {}})
    assert kling.classify(answer) is None


def test_kling_non_json_bad_gateway_is_unavailable() -> None:
    answer = httpx.Response(502, text="<html>Bad Gateway</html>")
    classified = kling.classify(answer)
    assert classified is not None
    assert classified[0] == "unavailable"


def _kirin_error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": f"it was {code}"}})


def test_kirin_success_is_no_error() -> None:
    assert kirin.classify(httpx.Response(200, json={"id": "t"})) is None
    assert kirin.classify(httpx.Response(201, json={"id": "t"})) is None


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "invalid_parameter", "bad_request"),
        (401, "unauthorized", "credentials"),
        (402, "insufficient_balance", "credentials"),
        (409, "conflict", "conflict"),
        (429, "too_many_requests", "busy"),
        (503, "unavailable", "unavailable"),
    ],
    ids=lambda value: str(value),
)
def test_kirin_error_codes_have_their_kind(status: int, code: str, kind: str) -> None:
    classified = kirin.classify(_kirin_error(status, code))
    assert classified is not None
    assert classified[0] == kind
    assert code in classified[1]
    assert f"it was {code}" in classified[1]


def test_kirin_non_json_server_error_is_unavailable() -> None:
    classified = kirin.classify(httpx.Response(500, text="Internal Server Error"))
    assert classified is not None
    assert classified[0] == "unavailable"
