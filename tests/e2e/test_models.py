"""Every model through the real pipeline: submit, media checks, fetch, render, store, download."""

from __future__ import annotations

import io
import signal
import struct
import time
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from kirin_api.media.probe import probe_video, read_frames
from tests.e2e.harness import Kirin, fetch_video, submit, wait_for
from tests.file_server import FileServer
from tests.media_factory import b64, image_bytes, mask_bytes, video_file

PNG_800x600 = image_bytes(800, 600)
PNG_600x900 = image_bytes(600, 900, seed=1)
JPEG_640x480 = image_bytes(640, 480, fmt="JPEG", seed=2)


# The shared server (conftest) may fetch from the tests' own loopback file server.
KIRIN_ENV = {"KIRIN_ALLOW_PRIVATE_NETWORKS": "true"}


@pytest.fixture(scope="module")
def key(kirin: Kirin) -> str:
    return kirin.create_key(account="models")


def resized(data: bytes, width: int, height: int) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB").resize((width, height)))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


def test_i2v_starts_on_the_image_at_its_aspect_ratio(
    kirin: Kirin, key: str, tmp_path: Path
) -> None:
    task = submit(kirin, key, {"model": "kirin_v1_i2v", "image": b64(PNG_800x600)})
    info = probe_video(fetch_video(task, tmp_path / "v.mp4"))
    assert (info.width, info.height, info.fps, info.frames) == (960, 720, 30, 150)
    assert not info.has_audio
    first = read_frames(tmp_path / "v.mp4", [0])[0]
    assert psnr(first, resized(PNG_800x600, 960, 720)) > 25
    assert task["usage"]["cost"]


def test_i2v_with_an_end_frame_ends_on_it(kirin: Kirin, key: str, tmp_path: Path) -> None:
    tail = image_bytes(800, 600, seed=9)
    task = submit(
        kirin, key, {"model": "kirin_v1_i2v", "image": b64(PNG_800x600), "image_tail": b64(tail)}
    )
    path = fetch_video(task, tmp_path / "v.mp4")
    last = read_frames(path, [149])[0]
    assert psnr(last, resized(tail, 960, 720)) > 25


def test_i2v_motion_brush_request_runs(kirin: Kirin, key: str, tmp_path: Path) -> None:
    body = {
        "model": "kirin_v1_i2v",
        "image": b64(PNG_800x600),
        "static_mask": b64(mask_bytes(400, 300, (0, 0, 100, 100))),
        "dynamic_masks": [
            {
                "mask": b64(mask_bytes(400, 300, (200, 100, 260, 160))),
                "trajectories": [{"x": 460, "y": 300}, {"x": 600, "y": 350}],
            }
        ],
    }
    info = probe_video(fetch_video(submit(kirin, key, body), tmp_path / "v.mp4"))
    assert (info.width, info.height, info.frames) == (960, 720, 150)


def test_multi_image_to_video_uses_the_aspect_ratio(kirin: Kirin, key: str, tmp_path: Path) -> None:
    body = {
        "model": "kirin_v1_6_multi_i2v",
        "prompt": "two friends",
        "aspect_ratio": "9:16",
        "image_list": [{"image": b64(PNG_800x600)}, {"image": b64(JPEG_640x480)}],
    }
    info = probe_video(fetch_video(submit(kirin, key, body), tmp_path / "v.mp4"))
    assert (info.width, info.height, info.fps, info.frames) == (720, 1280, 30, 150)


def test_v3_i2v_with_sound_has_an_aac_track_of_the_full_length(
    kirin: Kirin, key: str, tmp_path: Path
) -> None:
    body = {
        "model": "kirin_v3_i2v",
        "image": b64(PNG_600x900),
        "prompt": "a dancer",
        "sound": "on",
        "duration": "4",
    }
    info = probe_video(fetch_video(submit(kirin, key, body), tmp_path / "v.mp4"))
    assert (info.width, info.height, info.frames) == (720, 1080, 120)
    assert info.has_audio
    assert info.audio_codec == "aac"
    assert info.audio_duration == pytest.approx(4.0, abs=0.1)


def test_v3_i2v_pro_multi_shot_from_an_end_image(kirin: Kirin, key: str, tmp_path: Path) -> None:
    body = {
        "model": "kirin_v3_i2v",
        "image_tail": b64(PNG_800x600),
        "mode": "pro",
        "duration": 5,
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": [
            {"index": 1, "prompt": "wide shot", "duration": "2"},
            {"index": 2, "prompt": "close up", "duration": "3"},
        ],
    }
    info = probe_video(fetch_video(submit(kirin, key, body), tmp_path / "v.mp4"))
    assert (info.width, info.height, info.frames) == (1440, 1080, 150)
    assert not info.has_audio


def test_motion_control_lasts_as_long_as_the_reference_and_keeps_its_sound(
    kirin: Kirin, key: str, files: FileServer, tmp_path: Path
) -> None:
    reference = video_file(tmp_path / "ref.mp4", seconds=3.5, audio=True)
    url = files.add("/ref.mp4", reference.read_bytes())
    body = {
        "model": "kirin_v3_motion_control",
        "image_url": b64(PNG_600x900),
        "video_url": url,
        "character_orientation": "image",
        "mode": "std",
    }
    info = probe_video(fetch_video(submit(kirin, key, body), tmp_path / "v.mp4"))
    assert (info.width, info.height, info.fps) == (720, 1080, 30)
    assert info.frames == 105
    assert info.has_audio
    silent = submit(kirin, key, {**body, "keep_original_sound": "no"})
    assert not probe_video(fetch_video(silent, tmp_path / "s.mp4")).has_audio


def test_url_inputs_are_fetched_and_checked(
    kirin: Kirin, key: str, files: FileServer, tmp_path: Path
) -> None:
    url = files.add("/photo.jpg", JPEG_640x480)
    task = submit(kirin, key, {"model": "kirin_v1_i2v", "image": url})
    info = probe_video(fetch_video(task, tmp_path / "v.mp4"))
    assert (info.width, info.height) == (960, 720)
    assert files.hits["/photo.jpg"] == 1

    missing = submit(kirin, key, {"model": "kirin_v1_i2v", "image": files.base_url + "/nope.png"})
    assert missing["status"] == "failed"
    assert missing["error"]["code"] == "002002097"
    assert "image" in missing["error"]["message"]
    assert "404" in missing["error"]["message"]

    gif = files.add("/fake.png", b"GIF89a" + b"\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 30)
    wrong = submit(kirin, key, {"model": "kirin_v1_i2v", "image": gif})
    assert wrong["status"] == "failed"
    assert wrong["error"]["code"] == "002002099"
    assert "image" in wrong["error"]["message"]

    small = files.add("/small.png", image_bytes(200, 200))
    tiny = submit(kirin, key, {"model": "kirin_v3_i2v", "image": small, "prompt": "x"})
    assert tiny["error"]["code"] == "006001099"
    assert "300" in tiny["error"]["message"]


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG header that claims a huge picture, with almost no data behind it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = b"IDAT" + zlib.compress(b"\x00" * 64)
    body += struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat))
    return b"\x89PNG\r\n\x1a\n" + body


@pytest.mark.parametrize(
    ("image", "rule"),
    [
        (b64(b"GIF89a" + b"\x00" * 100), "PNG"),
        (b64(np.random.default_rng(0).bytes(5000)), "PNG"),
        ("data:image/png;base64," + b64(PNG_800x600), "data:"),
        (b64(_png_declaring(50000, 50000)), "pixels"),
        (b64(image_bytes(100, 400)), "300"),
        (b64(PNG_800x600[: len(PNG_800x600) // 2]), "truncated"),
        ("not base64 at all!", "base64"),
    ],
    ids=["gif", "random", "data-prefix", "bomb", "small", "truncated", "not-base64"],
)
def test_hostile_base64_images_are_refused_at_submit(
    kirin: Kirin, key: str, image: str, rule: str
) -> None:
    started = time.monotonic()
    with kirin.client(key) as client:
        response = client.post(
            "/model/v1/generation", json={"model": "kirin_v1_i2v", "image": image}
        )
    # A guard against decoding a bomb, far above what a check takes (milliseconds).
    assert time.monotonic() - started < 10
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] in {"invalid_media", "invalid_parameter"}
    assert error["param"] == "image"
    assert rule.lower() in error["message"].lower(), error["message"]


def test_elements_are_made_listed_used_and_deleted(
    kirin: Kirin, key: str, files: FileServer, tmp_path: Path
) -> None:
    made = submit(
        kirin,
        key,
        {
            "model": "kirin_custom_elements",
            "element_name": "knight",
            "element_description": "a knight in armour",
            "reference_type": "image_refer",
            "element_image_list": {
                "frontal_image": b64(PNG_600x900),
                "refer_images": [{"image_url": b64(JPEG_640x480)}],
            },
        },
    )
    assert made["status"] == "completed", made
    content = made["output"][0]["content"][0]
    assert content["type"] == "element"
    element_id = content["element_id"]
    assert isinstance(element_id, int)
    assert element_id > 10**17

    with kirin.client(key) as client:
        element = client.get(f"/model/v1/elements/{element_id}").json()
        assert element["element_name"] == "knight"
        assert httpx.get(element["frontal_image_url"]).content == PNG_600x900
        listed = client.get("/model/v1/elements").json()
        assert element_id in [e["id"] for e in listed["data"]]

    used = submit(
        kirin,
        key,
        {
            "model": "kirin_v3_i2v",
            "image": b64(PNG_800x600),
            "prompt": "the knight rides",
            "element_list": [{"element_id": str(element_id)}],
        },
    )
    assert used["status"] == "completed", used

    other = kirin.create_key(account="someone-else")
    with kirin.client(other) as client:
        assert client.get(f"/model/v1/elements/{element_id}").status_code == 404
        refused = client.post(
            "/model/v1/generation",
            json={
                "model": "kirin_v3_i2v",
                "image": b64(PNG_800x600),
                "prompt": "x",
                "element_list": [{"element_id": element_id}],
            },
        )
        assert refused.status_code == 400
        assert refused.json()["error"]["param"] == "element_list.0.element_id"

    with kirin.client(key) as client:
        assert client.delete(f"/model/v1/elements/{element_id}").status_code == 200
        assert client.get(f"/model/v1/elements/{element_id}").status_code == 404
        gone = client.post(
            "/model/v1/generation",
            json={
                "model": "kirin_v3_i2v",
                "image": b64(PNG_800x600),
                "prompt": "x",
                "element_list": [{"element_id": element_id}],
            },
        )
        assert gone.status_code == 400

    reference = video_file(tmp_path / "subject.mov", seconds=3, container="mov", audio=False)
    from_video = submit(
        kirin,
        key,
        {
            "model": "kirin_custom_elements",
            "element_name": "runner",
            "reference_type": "video_refer",
            "element_video_list": {"video_url": files.add("/subject.mov", reference.read_bytes())},
        },
    )
    assert from_video["status"] == "completed", from_video
    with kirin.client(key) as client:
        element = client.get(
            f"/model/v1/elements/{from_video['output'][0]['content'][0]['element_id']}"
        ).json()
    frontal = httpx.get(element["frontal_image_url"])
    assert frontal.status_code == 200
    assert frontal.content.startswith(b"\x89PNG")


@pytest.mark.slow
def test_loopback_urls_are_refused_without_the_private_networks_setting(
    fresh_kirin: Kirin, files: FileServer
) -> None:
    fresh_kirin.start_server(workers=1)
    key = fresh_kirin.create_key()
    url = files.add("/secret.png", PNG_800x600)
    # An address literal is refused at submit, as callback_url is (names: by the worker, 097).
    with fresh_kirin.client(key) as client:
        response = client.post("/model/v1/generation", json={"model": "kirin_v1_i2v", "image": url})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "image"
    assert "127.0.0.1" in error["message"]
    assert "loopback" in error["message"]
    assert files.hits["/secret.png"] == 0


@pytest.mark.slow
def test_a_retried_task_does_not_fetch_its_inputs_again(
    fresh_kirin: Kirin, files: FileServer
) -> None:
    kirin = fresh_kirin
    kirin.env["KIRIN_ALLOW_PRIVATE_NETWORKS"] = "true"
    kirin.start_server(workers=0)
    key = kirin.create_key()
    url = files.add("/once.png", PNG_800x600)
    victim = kirin.start_worker()
    with kirin.client(key) as client:
        task = client.post(
            "/model/v1/generation",
            json={"model": "kirin_v1_i2v", "image": url, "duration": 10},
        ).json()
        wait_for(client, task["id"], until=lambda t: t["progress"] > 0.05, timeout=60)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        kirin.start_worker()
        done = wait_for(client, task["id"], timeout=120)
    assert done["status"] == "completed"
    assert done["output"][0]["jobId"].endswith("-2")
    assert files.hits["/once.png"] == 1
