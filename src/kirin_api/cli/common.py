"""What the ``kirin`` commands share: settings from flags, the stderr console, the data-dir
guard of operator commands, logging."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from kirin_api.contract.keypairs import SecretSealer
from kirin_api.logs import configure as configure_logs
from kirin_api.settings import Settings
from kirin_api.store import TaskStore
from kirin_api.wiring import build_sealer, build_store

err = Console(stderr=True, soft_wrap=True)

# How long the old webhook secret keeps signing after `kirin webhooks rotate-secret`.
ROTATION_GRACE_HOURS = 24.0
# Base of result links in callbacks sent by a `kirin worker` started without KIRIN_PUBLIC_URL
# (`kirin serve` passes its own URL to the workers it starts).
DEFAULT_CALLBACK_BASE_URL = "http://127.0.0.1:8000"

DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the embedded database and files live.")
]


def settings_from(**overrides: Any) -> Settings:
    given = {name: value for name, value in overrides.items() if value is not None}
    return Settings(**given)


CreateOption = Annotated[
    bool,
    typer.Option(
        "--create", help="Make a new data dir here if there is none (instead of refusing)."
    ),
]


def admin_settings(data_dir: Path | None, create: bool = False) -> Settings:
    """The settings of an operator's command, after saying (on stderr) which database it uses.

    Run in the wrong directory, a command would quietly make a new, empty data dir there, and a
    key the running server does not know: unless the data dir was named (--data-dir,
    KIRIN_DATA_DIR, KIRIN_DATABASE_URL) or ``create``, a missing one is refused instead."""
    settings = settings_from(data_dir=data_dir)
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


def admin_store(data_dir: Path | None, create: bool = False) -> TaskStore:
    return build_store(admin_settings(data_dir, create))


def setup_logging() -> None:
    configure_logs(
        os.environ.get("KIRIN_LOG_LEVEL", "INFO"), os.environ.get("KIRIN_LOG_FORMAT", "text")
    )


def json_logs() -> bool:
    return os.environ.get("KIRIN_LOG_FORMAT", "text") == "json"


def sealer_or_exit(settings: Settings) -> SecretSealer:
    try:
        return build_sealer(settings)
    except (ValueError, OSError) as exc:
        err.print(f"KIRIN_SECRET_KEY: {exc}")
        raise typer.Exit(2) from None


def when(timestamp: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
