"""The ``kirin`` command: serve, worker, keys."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from kirin_api import __version__
from kirin_api.contract.keypairs import SealError, SecretSealer, generate_server_key
from kirin_api.logs import configure as configure_logs
from kirin_api.operator import OperatorError, issue_api_key, issue_key_pair, parse_money
from kirin_api.settings import Settings
from kirin_api.storage import BlobStorage
from kirin_api.store import Account, StoreError, TaskStore
from kirin_api.supervisor import PARENT_PID_ENV, WorkerSupervisor
from kirin_api.user_cli import generate_command, task_app
from kirin_api.watchdog import Watchdog, WatchdogConfig, live_workers
from kirin_api.wiring import build_pricing, build_sealer, build_storage, build_store

app = typer.Typer(help="Kirin API server.", no_args_is_help=True, add_completion=False)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
accounts_app = typer.Typer(help="Manage accounts: balance and limits.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
webhooks_app = typer.Typer(help="Manage callback (webhook) signing secrets.", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")
workers_app = typer.Typer(help="See the worker processes.", no_args_is_help=True)
app.add_typer(workers_app, name="workers")
app.command("generate")(generate_command)
app.add_typer(task_app, name="task")
err = Console(stderr=True, soft_wrap=True)

# How long the old webhook secret keeps signing after `kirin webhooks rotate-secret`.
ROTATION_GRACE_HOURS = 24.0
# Base of result links in callbacks sent by a `kirin worker` started without KIRIN_PUBLIC_URL
# (`kirin serve` passes its own URL to the workers it starts).
DEFAULT_CALLBACK_BASE_URL = "http://127.0.0.1:8000"

DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the embedded database and files live.")
]


def _settings(**overrides: Any) -> Settings:
    given = {name: value for name, value in overrides.items() if value is not None}
    return Settings(**given)


CreateOption = Annotated[
    bool,
    typer.Option(
        "--create", help="Make a new data dir here if there is none (instead of refusing)."
    ),
]


def _admin_settings(data_dir: Path | None, create: bool = False) -> Settings:
    """The settings of an operator's command, after saying (on stderr) which database it uses.

    Run in the wrong directory, a command would quietly make a new, empty data dir there, and a
    key the running server does not know: unless the data dir was named (--data-dir,
    KIRIN_DATA_DIR, KIRIN_DATABASE_URL) or ``create``, a missing one is refused instead."""
    settings = _settings(data_dir=data_dir)
    named = data_dir is not None or "KIRIN_DATA_DIR" in os.environ
    database = settings.data_dir / "kirin.db"
    if settings.database_url is None and not named and not database.exists() and not create:
        err.print(
            f"no kirin data dir in {settings.data_dir.resolve()}: run this where `kirin serve` "
            "runs, or point at the server's with --data-dir DIR (or KIRIN_DATA_DIR, or "
            "KIRIN_DATABASE_URL); --create makes a new one here"
        )
        raise typer.Exit(2)
    shown = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    err.print(f"database: {shown}", highlight=False)
    return settings


def _admin_store(data_dir: Path | None, create: bool = False) -> TaskStore:
    return build_store(_admin_settings(data_dir, create))


def _logging() -> None:
    configure_logs(
        os.environ.get("KIRIN_LOG_LEVEL", "INFO"), os.environ.get("KIRIN_LOG_FORMAT", "text")
    )


def _json_logs() -> bool:
    return os.environ.get("KIRIN_LOG_FORMAT", "text") == "json"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: DataDirOption = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes to start (KIRIN_WORKERS; 0 = API only).")
    ] = None,
) -> None:
    """Run the API and its worker processes on the configured database and storage."""
    _logging()
    settings = _settings(data_dir=data_dir, workers=workers)
    # Before anything imports prometheus_client: the API and the workers it starts count into
    # one directory of metrics files, which /metrics adds up (see kirin_api.metrics).
    _share_metrics(settings)

    import uvicorn

    from kirin_api.server.app import create_app
    from kirin_api.server.context import ServerContext
    from kirin_api.server.ratelimit import RateLimiter

    store = build_store(settings)
    storage = build_storage(settings)
    context = ServerContext(
        store=store,
        storage=storage,
        public_url=settings.public_url,
        url_ttl_seconds=settings.url_ttl_seconds,
        max_body_bytes=settings.max_body_bytes,
        url_secret=store.secret("url-signing"),
        allow_private_networks=settings.allow_private_networks,
        pricing=build_pricing(settings),
        max_unfinished=settings.max_unfinished_tasks or None,
        sealer=_sealer_or_exit(settings),
        worker_stale_seconds=settings.worker_stale_seconds,
        access_log=_json_logs(),
        metrics=settings.metrics,
        admin_token_hash=(
            hashlib.sha256(settings.admin_token.get_secret_value().encode()).digest()
            if settings.admin_token
            else None
        ),
        rate_limiter=(
            RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
            if settings.rate_limit_per_minute
            else None
        ),
    )
    # Workers are separate processes so rendering never blocks the API; they get the same
    # settings, resolved here so that flags reach them too. Links inside callbacks need a base
    # URL where there is no request to take it from: this server's own, unless one is set.
    callback_base_url = settings.public_url or _own_url(host, port)
    env = {
        **os.environ,
        "KIRIN_DATA_DIR": str(settings.data_dir.resolve()),
        "KIRIN_DATABASE_URL": settings.resolved_database_url,
        "KIRIN_STORAGE_URL": settings.resolved_storage_url,
        "KIRIN_PUBLIC_URL": callback_base_url,
    }
    # The API process delivers callbacks too, so that KIRIN_WORKERS=0 still delivers.
    stop_deliveries = threading.Event()
    _start_deliveries(settings, store, storage, callback_base_url, stop_deliveries)
    # Tasks that no worker serves (or that waited too long) fail instead of hanging.
    Watchdog(
        store,
        WatchdogConfig(
            unserved_timeout=settings.unserved_timeout_seconds,
            max_queue_seconds=settings.max_queue_seconds,
            stale_after=settings.worker_stale_seconds,
        ),
    ).start(stop_deliveries)
    supervisor = WorkerSupervisor(settings.workers, env)
    supervisor.start()
    try:
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(context),
                host=host,
                port=port,
                log_level="info",
                # With JSON logs our middleware writes one line a request (with its id).
                access_log=not _json_logs(),
                log_config=None if _json_logs() else uvicorn.config.LOGGING_CONFIG,
            )
        )
        threading.Thread(
            target=_announce, args=(server, settings, _own_url(host, port)), daemon=True
        ).start()
        server.run()
    finally:
        stop_deliveries.set()
        supervisor.stop()


def _share_metrics(settings: Settings) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return  # the operator's own choice
    directory = settings.data_dir.resolve() / "metrics" / str(os.getpid())
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def _announce(server: Any, settings: Settings, url: str) -> None:
    """Once the server listens: where, on which data, and how to get a key for it."""
    while not server.started:
        if server.should_exit:
            return
        threading.Event().wait(0.05)
    data_dir = settings.data_dir.resolve()
    database = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    text = (
        f"kirin-api is serving on {url} (reference: {url}/docs)\n"
        f"  data dir: {data_dir}\n  database: {database}\n"
        f"  make a key: kirin keys create --data-dir {data_dir}\n"
        f"  then: export KIRIN_BASE_URL={url} KIRIN_API_KEY=<that key>"
    )
    if _json_logs():
        logging.getLogger("kirin_api.serve").info(text)
    else:
        err.print(text, highlight=False)


def _own_url(host: str, port: int) -> str:
    """This server's URL as a client on this machine reaches it (0.0.0.0 is not an address to
    connect to); set KIRIN_PUBLIC_URL for links that work from elsewhere."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _start_deliveries(
    settings: Settings, store: TaskStore, storage: BlobStorage, base_url: str, stop: threading.Event
) -> None:
    """Start this process's webhook delivery threads (see kirin_api.webhooks.deliverer)."""
    from kirin_api.server.dialects import callback_renderers
    from kirin_api.views import ResultLinks
    from kirin_api.webhooks import Deliverer, DeliveryConfig, parse_schedule

    try:
        schedule = parse_schedule(settings.webhook_retry_schedule)
    except ValueError as exc:
        err.print(f"KIRIN_WEBHOOK_RETRY_SCHEDULE: {exc}")
        raise typer.Exit(2) from None
    links = ResultLinks(
        storage=storage,
        url_secret=store.secret("url-signing"),
        url_ttl_seconds=settings.url_ttl_seconds,
        public_url=settings.public_url,
    )
    config = DeliveryConfig(
        schedule=schedule, base_url=base_url, poll_interval=settings.poll_interval
    )
    deliverer = Deliverer(
        store,
        links,
        config,
        renderers=callback_renderers(),
        allow_private=settings.allow_private_networks,
    )
    deliverer.start(stop)


@app.command()
def worker(
    data_dir: DataDirOption = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Serve this worker's Prometheus metrics on this port (not needed "
            "under `kirin serve`, whose /metrics counts its workers)."
        ),
    ] = None,
) -> None:
    """Run one worker process against the configured database and storage."""
    from kirin_api.net.fetch import SafeFetcher
    from kirin_api.worker.engine_registry import build_engines, load_assignments
    from kirin_api.worker.inputs import InputPreparer
    from kirin_api.worker.runner import Worker, WorkerConfig, default_worker_id

    _logging()
    settings = _settings(data_dir=data_dir)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)
    store = build_store(settings)
    engines = build_engines(load_assignments(settings.engines_file), environ=os.environ)
    storage = build_storage(settings)
    fetcher = SafeFetcher(allow_private=settings.allow_private_networks)
    runner = Worker(
        store,
        storage,
        engines,
        build_pricing(settings),
        WorkerConfig(
            scratch_dir=settings.scratch_dir,
            worker_id=default_worker_id(),
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.max_attempts,
            poll_interval=settings.poll_interval,
            stale_after=settings.worker_stale_seconds,
            version=__version__,
        ),
        InputPreparer(storage, fetcher, store),
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    _stop_when_parent_dies(stop)
    # Every worker process also delivers callbacks, on threads beside the render loop.
    _start_deliveries(
        settings, store, storage, settings.public_url or DEFAULT_CALLBACK_BASE_URL, stop
    )
    runner.run(stop)


def _stop_when_parent_dies(stop: threading.Event) -> None:
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent:
        return

    def watch() -> None:
        while not stop.wait(1.0):
            if os.getppid() != int(parent):
                stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _sealer_or_exit(settings: Settings) -> SecretSealer:
    try:
        return build_sealer(settings)
    except (ValueError, OSError) as exc:
        err.print(f"KIRIN_SECRET_KEY: {exc}")
        raise typer.Exit(2) from None


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
    settings = _admin_settings(data_dir, create)
    store = build_store(settings)
    owner = store.ensure_account(account)
    if kling:
        _, access_key, secret_key = issue_key_pair(store, _sealer_or_exit(settings), owner, name)
        typer.echo(access_key)
        typer.echo(secret_key)
        return
    _, key = issue_api_key(store, owner, name)
    typer.echo(key)


@keys_app.command("reseal")
def keys_reseal(data_dir: DataDirOption = None) -> None:
    """Seal every access-key pair's secret again with KIRIN_SECRET_KEY (the last step of
    rotating it; the old key must be in KIRIN_PREVIOUS_SECRET_KEYS meanwhile)."""
    settings = _admin_settings(data_dir)
    sealer = _sealer_or_exit(settings)
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
    store = _admin_store(data_dir)
    account_id = _account_or_exit(store, account).id if account else None
    table = Table("id", "kind", "account", "name", "prefix", "created", "revoked")
    for key in store.list_api_keys(account_id):
        table.add_row(
            key.id,
            "api key" if key.access_key is None else "kling pair",
            key.account_id,
            key.name,
            key.prefix + "…",
            _when(key.created_at),
            _when(key.revoked_at) if key.revoked_at else "",
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
    store = _admin_store(data_dir)
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

    store = _admin_store(data_dir)
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
    store = _admin_store(data_dir)
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
    _print_accounts(_admin_store(data_dir).list_accounts())


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
    store = _admin_store(data_dir, create)
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
    store = _admin_store(data_dir)
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
    store = _admin_store(data_dir)
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
    store = _admin_store(data_dir)
    account = _account_or_exit(store, name)
    _print_accounts([store.set_max_unfinished(account.id, max_unfinished)])


@workers_app.command("list")
def workers_list(data_dir: DataDirOption = None) -> None:
    """The workers that registered: live or stale, what they serve, what they are doing."""
    settings = _admin_settings(data_dir)
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
            _when(worker.last_seen),
            worker.current_task or "",
        )
    Console(width=250).print(table)


def _money(text: str) -> Decimal:
    try:
        return parse_money(text)
    except OperatorError as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None


def _when(timestamp: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def main() -> None:
    app()
