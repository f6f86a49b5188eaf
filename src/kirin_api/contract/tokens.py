"""HS256 JSON Web Tokens as the Kling API's clients make them (RFC 7519, the subset they use).

A client signs ``{"iss": <access key>, "exp": ..., "nbf": ...}`` with its secret key. Checking
one is two steps, because the key to check the signature with is found by the unverified
``iss``: :func:`read_token` parses the token (without trusting it) and :func:`check_token`
verifies the signature and the times. Only ``HS256`` is accepted: a token that names another
algorithm (``none`` above all) is refused, whatever it says.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kirin_api.contract.errors import KirinError

# Clock skew allowed between the client and this server on ``exp`` and ``nbf``.
LEEWAY_SECONDS = 5.0
# A token longer than this is not one of ours: no point in decoding it.
MAX_TOKEN_LENGTH = 4096


class TokenProblem(StrEnum):
    MALFORMED = "malformed"  # not three base64url parts of JSON, or not HS256, or no iss
    SIGNATURE = "signature"  # the signature does not match the pair's secret key
    NOT_YET_VALID = "not_yet_valid"  # nbf is in the future (beyond the leeway)
    EXPIRED = "expired"  # exp is in the past (beyond the leeway)


class TokenError(KirinError):
    def __init__(self, problem: TokenProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


@dataclass(frozen=True)
class UnverifiedToken:
    issuer: str
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def read_token(token: str) -> UnverifiedToken:
    """Parse ``token`` without trusting it; :class:`TokenError` (``MALFORMED``) if it cannot be."""
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise TokenError(TokenProblem.MALFORMED, "the token is not a JWT (header.claims.signature)")
    header_part, claims_part, signature_part = token.split(".")
    try:
        header = json.loads(_b64(header_part))
        claims = json.loads(_b64(claims_part))
        signature = _b64(signature_part)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        message = "the token's parts are not base64url JSON"
        raise TokenError(TokenProblem.MALFORMED, message) from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenError(TokenProblem.MALFORMED, "the token's header and claims must be objects")
    if header.get("alg") != "HS256":
        algorithm = header.get("alg")
        message = f"the token must be signed with HS256, not {algorithm!r}"
        raise TokenError(TokenProblem.MALFORMED, message)
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise TokenError(TokenProblem.MALFORMED, "the token has no iss claim (the access key)")
    for name in ("exp", "nbf"):
        value = claims.get(name)
        # NaN or Infinity (which Python's json reads) would make a token that never expires.
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise TokenError(TokenProblem.MALFORMED, f"the token's {name} must be a number")
    return UnverifiedToken(
        issuer=issuer,
        claims=claims,
        signing_input=f"{header_part}.{claims_part}".encode("ascii"),
        signature=signature,
    )


def check_token(
    token: UnverifiedToken, secret_key: str, now: float, leeway: float = LEEWAY_SECONDS
) -> None:
    """Raise :class:`TokenError` unless ``token`` is signed with ``secret_key`` and valid at
    ``now``. ``exp`` is required (a token that never expires is a password in disguise)."""
    expected = hmac.new(secret_key.encode("utf-8"), token.signing_input, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, token.signature):
        raise TokenError(
            TokenProblem.SIGNATURE,
            "the token's signature does not match the secret key of its access key",
        )
    expires = token.claims.get("exp")
    if expires is None:
        raise TokenError(TokenProblem.MALFORMED, "the token has no exp claim")
    if now > expires + leeway:
        raise TokenError(TokenProblem.EXPIRED, "the token has expired; sign a new one")
    not_before = token.claims.get("nbf")
    if not_before is not None and now + leeway < not_before:
        raise TokenError(
            TokenProblem.NOT_YET_VALID,
            "the token is not valid yet (nbf is in the future); check the client's clock",
        )


def sign_token(issuer: str, secret_key: str, now: float, lifetime: float) -> str:
    """An HS256 token as Kling's own samples make one: ``iss``, ``exp`` = now + ``lifetime``,
    ``nbf`` = now - 5 (what the ``kling`` upstream engine sends)."""

    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode("utf-8")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    header = part({"alg": "HS256", "typ": "JWT"})
    claims = part({"iss": issuer, "exp": int(now + lifetime), "nbf": int(now - 5)})
    signing_input = f"{header}.{claims}".encode("ascii")
    signature = hmac.new(secret_key.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return f"{header}.{claims}." + base64.urlsafe_b64encode(signature).decode("ascii").rstrip("=")
