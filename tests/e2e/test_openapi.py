"""The OpenAPI document tells the truth: schemathesis finds nothing against the running server, a
client generated from it works, and the reference pages render from local assets."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from kirin_api.contract.registry import served_models
from tests.e2e.harness import Kirin

SCHEMATHESIS_CONFIG = Path(__file__).with_name("schemathesis.toml")
BIN = Path(sys.executable).parent


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def test_the_document_lists_what_the_server_answers(kirin: Kirin) -> None:
    spec = httpx.get(kirin.base_url + "/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for ref in _refs(spec):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref
    create = spec["paths"]["/model/v1/generation"]["post"]
    assert set(create["responses"]) == {
        "200",
        "400",
        "401",
        "402",
        "409",
        "413",
        "429",
        "500",
        "503",
    }
    error = create["responses"]["400"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    body = create["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["discriminator"]["mapping"]) == set(served_models())
    assert set(body["examples"]) == set(served_models())
    for operations in spec["paths"].values():
        for operation in operations.values():
            assert "422" not in operation["responses"]
    kling = spec["paths"]["/v1/videos/image2video"]["post"]["responses"]["400"]
    assert kling["content"]["application/json"]["schema"]["$ref"].endswith("/KlingError")


def test_options_and_empty_cursors_answer_as_documented(kirin: Kirin) -> None:
    key = kirin.create_key()
    with kirin.client(key) as client:
        options = client.options("/model/v1/elements/123")
        assert options.status_code == 405
        assert options.headers["allow"] == "DELETE, GET, HEAD"
        assert client.get("/model/v1/generation/tasks", params={"cursor": ""}).status_code == 200
        assert client.get("/model/v1/elements", params={"cursor": ""}).status_code == 200
        trace = client.request("TRACE", "/v1/videos/text2video")
    assert trace.status_code == 405
    assert trace.json()["code"] == 1202


@pytest.mark.slow
def test_schemathesis_finds_nothing(fresh_kirin: Kirin, tmp_path: Path) -> None:
    fresh_kirin.start_server(workers=0)
    key = fresh_kirin.create_key()
    run = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "--config-file",
            str(SCHEMATHESIS_CONFIG),
            "run",
            fresh_kirin.base_url + "/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {key}",
            "--max-examples",
            "10",
            "--seed",
            "20261201",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,  # where schemathesis keeps its own files
    )
    assert run.returncode == 0, run.stdout[-6000:]


@pytest.mark.slow
def test_a_generated_client_creates_and_gets_a_task(
    kirin: Kirin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = tmp_path / "openapi.json"
    document.write_bytes(httpx.get(kirin.base_url + "/openapi.json").content)
    subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(tmp_path / "kirin_generated"),
            "--meta",
            "none",
        ],
        capture_output=True,
        timeout=300,
        check=True,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    package = importlib.import_module("kirin_generated")
    create_task = importlib.import_module("kirin_generated.api.generation.create_task")
    get_task = importlib.import_module("kirin_generated.api.generation.get_task")
    models = importlib.import_module("kirin_generated.models")
    client = package.AuthenticatedClient(base_url=kirin.base_url, token=kirin.create_key())
    body = models.KirinV1T2VRequest.from_dict(
        {"model": "kirin_v1_t2v", "prompt": "a generated fox", "aspect_ratio": "1:1"}
    )
    created = create_task.sync(client=client, body=body)
    assert isinstance(created, models.Task)
    deadline = time.monotonic() + 120
    task = get_task.sync(client=client, task_id=created.id)
    while str(task.status) not in ("completed", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
        task = get_task.sync(client=client, task_id=created.id)
    assert str(task.status) == "completed"
    assert task.output[0].content[0].duration == 5.0
    assert httpx.get(task.output[0].content[0].url, timeout=30).status_code == 200


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_reference_pages_load_everything_from_this_server(kirin: Kirin, page: str) -> None:
    html = httpx.get(kirin.base_url + page).text
    links = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    links += re.findall(r"""url: ["']([^"']+)["']""", html)
    links += re.findall(r"""spec-url=["']([^"']+)["']""", html)
    assert links
    for link in links:
        assert link.startswith("/"), f"{page} loads {link} from elsewhere"
        answer = httpx.get(kirin.base_url + link)
        assert answer.status_code == 200, link
        assert len(answer.content) > 100, link
    assert "cdn" not in html.lower()
