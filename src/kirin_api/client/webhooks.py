"""Checking the callbacks the server sends (Standard Webhooks signatures)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from kirin_api.client.errors import WebhookVerificationError

__all__ = ["verify_webhook"]

_SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme of a secret, not one


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(_SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("the webhook secret is not whsec_<base64>") from None


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    tolerance: float = 300,
    *,
    now: float | None = None,
) -> Any:
    """Check a callback and answer its parsed JSON body (the task object).

    ``secret`` is the account's ``whsec_...`` secret (``client.webhook_secret()``); ``headers``
    any mapping of the request's headers (names in any case); ``body`` the raw body exactly as
    received: re-serialised JSON would not match the signature. The signature is
    ``v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">``; several may be
    listed, space-separated (during a secret rotation), and one match is enough. The timestamp
    must be within ``tolerance`` seconds of ``now`` (default: the clock) either way, so that a
    captured callback cannot be replayed later.

    Raises :class:`~kirin_api.client.errors.WebhookVerificationError` otherwise. Use
    ``webhook-id`` to drop duplicates: it is the same for every retry of one delivery.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not msg_id or not timestamp or not signatures:
        raise WebhookVerificationError(
            "missing webhook-id, webhook-timestamp or webhook-signature header"
        )
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError(f"webhook-timestamp {timestamp!r} is not a number") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is {current - sent_at:+.0f} s away from now "
            f"(tolerance {tolerance:g} s)"
        )
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    signed = msg_id.encode("utf-8") + b"." + timestamp.encode("ascii") + b"." + raw
    expected = base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest())
    for entry in signatures.split():
        version, _, signature = entry.partition(",")
        # compare_digest: the time taken must not tell an attacker how much of a guess matched.
        if version == "v1" and hmac.compare_digest(signature.encode("ascii", "replace"), expected):
            break
    else:
        raise WebhookVerificationError("no webhook-signature matches the body")
    try:
        return json.loads(raw)
    except ValueError:
        raise WebhookVerificationError("the body is not JSON") from None
