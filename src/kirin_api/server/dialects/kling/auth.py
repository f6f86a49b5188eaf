"""Authentication as Kling's API does it: ``Authorization: Bearer <token>`` where the token is
a JWT signed with an access-key pair's secret key, or a plain API key of this server.

Refusals carry Kling's codes (all HTTP 401): 1001 no Authorization header; 1002 a token that is
neither a well-formed JWT nor an API key; 1000 a token that fails authentication (bad signature,
unknown or revoked access key or API key); 1003 ``nbf`` in the future; 1004 expired (both with
a leeway of 5 seconds).
"""

from __future__ import annotations

import logging
import time

from fastapi import Request

from kirin_api.contract.apikeys import KEY_PREFIX, hash_key
from kirin_api.contract.errors import Unauthorized
from kirin_api.contract.keypairs import SealError
from kirin_api.contract.tokens import (
    TokenError,
    TokenProblem,
    UnverifiedToken,
    check_token,
    looks_like_jwt,
    read_token,
)
from kirin_api.logs import ACCOUNT_ID
from kirin_api.server import reads
from kirin_api.server.auth import account_for_api_key, bearer_token, count_request
from kirin_api.server.context import ServerContext
from kirin_api.store.base import AccessKeyPair, Account

log = logging.getLogger("kirin_api.server.kling")

_CODES = {
    TokenProblem.MALFORMED: 1002,
    TokenProblem.SIGNATURE: 1000,
    TokenProblem.NOT_YET_VALID: 1003,
    TokenProblem.EXPIRED: 1004,
}


class TokenRefused(Unauthorized):
    """401 with the Kling code of the reason."""

    def __init__(self, kling_code: int, message: str) -> None:
        super().__init__(message)
        self.kling_code = kling_code


async def authenticate(request: Request) -> Account:
    """The account the request acts for (a FastAPI dependency of every Kling route)."""
    try:
        token = bearer_token(request)
    except Unauthorized as exc:
        raise TokenRefused(1002, exc.message) from None
    if token is None:
        raise TokenRefused(
            1001, "Authorization is empty; send 'Authorization: Bearer <JWT or API key>'"
        )
    if token.startswith(KEY_PREFIX):
        try:
            return await account_for_api_key(request, token)
        except Unauthorized as exc:
            raise TokenRefused(1000, exc.message) from None
    if not looks_like_jwt(token):
        raise TokenRefused(
            1002,
            "Authorization is invalid: the token is neither a JWT signed with an access-key "
            "pair nor an API key of this server",
        )
    context: ServerContext = request.app.state.context
    try:
        unverified = read_token(token)
    except TokenError as exc:
        message = f"Authorization is invalid: {exc.message}"
        raise TokenRefused(_CODES[exc.problem], message) from None
    # The read on the event loop where the store can (see kirin_api.server.reads); the checks
    # after it (an AES-GCM open, an HMAC) take microseconds.
    pair = await reads.access_key_pair(context.store, unverified.issuer)
    account = _account_for_jwt(context, unverified, pair, time.time())
    ACCOUNT_ID.set(account.id)
    return account


def _account_for_jwt(
    context: ServerContext, unverified: UnverifiedToken, pair: AccessKeyPair | None, now: float
) -> Account:
    if pair is None:
        raise TokenRefused(1000, "authentication failed: unknown or revoked access key")
    if context.sealer is None:
        raise TokenRefused(1000, "authentication failed: this server has no server secret key")
    try:
        secret = context.sealer.open(pair.sealed_secret, bound_to=unverified.issuer)
    except SealError as exc:
        # An operator's problem, not the client's: say so in the log, never the secret.
        log.error("access key %s: %s", unverified.issuer, exc)
        raise TokenRefused(
            1000, "authentication failed: this server cannot check the access key's signature"
        ) from None
    try:
        check_token(unverified, secret, now)
    except TokenError as exc:
        raise TokenRefused(_CODES[exc.problem], f"Authorization: {exc.message}") from None
    count_request(context, hash_key(unverified.issuer))
    return pair.account
