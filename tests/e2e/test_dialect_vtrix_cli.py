"""The Vtrix CLI pointed at this server (VTRIX_MODELS_URL = VTRIX_GENERATION_URL = the server):
its spec service, its envelope, its strict decoding, its idea of a final status."""

from __future__ import annotations

from pathlib import Path

import av
import httpx
import pytest

from tests.e2e.harness import Kirin, wait_for
from tests.vtrix_cli import CliError, VtrixCli


@pytest.fixture(scope="module")
def key(kirin: Kirin) -> str:
    return kirin.create_key()


@pytest.fixture(scope="module")
def cli(kirin: Kirin, key: str) -> VtrixCli:
    return VtrixCli(models_url=kirin.base_url, generation_url=kirin.base_url, api_key=key)


def test_the_spec_service_lists_models_without_a_key(cli: VtrixCli) -> None:
    listed = cli.models(page=1, page_size=20)
    ids = [model["id"] for model in listed["models"]]
    assert ids[0] == "kirin_v1_t2v"
    assert "kirin_custom_elements" in ids
    assert (listed["total"], listed["page"], listed["total_pages"]) == (len(ids), 1, 1)
    elements = cli.models(page=1, page_size=20, type="element")
    assert [model["id"] for model in elements["models"]] == ["kirin_custom_elements"]
    found = cli.models(page=1, page_size=20, keywords="motion control")
    assert [model["id"] for model in found["models"]] == ["kirin_v3_motion_control"]


def test_a_spec_points_the_cli_at_this_server(cli: VtrixCli, kirin: Kirin) -> None:
    spec = cli.spec("kirin_v1_t2v")
    assert spec["api"] == {
        "endpoint": kirin.base_url + "/model/v1/generation",
        "method": "POST",
        "headers": {},
    }
    by_name = {p["name"]: p for p in spec["parameters"]}
    assert {"external_task_id", "callback_url", "watermark_info"} <= set(by_name)
    assert by_name["duration"]["constraints"]["enum"] == ["5", "10"]
    assert "kirin_v1_t2v" in spec["agent_prompt"]


def test_an_unknown_model_is_a_404_in_the_envelope(kirin: Kirin, cli: VtrixCli) -> None:
    response = httpx.get(kirin.base_url + "/api/v1/skill/models/kirin_v9/spec")
    assert response.status_code == 404
    body = response.json()
    assert body["data"] is None
    assert body["status"]["code"] == 404
    assert "kirin_v9" in body["status"]["message"]
    with pytest.raises(CliError, match="status 404"):
        cli.spec("kirin_v9")


def test_vtrix_run_makes_a_video_it_can_decode(cli: VtrixCli, tmp_path: Path) -> None:
    task = cli.run(
        "kirin_v1_t2v",
        {
            "prompt": "a red fox in snow",
            "duration": "5",
            "aspect_ratio": "1:1",
            "camera_control.type": "simple",
            "camera_control.config.zoom": "-5",
            "unknown_flag": "dropped by the CLI",
        },
    )
    assert task["status"] == "completed"
    content = task["output"][0]["content"][0]
    assert content["duration"] == "5"
    assert isinstance(task["usage"]["cost"], str)
    video = tmp_path / "fox.mp4"
    video.write_bytes(httpx.get(content["url"], timeout=30).content)
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (720, 720)
        assert stream.frames == 150
    again = cli.task_status(task["id"])
    assert again["output"][0]["content"][0]["duration"] == "5"


def test_other_clients_keep_the_documented_number(kirin: Kirin, cli: VtrixCli, key: str) -> None:
    task_id, _ = cli.submit("kirin_v1_t2v", {"prompt": "a kite", "duration": "5"})
    with kirin.client(key) as client:
        task = wait_for(client, task_id)
    assert task["status"] == "completed"
    assert task["output"][0]["content"][0]["duration"] == 5.0


def test_a_cancelled_task_is_final_for_the_cli(kirin: Kirin, cli: VtrixCli, key: str) -> None:
    task_id, _ = cli.submit("kirin_v1_t2v", {"prompt": "a slow sunrise", "duration": "10"})
    with kirin.client(key) as client:
        assert client.post(f"/model/v1/generation/task/{task_id}/cancel").status_code == 200
        plain = wait_for(client, task_id)
    assert plain["status"] == "cancelled"
    seen = cli.task_status(task_id)
    assert seen["status"] == "failed"
    assert seen["error"]["message"] == "task was cancelled"
    assert seen["error"]["error_message"] == "task was cancelled"


def test_the_cli_envelope_is_checked_like_a_flat_body(kirin: Kirin, key: str) -> None:
    headers = {"User-Agent": "vtrix-cli/1.0.1", "X-Source": "cli"}
    with kirin.client(key) as client:
        two_blocks = client.post(
            "/model/v1/generation",
            json={"model": "kirin_v1_t2v", "input": [{"params": {}}, {"params": {}}]},
            headers=headers,
        )
        assert two_blocks.status_code == 400
        assert two_blocks.json()["error"]["param"] == "input"
        bad_rule = client.post(
            "/model/v1/generation",
            json={"model": "kirin_v1_t2v", "input": [{"params": {"prompt": "x", "duration": "7"}}]},
            headers=headers,
        )
    assert bad_rule.status_code == 400
    error = bad_rule.json()["error"]
    assert error["param"] == "duration"
    assert "5" in error["message"]
