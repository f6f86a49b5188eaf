"""Standard Webhooks signatures (https://www.standardwebhooks.com/), as the SDK's
``verify_webhook`` checks them.

A secret is 32 random bytes, shown as ``whsec_`` + base64; the HMAC key is the bytes themselves.
The signature of a message is ``v1,`` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
During a secret rotation the header lists one signature per key, space-separated, so a receiver
that verifies with either secret accepts the message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme of a secret, not one
CONTENT_TYPE = "application/json"


def format_secret(key: bytes) -> str:
    """The secret as handed to the account: ``whsec_<base64 of the key bytes>``."""
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def signature_header(msg_id: str, timestamp: int, body: bytes, keys: Sequence[bytes]) -> str:
    """The ``webhook-signature`` value: ``v1,<sig>`` per key, space-separated, in key order."""
    if not keys:
        raise ValueError("at least one signing key is needed")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")
        for key in keys
    )


def webhook_headers(
    msg_id: str, timestamp: int, body: bytes, keys: Sequence[bytes]
) -> dict[str, str]:
    """Every header a callback carries besides those of the transport."""
    return {
        "content-type": CONTENT_TYPE,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(msg_id, timestamp, body, keys),
    }
