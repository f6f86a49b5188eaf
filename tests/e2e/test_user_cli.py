"""``kirin generate`` and ``kirin task ...`` against a real server process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kirin_api.media.probe import probe_video
from kirin_api.user_cli import user_app
from tests.e2e.harness import Kirin

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(kirin: Kirin) -> dict[str, str]:
    return {"KIRIN_BASE_URL": kirin.base_url, "KIRIN_API_KEY": kirin.create_key(account="cli")}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_generate_waits_and_saves_the_video(
    runner: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "fox.mp4"
    result = runner.invoke(
        user_app,
        [
            "generate",
            "kirin_v1_t2v",
            "--param",
            "prompt=a red fox",
            "-p",
            "duration=5",
            "-p",
            "camera_control.type=simple",
            "-p",
            "camera_control.config.zoom=-3",
            "-p",
            "watermark_info.enabled=true",
            "--output",
            str(out),
            "--watermarked",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    task = json.loads(result.stdout)
    assert task["status"] == "completed"
    assert task["metadata"]["camera"].startswith("simple")
    info = probe_video(out)
    assert (info.width, info.height, info.frames) == (1280, 720, 150)


def test_generate_without_wait_prints_the_pending_task_then_task_commands(
    runner: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    result = runner.invoke(
        user_app,
        ["generate", "kirin_v1_t2v", "-p", "prompt=a boat", "-p", 'external_task_id="77"'],
        env=env,
    )
    assert result.exit_code == 0, result.output
    task = json.loads(result.stdout)
    assert task["status"] == "pending"
    assert task["external_task_id"] == "77"

    got = runner.invoke(user_app, ["task", "get", task["id"]], env=env)
    assert json.loads(got.stdout)["id"] == task["id"]

    waited = runner.invoke(user_app, ["task", "wait", task["id"], "-q"], env=env)
    assert waited.exit_code == 0, waited.output
    assert json.loads(waited.stdout)["status"] == "completed"

    listed = runner.invoke(
        user_app, ["task", "list", "--external-task-id", "77", "--json"], env=env
    )
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [task["id"]]
    table = runner.invoke(user_app, ["task", "list", "--limit", "5"], env=env)
    assert task["id"] in table.stdout

    saved = runner.invoke(user_app, ["task", "download", task["id"], str(tmp_path)], env=env)
    assert saved.exit_code == 0, saved.output
    assert probe_video(Path(saved.stdout.strip())).frames == 150

    cancel = runner.invoke(user_app, ["task", "cancel", task["id"]], env=env)
    assert cancel.exit_code == 1
    assert "conflict" in cancel.stderr


def test_errors_print_code_param_and_message(
    runner: CliRunner, env: dict[str, str], kirin: Kirin
) -> None:
    result = runner.invoke(
        user_app, ["generate", "kirin_v1_t2v", "-p", "prompt=x", "-p", "duration=7"], env=env
    )
    assert result.exit_code == 1
    assert "invalid_parameter" in result.stderr
    assert "param: duration" in result.stderr
    assert "duration" in result.stderr.split("message:")[1]
    assert result.stdout == ""

    missing = runner.invoke(user_app, ["task", "get", "task_nope"], env=env)
    assert missing.exit_code == 1
    assert "not_found" in missing.stderr

    flags = ["--base-url", kirin.base_url, "--api-key", "kirin_sk_" + "B" * 43]
    denied = runner.invoke(user_app, ["task", "list", *flags], env={"KIRIN_API_KEY": ""})
    assert denied.exit_code == 1
    assert "unauthorized" in denied.stderr

    bad = runner.invoke(user_app, ["generate", "kirin_v1_t2v", "-p", "oops"], env=env)
    assert bad.exit_code == 1
    assert "key=value" in bad.stderr


def test_the_kirin_command_mounts_it(env: dict[str, str], kirin: Kirin, tmp_path: Path) -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "kirin_api", "--help"], capture_output=True, text=True, check=True
    ).stdout
    if "generate" not in help_text:
        pytest.skip("kirin_api.cli does not mount the user CLI yet")
    out = tmp_path / "cli.mp4"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kirin_api",
            "generate",
            "kirin_v1_t2v",
            "--param",
            "prompt=a quiet lake",
            "--output",
            str(out),
        ],
        env={**kirin.env, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "completed"
    assert probe_video(out).frames == 150
