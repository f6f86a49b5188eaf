"""What the tests of the upstream engines share: the upstream, its keys, and jobs to relay."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from kirin_api.contract.job import NO_VIDEO, RenderJob
from kirin_api.contract.registry import validate_request

BASE = "https://upstream.example.com"
CDN = "https://cdn.example.com/results/out.mp4"
ELEMENT_KEY = f"kirin:{BASE}"
TASK_ID = "task_01JTESTRELAY"
API_KEY_ENV = "KIRIN_UPSTREAM_API_KEY"
API_KEY = "sk-upstream-very-secret"
ACCESS_ENV, SECRET_ENV = "KLING_ACCESS_KEY", "KLING_SECRET_KEY"
ACCESS_KEY, SECRET_KEY = "ak-test-access", "sk-test-secret-of-kling-32-bytes-or-more"
# The table of a Kling engine in the engines file, and the variables it names.
KLING_TABLE: dict[str, Any] = {
    "engine": "kling",
    "base_url": "https://api-singapore.klingai.com/",
    "access_key_env": ACCESS_ENV,
    "secret_key_env": SECRET_ENV,
    "max_concurrent": 5,
}
KLING_ENV = {ACCESS_ENV: ACCESS_KEY, SECRET_ENV: SECRET_KEY}
VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42 not really a video"


def make_job(
    body: dict[str, Any],
    *,
    inputs: dict[str, str] | None = None,
    public: frozenset[str] = frozenset(),
    element_refs: dict[int, dict[str, str]] | None = None,
    workdir: Path | None = None,
) -> RenderJob:
    validated = validate_request(body)
    return RenderJob(
        task_id=TASK_ID,
        model=validated.model,
        params=validated.params,
        spec=NO_VIDEO,
        seed=7,
        inputs=inputs or {},
        workdir=str(workdir or ""),
        public_urls=public,
        element_refs=element_refs or {},
    )


def local_file(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode("ascii")


def t2v_job(tmp_path: Path) -> RenderJob:
    return make_job({"model": "kirin_v1_t2v", "prompt": "a quiet lake"}, workdir=tmp_path)
