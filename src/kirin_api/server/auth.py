"""Bearer-key authentication: every ``/model/...`` request acts for the key's account."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from kirin_api.contract.apikeys import hash_key, is_well_formed
from kirin_api.contract.errors import Unauthorized
from kirin_api.server.context import ServerContext
from kirin_api.store.base import Account


async def authenticate(request: Request) -> Account:
    """The account of the request's key; raises :class:`Unauthorized` otherwise.

    The key is looked up on every request (one indexed read), so a revoked key stops at once.
    """
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("missing Authorization header; send 'Authorization: Bearer <api key>'")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("malformed Authorization header; expected 'Bearer <api key>'")
    if not is_well_formed(key):
        raise Unauthorized("malformed API key; keys look like 'kirin_sk_' + 43 characters")
    context: ServerContext = request.app.state.context
    key_hash = hash_key(key)
    account = await run_in_threadpool(context.store.account_for_key, key_hash)
    if account is None:
        raise Unauthorized("unknown or revoked API key")
    if context.rate_limiter is not None:
        context.rate_limiter.check(key_hash)
    return account
