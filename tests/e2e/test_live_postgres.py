"""Uploads and live events on PostgreSQL with two API processes that share only the database
and the storage: an upload made through one is an input of a task streamed through the other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.harness import Kirin
from tests.media_factory import image_bytes
from tests.pg_databases import PostgresDatabases

pytestmark = pytest.mark.slow


def test_an_upload_and_a_stream_across_api_processes_on_postgresql(
    pg_databases: PostgresDatabases, tmp_path: Path
) -> None:
    url = pg_databases.fresh()
    storage = f"file://{tmp_path / 'files'}"
    env = {"KIRIN_DATABASE_URL": url, "KIRIN_STORAGE_URL": storage}
    first, second = Kirin(tmp_path / "a", env=env), Kirin(tmp_path / "b", env=env)
    try:
        first.start_server(workers=1)
        second.start_server(workers=0)
        key = first.create_key()
        with first.client(key) as one, second.client(key) as two:
            made = one.post(
                "/model/v1/uploads",
                content=image_bytes(800, 600),
                headers={"Content-Type": "image/png"},
            )
            assert made.status_code == 200, made.text
            upload = made.json()
            assert two.get(f"/model/v1/uploads/{upload['id']}").status_code == 200
            task = two.post(
                "/model/v1/generation",
                json={"model": "kirin_v1_i2v", "image": upload["url"], "prompt": "a boat"},
            ).json()
            statuses = []
            with two.stream("GET", f"/model/v1/generation/task/{task['id']}/events") as events:
                for line in events.iter_lines():
                    if line.startswith("data: "):
                        statuses.append(json.loads(line[6:])["status"])
            assert statuses[-1] == "completed", statuses
            waited = two.post(
                "/model/v1/generation",
                json={"model": "kirin_v1_t2v", "prompt": "waves", "aspect_ratio": "1:1"},
                headers={"Prefer": "wait=60"},
            )
            assert waited.headers["preference-applied"] == "wait=60"
            assert waited.json()["status"] == "completed"
    finally:
        first.stop()
        second.stop()
