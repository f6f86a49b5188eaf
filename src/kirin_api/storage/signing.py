"""Signed, expiring URLs for the blobs the server serves itself (``GET /files/{key}``).

A link carries ``expires`` (Unix seconds) and ``signature`` = HMAC-SHA256 over the expiry and the
key with a server-wide secret, URL-safe base64 without padding. Anyone holding the link may fetch
that one key until it expires; changing the key, the expiry or the signature breaks it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from urllib.parse import quote, urlencode


def _message(key: str, expires: int) -> bytes:
    # The expiry first: it is digits only, so the first ":" ends it and no (key, expires) pair can
    # be written as another pair's message.
    return f"kirin-file-v1:{int(expires)}:{key}".encode()


def sign(key: str, expires: int, secret: bytes) -> str:
    """The signature of ``key`` valid until ``expires`` (Unix seconds)."""
    digest = hmac.new(secret, _message(key, expires), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(key: str, expires: int, signature: str, secret: bytes, now: float) -> bool:
    """Whether ``signature`` signs ``key`` and ``expires`` with ``secret`` and ``now`` is not past
    ``expires``. Compares in constant time."""
    if now > expires or not signature.isascii():
        return False
    return hmac.compare_digest(sign(key, expires, secret).encode(), signature.encode())


# Expiries are rounded to the minute (kirin_api.views), so a polled task's links repeat: signing
# each once a minute spares an HMAC and URL-quoting per request.
@functools.lru_cache(maxsize=4096)
def signed_path(key: str, expires: int, secret: bytes) -> str:
    """``/files/{key}?expires=...&signature=...`` with the key URL-quoted (its slashes kept)."""
    query = urlencode({"expires": int(expires), "signature": sign(key, expires, secret)})
    return f"/files/{quote(key, safe='/')}?{query}"
