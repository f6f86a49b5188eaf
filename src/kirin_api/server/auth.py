"""Bearer-key authentication: every ``/model/...`` request acts for the key's account."""

from __future__ import annotations

from fastapi import Request

from kirin_api.contract.apikeys import hash_key, is_well_formed
from kirin_api.contract.errors import Unauthorized
from kirin_api.logs import ACCOUNT_ID
from kirin_api.server import reads
from kirin_api.server.context import ServerContext
from kirin_api.store.base import Account


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None without the header; raises
    :class:`Unauthorized` for a header of another shape."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("malformed Authorization header; expected 'Bearer <api key>'")
    return token


async def authenticate(request: Request) -> Account:
    """The account of the request's key; raises :class:`Unauthorized` otherwise.

    The key's account is read from the database at most once a second per API process (see
    :mod:`kirin_api.server.key_cache`), so a revoked key is refused within a second.
    """
    key = bearer_token(request)
    if key is None:
        raise Unauthorized("missing Authorization header; send 'Authorization: Bearer <api key>'")
    return await account_for_api_key(request, key)


async def account_for_api_key(request: Request, key: str) -> Account:
    """The account of an API key (``kirin_sk_...``), its request counted against its rate."""
    if not is_well_formed(key):
        raise Unauthorized("malformed API key; keys look like 'kirin_sk_' + 43 characters")
    context: ServerContext = request.app.state.context
    key_hash = hash_key(key)
    account = context.key_cache.get(key_hash)
    if account is None:
        account = await reads.account_for_key(context.store, key_hash)
        if account is None:
            raise Unauthorized("unknown or revoked API key")
        context.key_cache.put(key_hash, account)
    count_request(context, key_hash)
    ACCOUNT_ID.set(account.id)
    return account


def count_request(context: ServerContext, credential_hash: str) -> None:
    """One request of this credential against the rate limit (429 when over it)."""
    if context.rate_limiter is not None:
        context.rate_limiter.check(credential_hash)
