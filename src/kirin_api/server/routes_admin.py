"""The admin API, ``/admin/v1``: accounts, balances, limits, keys, workers and usage over HTTP,
through the same functions as the ``kirin`` CLI (:mod:`kirin_api.operator`).

Closed unless ``KIRIN_ADMIN_TOKEN`` is set (then every route answers 404, as if absent); with it,
``Authorization: Bearer <admin token>`` is compared in constant time, and anything else (a user's
API key included) is 401.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from kirin_api.contract.errors import InvalidParameter, NotFound, Unauthorized
from kirin_api.operator import (
    OperatorError,
    account_view,
    issue_api_key,
    issue_key_pair,
    key_view,
    parse_money,
    usage,
)
from kirin_api.server.auth import bearer_token
from kirin_api.server.context import ServerContext
from kirin_api.store.base import Account, StoreError
from kirin_api.watchdog import live_workers


def _context(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


async def require_admin(request: Request) -> ServerContext:
    context = _context(request)
    if context.admin_token_hash is None:
        raise NotFound("the admin API is off: set KIRIN_ADMIN_TOKEN to turn it on")
    token = bearer_token(request)
    given = hashlib.sha256((token or "").encode("utf-8")).digest()
    if token is None or not hmac.compare_digest(given, context.admin_token_hash):
        raise Unauthorized("the admin API needs 'Authorization: Bearer <KIRIN_ADMIN_TOKEN>'")
    return context


Admin = Annotated[ServerContext, Depends(require_admin)]
router = APIRouter(prefix="/admin/v1", tags=["admin"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewAccount(_Body):
    name: str = Field(min_length=1, max_length=200)
    balance: str | None = Field(default=None, description="USD; leave out for unlimited")
    max_unfinished: int | None = Field(default=None, ge=0)


class AccountChange(_Body):
    balance: str | None = Field(default=None, description='USD, or "unlimited"')
    max_unfinished: int | None = Field(default=None, ge=0)
    default_max_unfinished: bool = Field(
        default=False, description="true: back to the server's default limit"
    )


class TopUp(_Body):
    amount: str


class NewKey(_Body):
    name: str = Field(default="default", min_length=1, max_length=200)
    kind: Literal["api_key", "kling_pair"] = "api_key"


def _money(text: str, param: str) -> Decimal:
    try:
        return parse_money(text)
    except OperatorError as exc:
        raise InvalidParameter(str(exc), param=param) from None


async def _account(context: ServerContext, name: str) -> Account:
    account = await run_in_threadpool(context.store.get_account, name)
    if account is None:
        raise NotFound(f"no account {name!r}", param="name")
    return account


@router.get("/accounts", summary="Admin: every account with its balance and limit")
async def list_accounts(context: Admin) -> dict[str, Any]:
    accounts = await run_in_threadpool(context.store.list_accounts)
    return {"object": "list", "data": [account_view(a) for a in accounts]}


@router.post("/accounts", summary="Admin: create an account (or set its balance and limit)")
async def create_account(body: NewAccount, context: Admin) -> dict[str, Any]:
    store = context.store
    account = await run_in_threadpool(store.ensure_account, body.name)
    if body.balance is not None:
        amount = _money(body.balance, "balance")
        account = await run_in_threadpool(store.set_balance, account.id, amount)
    if body.max_unfinished is not None:
        limit = body.max_unfinished
        account = await run_in_threadpool(store.set_max_unfinished, account.id, limit)
    return account_view(account)


@router.get("/accounts/{name}", summary="Admin: one account")
async def get_account(name: str, context: Admin) -> dict[str, Any]:
    return account_view(await _account(context, name))


@router.patch("/accounts/{name}", summary="Admin: set an account's balance or limit")
async def change_account(name: str, body: AccountChange, context: Admin) -> dict[str, Any]:
    store = context.store
    account = await _account(context, name)
    if body.balance is not None:
        amount = None if body.balance == "unlimited" else _money(body.balance, "balance")
        account = await run_in_threadpool(store.set_balance, account.id, amount)
    if body.max_unfinished is not None or body.default_max_unfinished:
        limit = None if body.default_max_unfinished else body.max_unfinished
        account = await run_in_threadpool(store.set_max_unfinished, account.id, limit)
    return account_view(account)


@router.post("/accounts/{name}/top-up", summary="Admin: add to an account's balance")
async def top_up(name: str, body: TopUp, context: Admin) -> dict[str, Any]:
    account = await _account(context, name)
    amount = _money(body.amount, "amount")
    try:
        account = await run_in_threadpool(context.store.top_up, account.id, amount)
    except (StoreError, ValueError) as exc:
        raise InvalidParameter(str(exc), param="amount") from None
    return account_view(account)


@router.post("/accounts/{name}/keys", summary="Admin: a new key of the account (shown once)")
async def create_key(name: str, body: NewKey, context: Admin) -> dict[str, Any]:
    account = await _account(context, name)
    if body.kind == "api_key":
        record, key = await run_in_threadpool(issue_api_key, context.store, account, body.name)
        return {**key_view(record), "key": key}
    if context.sealer is None:
        raise InvalidParameter("this server has no server secret key to seal pairs", param="kind")
    record, access_key, secret_key = await run_in_threadpool(
        issue_key_pair, context.store, context.sealer, account, body.name
    )
    return {**key_view(record), "access_key": access_key, "secret_key": secret_key}


@router.get("/accounts/{name}/keys", summary="Admin: the account's keys (never the keys)")
async def list_keys(name: str, context: Admin) -> dict[str, Any]:
    account = await _account(context, name)
    keys = await run_in_threadpool(context.store.list_api_keys, account.id)
    return {"object": "list", "data": [key_view(k) for k in keys]}


@router.delete("/keys/{key_id}", summary="Admin: revoke a key (by id, prefix or access key)")
async def revoke_key(key_id: str, context: Admin) -> dict[str, Any]:
    try:
        revoked = await run_in_threadpool(context.store.revoke_api_key, key_id)
    except StoreError as exc:
        raise InvalidParameter(str(exc), param="key_id") from None
    if revoked is None:
        raise NotFound(f"no key {key_id!r}", param="key_id")
    context.key_cache.forget()  # refused at once by this process (others within a second)
    return key_view(revoked)


@router.get("/workers", summary="Admin: the registered workers, live or stale")
async def list_workers(context: Admin) -> dict[str, Any]:
    workers = await run_in_threadpool(context.store.list_workers)
    live = {w.id for w in live_workers(workers, time.time(), context.worker_stale_seconds)}
    data = [
        {
            "id": w.id,
            "live": w.id in live,
            "host": w.host,
            "pid": w.pid,
            "models": w.models,
            "engines": w.engines,
            "version": w.version,
            "started_at": int(w.started_at),
            "last_seen": int(w.last_seen),
            "current_task": w.current_task,
        }
        for w in workers
    ]
    return {"object": "list", "data": data}


@router.get("/usage", summary="Admin: completed tasks and their cost, by model")
async def get_usage(
    context: Admin,
    account: str | None = None,
    since: Annotated[int | None, Query(description="Unix seconds, inclusive")] = None,
    until: Annotated[int | None, Query(description="Unix seconds, exclusive")] = None,
) -> dict[str, Any]:
    account_id = None if account is None else (await _account(context, account)).id
    costs = await run_in_threadpool(context.store.usage_costs, account_id, since, until)
    return {"object": "list", "account": account, "data": usage(costs)}
