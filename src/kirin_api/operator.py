"""What an operator does to accounts and keys, once: the ``kirin`` CLI and the admin API
(``/admin/v1``) are two front doors to these functions, so they follow the same rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kirin_api.contract.apikeys import generate_key, hash_key, shown_prefix
from kirin_api.contract.keypairs import (
    SecretSealer,
    generate_access_key,
    generate_secret_key,
)
from kirin_api.store.base import Account, ApiKey, TaskStore


class OperatorError(ValueError):
    """An operator's request that cannot be done; the message says why and what to do."""


def parse_money(text: str) -> Decimal:
    """A non-negative amount of USD from text (never a float)."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise OperatorError(f"not an amount of USD: {text!r}") from None
    if not amount.is_finite() or amount < 0:
        raise OperatorError(f"an amount must be a non-negative number of USD, got {text!r}")
    return amount


def issue_api_key(store: TaskStore, account: Account, name: str) -> tuple[ApiKey, str]:
    """A new API key of ``account``: its record and the key itself (shown once, stored hashed)."""
    key = generate_key()
    record = store.create_api_key(account.id, name, hash_key(key), shown_prefix(key))
    return record, key


def issue_key_pair(
    store: TaskStore, sealer: SecretSealer, account: Account, name: str
) -> tuple[ApiKey, str, str]:
    """A new access-key pair of ``account``: its record, the access key and the secret key
    (shown once; the secret is stored sealed with the server's secret key)."""
    access_key, secret_key = generate_access_key(), generate_secret_key()
    sealed = sealer.seal(secret_key, bound_to=access_key)
    record = store.create_access_key(account.id, name, access_key, sealed, hash_key(secret_key))
    return record, access_key, secret_key


def account_view(account: Account) -> dict[str, Any]:
    return {
        "name": account.name,
        "id": account.id,
        "balance": account.balance,  # None: unlimited
        "reserved": account.reserved,
        "max_unfinished": account.max_unfinished,  # None: the server's default
        "created_at": int(account.created_at),
    }


def key_view(key: ApiKey) -> dict[str, Any]:
    """A key as listed: never the key or a secret."""
    return {
        "id": key.id,
        "kind": "api_key" if key.access_key is None else "kling_pair",
        "account_id": key.account_id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": int(key.created_at),
        "revoked_at": int(key.revoked_at) if key.revoked_at else None,
    }


@dataclass
class ModelUsage:
    model: str
    tasks: int = 0
    cost: Decimal = Decimal(0)


def usage(completed: Iterable[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Counts and sums of cost by model of completed tasks, given as (model, cost) (costs as
    decimal text, never floats)."""
    by_model: dict[str, ModelUsage] = {}
    for model, cost in completed:
        row = by_model.setdefault(model, ModelUsage(model))
        row.tasks += 1
        row.cost += Decimal(cost or "0")
    return [
        {"model": row.model, "tasks": row.tasks, "cost": f"{row.cost:.4f}"}
        for row in sorted(by_model.values(), key=lambda r: r.model)
    ]
