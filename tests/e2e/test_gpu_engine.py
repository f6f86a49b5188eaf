"""The diffusers engine through a real server and worker, on tiny random-weight Wan pipelines.

The pipelines are built from configs (tests/diffusers_models.py), saved with save_pretrained and
named in a KIRIN_ENGINES_FILE, so the worker goes through the real loading code: weights checks,
from_pretrained, the warm cache, the recipes, resampling to the contract and encoding. Random
weights make noise, so what is checked is what the contract and the controls promise: size,
frame rate, duration, sound, the pipeline each request ran on, the still area held still.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kirin_api.media.probe import probe_video, read_frames
from tests.diffusers_models import build_i2v, build_t2v, build_vace
from tests.e2e.harness import Kirin, fetch_video, submit, wait_for
from tests.file_server import FileServer
from tests.media_factory import b64, image_bytes, mask_bytes, video_file

pytestmark = pytest.mark.slow

PNG_800x600 = image_bytes(800, 600)
PNG_600x900 = image_bytes(600, 900, seed=1)
# Tiny and fast: 9 frames at about 32x32, two steps, on the CPU in float32.
COMMON = 'steps = 2\nsize = "32x32"\nframes = 9\ndtype = "float32"\ndevice = "cpu"\n'


def engines_file(directory: Path, t2v: Path, i2v: Path, vace: Path) -> Path:
    path = directory / "engines.toml"
    path.write_text(
        f"""
[models.kirin_v1_t2v]
engine = "diffusers"
weights = "{t2v}"
{COMMON}
[models.kirin_v1_i2v]
engine = "diffusers"
weights = "{i2v}"
vace_weights = "{vace}"
{COMMON}
[models.kirin_v1_6_multi_i2v]
engine = "diffusers"
weights = "{vace}"
{COMMON}
[models.kirin_v3_i2v]
engine = "diffusers"
weights = "{i2v}"
vace_weights = "{vace}"
{COMMON}
[models.kirin_v3_motion_control]
engine = "diffusers"
weights = "{vace}"
{COMMON}
"""
    )
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("weights")
    return {
        "t2v": build_t2v(root / "wan-t2v"),
        "i2v": build_i2v(root / "wan-flf2v"),
        "vace": build_vace(root / "wan-vace"),
    }


@pytest.fixture(scope="module")
def kirin(tmp_path_factory: pytest.TempPathFactory, weights: dict[str, Path]) -> Iterator[Kirin]:
    data = tmp_path_factory.mktemp("kirin-gpu")
    env = {
        "KIRIN_ENGINES_FILE": str(engines_file(data, **weights)),
        "KIRIN_ALLOW_PRIVATE_NETWORKS": "true",
        "HF_HUB_OFFLINE": "1",
    }
    server = Kirin(data, env=env)
    server.start_server(workers=1)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def key(kirin: Kirin) -> str:
    return kirin.create_key(account="gpu")


def video(kirin: Kirin, key: str, body: dict[str, Any], path: Path) -> tuple[Any, dict[str, Any]]:
    task = submit(kirin, key, body, timeout=240)
    assert task["status"] == "completed", task
    return probe_video(fetch_video(task, path)), task["metadata"]


def test_text_to_video(kirin: Kirin, key: str, tmp_path: Path) -> None:
    body = {"model": "kirin_v1_t2v", "prompt": "a red fox in snow", "negative_prompt": "blur"}
    info, metadata = video(kirin, key, body, tmp_path / "v.mp4")
    assert (info.width, info.height, info.fps, info.frames) == (1280, 720, 30, 150)
    assert not info.has_audio
    assert metadata["engine"] == "diffusers"
    assert metadata["pipeline"] == "WanPipeline"
    assert metadata["steps"] == 2
    assert metadata["device"] == "cpu"
    assert metadata["generated_size"] == "48x32"  # 32x32's area at 16:9, sides of 16


def test_text_to_video_with_a_camera_move_films_a_larger_plate(
    kirin: Kirin, key: str, tmp_path: Path
) -> None:
    body = {
        "model": "kirin_v1_t2v",
        "prompt": "a city street",
        "aspect_ratio": "1:1",
        "camera_control": {"type": "simple", "config": {"horizontal": 5}},
    }
    info, metadata = video(kirin, key, body, tmp_path / "v.mp4")
    assert (info.width, info.height, info.fps, info.frames) == (720, 720, 30, 150)
    camera = metadata["camera"]
    assert camera["move"] == "simple:horizontal=5"
    assert camera["plate_scale"] > 1.0
    width, height = (int(s) for s in metadata["generated_size"].split("x"))
    assert width > 32
    assert height >= 32


def test_image_to_video_first_and_last_frame(kirin: Kirin, key: str, tmp_path: Path) -> None:
    tail = image_bytes(800, 600, seed=9)
    body = {"model": "kirin_v1_i2v", "image": b64(PNG_800x600), "image_tail": b64(tail)}
    info, metadata = video(kirin, key, body, tmp_path / "v.mp4")
    assert (info.width, info.height, info.fps, info.frames) == (960, 720, 30, 150)
    assert metadata["pipeline"] == "WanImageToVideoPipeline"
    assert metadata["last_frame"] is True


def test_image_to_video_motion_brush_runs_on_vace_and_holds_the_still_area(
    kirin: Kirin, key: str, tmp_path: Path
) -> None:
    body = {
        "model": "kirin_v1_i2v",
        "image": b64(PNG_800x600),
        "static_mask": b64(mask_bytes(400, 300, (0, 0, 200, 150))),  # the top-left quarter
        "dynamic_masks": [
            {
                "mask": b64(mask_bytes(400, 300, (260, 160, 320, 220))),
                "trajectories": [{"x": 580, "y": 220}, {"x": 700, "y": 120}],
            }
        ],
    }
    info, metadata = video(kirin, key, body, tmp_path / "v.mp4")
    assert (info.width, info.height, info.frames) == (960, 720, 150)
    assert metadata["pipeline"] == "WanVACEPipeline"
    assert metadata["dynamic_masks"] == 1
    frames = read_frames(tmp_path / "v.mp4", [0, 75, 149])
    still = [f[40:320, 40:440].astype(np.float32) for f in frames]  # inside the static area
    assert max(float(np.abs(s - still[0]).mean()) for s in still) < 2.0
    moving = [f[400:, 520:].astype(np.float32) for f in frames]  # outside it: generated noise
    assert float(np.abs(moving[2] - moving[0]).mean()) > 2.0


def test_multi_image_reference_runs_on_vace(kirin: Kirin, key: str, tmp_path: Path) -> None:
    body = {
        "model": "kirin_v1_6_multi_i2v",
        "prompt": "two friends",
        "aspect_ratio": "9:16",
        "image_list": [{"image": b64(PNG_800x600)}, {"image": b64(PNG_600x900)}],
    }
    info, metadata = video(kirin, key, body, tmp_path / "v.mp4")
    assert (info.width, info.height, info.fps, info.frames) == (720, 1280, 30, 150)
    assert metadata["pipeline"] == "WanVACEPipeline"
    assert metadata["references"] == 2


def test_multi_shot_is_generated_shot_by_shot(kirin: Kirin, key: str, tmp_path: Path) -> None:
    body = {
        "model": "kirin_v3_i2v",
        "image": b64(PNG_600x900),
        "mode": "pro",
        "duration": 5,
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": [
            {"index": 1, "prompt": "wide shot", "duration": "2"},
            {"index": 2, "prompt": "close up", "duration": "3"},
        ],
    }
    info, metadata = video(kirin, key, body, tmp_path / "v.mp4")
    assert (info.width, info.height, info.fps, info.frames) == (1080, 1620, 30, 150)  # pro: 1080p
    assert metadata["shots"] == 2
    assert metadata["shot_starts"] == [0, 60]
    assert metadata["upscaled"] is True  # pro without pro_size: generated small, upscaled


def test_sound_without_an_audio_model_fails_with_094(kirin: Kirin, key: str) -> None:
    body = {"model": "kirin_v3_i2v", "image": b64(PNG_600x900), "prompt": "a band", "sound": "on"}
    task = submit(kirin, key, body, timeout=240)
    assert task["status"] == "failed"
    assert task["error"]["code"] == "006001094"
    assert "sound" in task["error"]["message"]


def test_motion_control_follows_the_reference_length_and_sound(
    kirin: Kirin, key: str, files: FileServer, tmp_path: Path
) -> None:
    reference = video_file(tmp_path / "ref.mp4", seconds=3.5, audio=True)
    body = {
        "model": "kirin_v3_motion_control",
        "image_url": b64(PNG_600x900),
        "video_url": files.add("/ref.mp4", reference.read_bytes()),
        "character_orientation": "image",
        "mode": "std",
    }
    info, metadata = video(kirin, key, body, tmp_path / "v.mp4")
    assert (info.width, info.height, info.fps, info.frames) == (720, 1080, 30, 105)
    assert info.has_audio
    assert metadata["pipeline"] == "WanVACEPipeline"
    assert metadata["first_frame_is_image"] is True


def test_a_broken_weights_directory_is_reported_once_and_not_claimed(
    tmp_path: Path, weights: dict[str, Path]
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    engines = tmp_path / "engines.toml"
    engines.write_text(
        f'[models.kirin_v1_t2v]\nengine = "diffusers"\nweights = "{broken}"\n{COMMON}'
        f'[models.kirin_v1_6_multi_i2v]\nengine = "diffusers"\nweights = "{weights["vace"]}"\n'
        f"{COMMON}"
    )
    server = Kirin(tmp_path / "data", env={"KIRIN_ENGINES_FILE": str(engines)})
    server.start_server(workers=1)
    try:
        key = server.create_key()
        with server.client(key) as client:
            t2v = client.post("/model/v1/generation", json={"model": "kirin_v1_t2v", "prompt": "x"})
            assert t2v.status_code == 200
            other = {
                "model": "kirin_v1_6_multi_i2v",
                "prompt": "y",
                "image_list": [{"image": b64(PNG_800x600)}],
            }
            multi = client.post("/model/v1/generation", json=other)
            done = wait_for(client, multi.json()["id"], timeout=240)
            assert done["status"] == "completed"  # the worker runs what it can
            pending = client.get(f"/model/v1/generation/task/{t2v.json()['id']}").json()
            assert pending["status"] == "pending"  # and leaves the rest to other workers
    finally:
        server.stop()
    log = server.log_path.read_text()
    lines = [line for line in log.splitlines() if "not serving kirin_v1_t2v" in line]
    assert len(lines) == 1, log[-3000:]
    assert "no model_index.json" in lines[0]
