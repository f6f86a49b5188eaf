"""verify_webhook against the Standard Webhooks reference vector and vectors signed here with an
independent HMAC implementation (the server's callbacks arrive with a later issue; once they do,
tests/e2e should verify real deliveries too)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os

import pytest

from kirin_api import WebhookVerificationError, verify_webhook

# From the Standard Webhooks specification's test vectors.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_HEADERS = {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}
SPEC_BODY = b'{"test": 2432232314}'


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """An independent signer: the spec's recipe spelled out with hmac/hashlib directly."""
    key = base64.b64decode(secret[len("whsec_") :])
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


@pytest.fixture
def secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def test_the_spec_vector_verifies() -> None:
    body = verify_webhook(SPEC_SECRET, SPEC_HEADERS, SPEC_BODY, now=1614265330 + 10)
    assert body == {"test": 2432232314}


def test_a_signed_task_verifies_and_parses(secret: str) -> None:
    task = {"id": "task_1", "object": "generation.task", "status": "completed"}
    body = json.dumps(task).encode()
    headers = {
        "Webhook-Id": "msg_1",
        "Webhook-Timestamp": "1763700000",
        "Webhook-Signature": sign(secret, "msg_1", 1763700000, body),
    }
    assert verify_webhook(secret, headers, body, now=1763700100) == task
    assert verify_webhook(secret, headers, body.decode(), now=1763700100) == task


def test_any_listed_signature_may_match(secret: str) -> None:
    body = b"{}"
    good = sign(secret, "m", 100, body)
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": "100",
        "webhook-signature": f"v1,AAAA {good} v2,whatever",
    }
    assert verify_webhook(secret, headers, body, now=100) == {}


@pytest.mark.parametrize(
    "tamper",
    ["body", "id", "timestamp", "secret", "version", "missing"],
)
def test_tampering_is_refused(secret: str, tamper: str) -> None:
    body = b'{"status": "completed"}'
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": "100",
        "webhook-signature": sign(secret, "m", 100, body),
    }
    other_secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    if tamper == "body":
        body = b'{"status": "failed"}'
    elif tamper == "id":
        headers["webhook-id"] = "m2"
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = "101"
    elif tamper == "secret":
        secret = other_secret
    elif tamper == "version":
        headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v2,")
    else:
        del headers["webhook-signature"]
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, headers, body, now=100)


@pytest.mark.parametrize("offset", [-301, 301])
def test_timestamps_outside_the_tolerance_are_refused_both_ways(secret: str, offset: int) -> None:
    body = b"{}"
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": "1000",
        "webhook-signature": sign(secret, "m", 1000, body),
    }
    assert verify_webhook(secret, headers, body, now=1000 + offset, tolerance=302) == {}
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(secret, headers, body, now=1000 + offset)


def test_bad_secret_or_timestamp_format(secret: str) -> None:
    headers = {"webhook-id": "m", "webhook-timestamp": "soon", "webhook-signature": "v1,x"}
    with pytest.raises(WebhookVerificationError, match="not a number"):
        verify_webhook(secret, headers, b"{}")
    headers["webhook-timestamp"] = "100"
    with pytest.raises(WebhookVerificationError, match="secret"):
        verify_webhook("whsec_not base64!", headers, b"{}", now=100)
