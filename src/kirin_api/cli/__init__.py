"""The ``kirin`` command: ``serve`` and ``worker`` (serve.py), the operator's commands (keys,
accounts, webhooks, workers: operators.py), and the user's (``generate``, ``upload``,
``task``: user_cli)."""

from __future__ import annotations

import typer

from kirin_api.cli.operators import accounts_app, keys_app, webhooks_app, workers_app
from kirin_api.cli.serve import serve, worker
from kirin_api.user_cli import generate_command, task_app, upload_command

app = typer.Typer(help="Kirin API server.", no_args_is_help=True, add_completion=False)
app.command()(serve)
app.command()(worker)
app.add_typer(keys_app, name="keys")
app.add_typer(accounts_app, name="accounts")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(workers_app, name="workers")
app.command("generate")(generate_command)
app.command("upload")(upload_command)
app.add_typer(task_app, name="task")


def main() -> None:
    app()
