"""Submit, poll, download over real HTTP against ``kirin serve``; the MP4 checked with PyAV."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from kirin_api.media.probe import probe_video, read_frames
from tests.e2e.harness import Kirin, wait_for


def _download(url: str, path: Path) -> Path:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    path.write_bytes(response.content)
    return path


def test_t2v_default_request_gives_the_promised_mp4(kirin: Kirin, tmp_path: Path) -> None:
    key = kirin.create_key()
    with kirin.client(key) as client:
        created = client.post(
            "/model/v1/generation",
            json={"model": "kirin_v1_t2v", "prompt": "a red fox running through snow"},
        )
        assert created.status_code == 200, created.text
        task = created.json()
        assert task["status"] == "pending"
        assert task["object"] == "generation.task"
        assert task["id"].startswith("task_")
        assert "output" not in task
        assert "error" not in task
        polled = client.get(f"/model/v1/generation/task/{task['id']}")
        assert polled.headers["retry-after"] == "1", "unfinished tasks carry a poll hint"

        seen: list[dict] = []
        done = wait_for(client, task["id"], seen=seen)

    assert done["status"] == "completed", done
    with kirin.client(key) as client:
        finished = client.get(f"/model/v1/generation/task/{task['id']}")
    assert "retry-after" not in finished.headers
    progress = [t["progress"] for t in seen]
    assert progress == sorted(progress), "progress never decreases"
    assert any(0 < p < 1 for p in progress), f"progress rises during rendering: {progress}"
    assert done["progress"] == 1.0
    assert done["completed_at"] >= done["created_at"]
    assert done["usage"] == {"cost": "0.1400", "discount": 0}
    assert done["metadata"]["engine"] == "preview"
    content = done["output"][0]["content"][0]
    assert content["type"] == "video"
    assert content["duration"] == 5.0
    assert "watermark_url" not in content

    info = probe_video(_download(content["url"], tmp_path / "v.mp4"))
    assert (info.width, info.height) == (1280, 720)
    assert info.fps == 30
    assert info.frames == 150
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert info.faststart
    assert not info.has_audio


@pytest.mark.slow
@pytest.mark.parametrize(
    ("aspect_ratio", "duration", "size", "frames"),
    [("9:16", 5, (720, 1280), 150), ("1:1", "10", (720, 720), 300)],
)
def test_size_and_length_follow_the_request(
    kirin: Kirin,
    tmp_path: Path,
    aspect_ratio: str,
    duration: int | str,
    size: tuple[int, int],
    frames: int,
) -> None:
    key = kirin.create_key()
    with kirin.client(key) as client:
        task = client.post(
            "/model/v1/generation",
            json={
                "model": "kirin_v1_t2v",
                "prompt": "city lights at night",
                "aspect_ratio": aspect_ratio,
                "duration": duration,
            },
        ).json()
        done = wait_for(client, task["id"], timeout=240)
    assert done["status"] == "completed", done
    info = probe_video(_download(done["output"][0]["content"][0]["url"], tmp_path / "v.mp4"))
    assert (info.width, info.height) == size
    assert (info.fps, info.frames) == (30, frames)
    assert info.duration == pytest.approx(frames / 30, abs=0.05)


def test_watermark_gives_a_second_visibly_marked_video(kirin: Kirin, tmp_path: Path) -> None:
    key = kirin.create_key()
    with kirin.client(key) as client:
        task = client.post(
            "/model/v1/generation",
            json={
                "model": "kirin_v1_t2v",
                "prompt": "green hills",
                "watermark_info": {"enabled": True},
            },
        ).json()
        done = wait_for(client, task["id"])
    content = done["output"][0]["content"][0]
    clean = _download(content["url"], tmp_path / "clean.mp4")
    marked = _download(content["watermark_url"], tmp_path / "marked.mp4")
    assert probe_video(marked).frames == probe_video(clean).frames == 150
    clean_frame, marked_frame = read_frames(clean, [75])[0], read_frames(marked, [75])[0]
    difference = np.abs(clean_frame.astype(int) - marked_frame.astype(int)).max(axis=2)
    changed = (difference > 40).mean()
    assert 0.001 < changed < 0.2, f"the mark covers {changed:.1%} of the picture"


def test_same_request_same_video_and_prompts_differ(kirin: Kirin, tmp_path: Path) -> None:
    key = kirin.create_key()
    urls = []
    with kirin.client(key) as client:
        for prompt in ["a blue ocean at dawn", "a blue ocean at dawn", "a desert at noon"]:
            task = client.post(
                "/model/v1/generation", json={"model": "kirin_v1_t2v", "prompt": prompt}
            ).json()
            urls.append(task["id"])
        finished = [wait_for(client, task_id) for task_id in urls]
    paths = [
        _download(t["output"][0]["content"][0]["url"], tmp_path / f"{i}.mp4")
        for i, t in enumerate(finished)
    ]
    first, same, other = (read_frames(p, [0, 149]) for p in paths)
    assert all(np.array_equal(a, b) for a, b in zip(first, same, strict=True))
    assert np.abs(first[0].astype(int) - other[0].astype(int)).mean() > 20
