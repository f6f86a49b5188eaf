"""The operator's commands: keys, accounts, webhook secrets, workers (the admin API does the
same over HTTP, through the same ``kirin_api.operator`` functions)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kirin_api.cli.common import (
    ROTATION_GRACE_HOURS,
    CreateOption,
    DataDirOption,
    admin_settings,
    admin_store,
    err,
    sealer_or_exit,
    when,
)
from kirin_api.contract.keypairs import SealError, generate_server_key
from kirin_api.operator import OperatorError, issue_api_key, issue_key_pair, parse_money
from kirin_api.store import Account, StoreError, TaskStore
from kirin_api.watchdog import live_workers
from kirin_api.wiring import build_store

keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
accounts_app = typer.Typer(help="Manage accounts: balance and limits.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Manage callback (webhook) signing secrets.", no_args_is_help=True)
workers_app = typer.Typer(help="See the worker processes.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.")] = "default",
    account: Annotated[str, typer.Option(help="Account name (created if new).")] = "default",
    kling: Annotated[
        bool,
        typer.Option(
            "--kling",
            help="An access-key pair for the Kling dialect's JWTs: the access key on the first "
            "line, the secret key on the second.",
        ),
    ] = False,
    data_dir: DataDirOption = None,
    create: CreateOption = False,
) -> None:
    """Print a new API key of ACCOUNT on stdout (it is shown only this once)."""
    settings = admin_settings(data_dir, create)
    store = build_store(settings)
    owner = store.ensure_account(account)
    if kling:
        _, access_key, secret_key = issue_key_pair(store, sealer_or_exit(settings), owner, name)
        typer.echo(access_key)
        typer.echo(secret_key)
        return
    _, key = issue_api_key(store, owner, name)
    typer.echo(key)


@keys_app.command("reseal")
def keys_reseal(data_dir: DataDirOption = None) -> None:
    """Seal every access-key pair's secret again with KIRIN_SECRET_KEY (the last step of
    rotating it; the old key must be in KIRIN_PREVIOUS_SECRET_KEYS meanwhile)."""
    settings = admin_settings(data_dir)
    sealer = sealer_or_exit(settings)
    try:
        count = build_store(settings).reseal_access_keys(
            lambda access_key, sealed: sealer.reseal(sealed, bound_to=access_key)
        )
    except SealError as exc:
        err.print(f"nothing resealed: {exc}")
        raise typer.Exit(1) from None
    err.print(f"{count} access-key pairs sealed with server secret key {sealer.current_key_id}")


@keys_app.command("new-server-secret")
def keys_new_server_secret() -> None:
    """Print a new random value for KIRIN_SECRET_KEY."""
    typer.echo(generate_server_key())


@keys_app.command("list")
def keys_list(
    account: Annotated[str | None, typer.Option(help="Only this account's keys.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """List keys (prefixes only: the keys themselves are not stored)."""
    store = admin_store(data_dir)
    account_id = _account_or_exit(store, account).id if account else None
    table = Table("id", "kind", "account", "name", "prefix", "created", "revoked")
    for key in store.list_api_keys(account_id):
        table.add_row(
            key.id,
            "api key" if key.access_key is None else "kling pair",
            key.account_id,
            key.name,
            key.prefix + "…",
            when(key.created_at),
            when(key.revoked_at) if key.revoked_at else "",
        )
    console = Console()
    if not console.is_terminal:
        # Piped into grep or a file: no wrapping, so each key stays on one line.
        console = Console(width=250)
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id or prefix, or a pair's access key.")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a key; requests with it are refused from now on."""
    store = admin_store(data_dir)
    try:
        revoked = store.revoke_api_key(key)
    except StoreError as exc:  # a prefix shared by several keys
        err.print(str(exc))
        raise typer.Exit(1) from None
    if revoked is None:
        err.print(f"no key {key!r}")
        raise typer.Exit(1)
    err.print(f"revoked {revoked.prefix}… ({revoked.id})")


@webhooks_app.command("rotate-secret")
def webhooks_rotate_secret(
    account: Annotated[str, typer.Option(help="Account name.")] = "default",
    grace_hours: Annotated[
        float, typer.Option(help="Hours the old secret keeps signing unless rotation ends first.")
    ] = ROTATION_GRACE_HOURS,
    data_dir: DataDirOption = None,
) -> None:
    """Give ACCOUNT a new signing secret (printed on stdout). Callbacks carry signatures by
    both the new and the old secret until `finish-rotation` or the grace period ends."""
    from kirin_api.webhooks import format_secret

    store = admin_store(data_dir)
    owner = store.ensure_account(account)
    secrets = store.rotate_webhook_secret(owner.id, grace_hours * 3600)
    typer.echo(format_secret(secrets.current))
    err.print(f"rotating: the old secret of {account!r} signs too until `finish-rotation`")


@webhooks_app.command("finish-rotation")
def webhooks_finish_rotation(
    account: Annotated[str, typer.Option(help="Account name.")] = "default",
    data_dir: DataDirOption = None,
) -> None:
    """Stop signing ACCOUNT's callbacks with its previous secret."""
    store = admin_store(data_dir)
    owner = store.ensure_account(account)
    store.finish_webhook_rotation(owner.id)
    err.print(f"rotation of {account!r} finished: only the current secret signs")


AccountArgument = Annotated[str, typer.Argument(help="The account's name.")]


def _account_or_exit(store: TaskStore, name: str) -> Account:
    account = store.get_account(name)
    if account is None:
        err.print(f"no account {name!r}")
        raise typer.Exit(1)
    return account


def _print_accounts(accounts: list[Account]) -> None:
    table = Table("name", "id", "balance (USD)", "reserved (USD)", "max unfinished")
    for account in accounts:
        table.add_row(
            account.name,
            account.id,
            "unlimited" if account.balance is None else account.balance,
            account.reserved,
            "default" if account.max_unfinished is None else str(account.max_unfinished),
        )
    Console(width=250).print(table)


@accounts_app.command("list")
def accounts_list(data_dir: DataDirOption = None) -> None:
    """Every account with its balance, what its unfinished tasks hold, and its limit."""
    _print_accounts(admin_store(data_dir).list_accounts())


@accounts_app.command("create")
def accounts_create(
    name: AccountArgument,
    balance: Annotated[
        str | None, typer.Option(help="Starting balance in USD; without it: unlimited.")
    ] = None,
    data_dir: DataDirOption = None,
    create: CreateOption = False,
) -> None:
    """Create an account (or set the balance of an existing one)."""
    store = admin_store(data_dir, create)
    account = store.ensure_account(name)
    if balance is not None:
        account = store.set_balance(account.id, _money(balance))
    _print_accounts([account])


@accounts_app.command("set-balance")
def accounts_set_balance(
    name: AccountArgument,
    balance: Annotated[str, typer.Argument(help="USD, or 'unlimited'.")],
    data_dir: DataDirOption = None,
) -> None:
    """Set an account's balance (what unfinished tasks hold is kept)."""
    store = admin_store(data_dir)
    account = _account_or_exit(store, name)
    amount = None if balance == "unlimited" else _money(balance)
    _print_accounts([store.set_balance(account.id, amount)])


@accounts_app.command("top-up")
def accounts_top_up(
    name: AccountArgument,
    amount: Annotated[str, typer.Argument(help="USD to add.")],
    data_dir: DataDirOption = None,
) -> None:
    """Add to an account's balance."""
    store = admin_store(data_dir)
    account = _account_or_exit(store, name)
    try:
        updated = store.top_up(account.id, _money(amount))
    except (StoreError, ValueError) as exc:
        err.print(str(exc))
        raise typer.Exit(1) from None
    _print_accounts([updated])


@accounts_app.command("set-limit")
def accounts_set_limit(
    name: AccountArgument,
    max_unfinished: Annotated[
        int | None,
        typer.Option(help="Unfinished tasks allowed at once; leave out for the server default."),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set how many unfinished tasks an account may have at once."""
    store = admin_store(data_dir)
    account = _account_or_exit(store, name)
    _print_accounts([store.set_max_unfinished(account.id, max_unfinished)])


@workers_app.command("list")
def workers_list(data_dir: DataDirOption = None) -> None:
    """The workers that registered: live or stale, what they serve, what they are doing."""
    settings = admin_settings(data_dir)
    store = build_store(settings)
    workers = store.list_workers()
    live = {w.id for w in live_workers(workers, time.time(), settings.worker_stale_seconds)}
    table = Table("id", "state", "host", "pid", "models", "engines", "version", "last seen", "task")
    for worker in workers:
        table.add_row(
            worker.id,
            "live" if worker.id in live else "stale",
            worker.host,
            str(worker.pid),
            ", ".join(worker.models),
            ", ".join(sorted(set(worker.engines.values()))),
            worker.version,
            when(worker.last_seen),
            worker.current_task or "",
        )
    Console(width=250).print(table)


def _money(text: str) -> Decimal:
    try:
        return parse_money(text)
    except OperatorError as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
