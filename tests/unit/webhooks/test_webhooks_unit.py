"""Signing, the retry schedule and the submit-time check of callback_url (no network)."""

from __future__ import annotations

import pytest

from kirin_api import WebhookVerificationError, verify_webhook
from kirin_api.contract.errors import InvalidParameter
from kirin_api.webhooks import check_callback_url, format_secret, parse_schedule, webhook_headers


def test_headers_verify_with_each_secret_of_a_rotation() -> None:
    old, new = b"o" * 32, b"n" * 32
    body = b'{"id":"task_1"}'
    headers = webhook_headers("msg_1", 1_763_700_000, body, [new, old])
    assert headers["webhook-signature"].count("v1,") == 2
    for key in (old, new):
        verify_webhook(format_secret(key), headers, body, now=1_763_700_000)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(format_secret(b"x" * 32), headers, body, now=1_763_700_000)


def test_parse_schedule() -> None:
    assert parse_schedule("0.2, 0.4,0.8") == (0.2, 0.4, 0.8)
    for bad in ("", "a,b", "1,0", "-1"):
        with pytest.raises(ValueError, match="schedule"):
            parse_schedule(bad)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://127.1/hook",
        "http://0x7f.0.0.1/hook",
        "http://2130706433/hook",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "http://[::ffff:192.168.1.1]/hook",
        "http://169.254.169.254/latest",
        "http://localhost:8000/hook",
        "http://api.localhost./hook",
        "http://user:pw@example.com/hook",
        "http://1.2.3.4.5/hook",
    ],
)
def test_refused_at_submit(url: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        check_callback_url(url, allow_private=False)
    assert caught.value.param == "callback_url"


def test_allowed_at_submit_without_dns() -> None:
    # A name is not resolved at submit (each delivery resolves and checks it).
    check_callback_url("https://hooks.example.com/kirin", allow_private=False)
    check_callback_url("http://93.184.215.14:8443/x", allow_private=False)
    # allow_private (tests, closed networks) lets loopback and private addresses through ...
    check_callback_url("http://127.0.0.1:8080/hook", allow_private=True)
    check_callback_url("http://localhost:8080/hook", allow_private=True)
    # ... but never the cloud metadata service.
    with pytest.raises(InvalidParameter):
        check_callback_url("http://169.254.169.254/", allow_private=True)
