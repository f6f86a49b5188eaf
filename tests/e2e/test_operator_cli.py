"""The operator's commands say which database they use and refuse to make a stray one; the
user CLI speaks CLI in its messages; ``kirin serve`` says where it is and how to get a key."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from typer.testing import CliRunner

from kirin_api.user_cli import user_app
from tests.e2e.harness import KIRIN, Kirin


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIRIN_")}
    return subprocess.run(
        [*KIRIN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_keys_create_refuses_to_make_a_stray_data_dir(tmp_path: Path) -> None:
    refused = _run(["keys", "create"], tmp_path)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert "--data-dir" in refused.stderr
    assert "--create" in refused.stderr
    assert not (tmp_path / "kirin-data").exists()
    made = _run(["keys", "create", "--create"], tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("kirin_sk_")
    database = tmp_path / "kirin-data" / "kirin.db"
    assert f"database: sqlite:///{database}" in made.stderr
    listed = _run(["keys", "list"], tmp_path)
    assert listed.returncode == 0
    assert str(database) in listed.stderr


def test_serve_says_where_it_listens_and_how_to_get_a_key(fresh_kirin: Kirin) -> None:
    fresh_kirin.start_server(workers=0)  # returns once /healthz answers
    deadline = time.monotonic() + 10
    while "make a key" not in fresh_kirin.log_path.read_text():
        assert time.monotonic() < deadline, fresh_kirin.log_path.read_text()
        time.sleep(0.05)
    log = fresh_kirin.log_path.read_text()
    assert f"kirin-api is serving on {fresh_kirin.base_url}" in log
    assert f"kirin keys create --data-dir {fresh_kirin.data_dir.resolve()}" in log


def test_the_user_cli_speaks_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    no_key = runner.invoke(
        user_app, ["task", "list"], env={"KIRIN_API_KEY": "", "KIRIN_BASE_URL": "http://x"}
    )
    assert no_key.exit_code == 1
    assert "--api-key" in no_key.output
    assert "KIRIN_API_KEY" in no_key.output
    assert "api_key=" not in no_key.output
    (tmp_path / "photo.png").write_bytes(b"not really")
    bare = runner.invoke(
        user_app,
        ["generate", "kirin_v1_i2v", "--api-key", "k", "--param", "image=photo.png"],
        env={"KIRIN_BASE_URL": "http://127.0.0.1:9"},
    )
    assert bare.exit_code == 1
    assert "image=@photo.png" in bare.output
