"""``import kirin_api`` is cheap, and the SDK never pulls in the server side or the CLI."""

from __future__ import annotations

import subprocess
import sys

SERVER_SIDE = (
    "kirin_api.server",
    "kirin_api.store",
    "kirin_api.storage",
    "kirin_api.worker",
    "kirin_api.engines",
    "kirin_api.media",
    "kirin_api.settings",
    "kirin_api.cli",
    "kirin_api.user_cli",
    "fastapi",
    "sqlalchemy",
    "av",
    "numpy",
    "typer",
)


def _modules_after(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(done.stdout.split())


def test_import_kirin_api_loads_nothing_else() -> None:
    loaded = _modules_after("import kirin_api")
    assert not {m for m in loaded if m.startswith("kirin_api.")}
    assert "httpx" not in loaded
    assert "pydantic" not in loaded


def test_the_sdk_loads_no_server_side_module() -> None:
    loaded = _modules_after(
        "from kirin_api import AsyncClient, Client, verify_webhook, APIError\n"
        "import kirin_api.client.helpers"
    )
    assert "kirin_api.client" in loaded
    assert not {m for m in loaded for s in SERVER_SIDE if m == s or m.startswith(s + ".")}
