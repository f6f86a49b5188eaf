"""Uploads over real HTTP: checked by decoding, kept per account, expiring, and usable as any
image or video input without KIRIN_ALLOW_PRIVATE_NETWORKS (the worker reads them from storage)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Kirin, submit
from tests.file_server import FileServer
from tests.media_factory import image_bytes, video_file

PNG_800x600 = image_bytes(800, 600)
PNG_600x900 = image_bytes(600, 900, seed=1)
JPEG_640x480 = image_bytes(640, 480, fmt="JPEG", seed=2)
MB = 1024 * 1024


@pytest.fixture(scope="module")
def key(kirin: Kirin) -> str:
    return kirin.create_key("uploader")


@pytest.fixture(scope="module")
def other_key(kirin: Kirin) -> str:
    return kirin.create_key("someone-else")


@pytest.fixture(scope="module")
def client(kirin: Kirin, key: str) -> Iterator[httpx.Client]:
    with kirin.client(key) as client:
        yield client


def upload(client: httpx.Client, data: bytes, name: str, content_type: str) -> httpx.Response:
    return client.post("/model/v1/uploads", files={"file": (name, data, content_type)})


def uploaded(client: httpx.Client, data: bytes, name: str, content_type: str) -> dict[str, Any]:
    response = upload(client, data, name, content_type)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def test_an_image_upload_is_described_served_and_deleted(client: httpx.Client) -> None:
    body = uploaded(client, PNG_800x600, "photo.png", "image/png")
    assert body["id"].startswith("upl_")
    assert body["object"] == "upload"
    assert (body["kind"], body["width"], body["height"]) == ("image", 800, 600)
    assert body["bytes"] == len(PNG_800x600)
    assert "duration" not in body
    assert 7 * 86400 - 60 < body["expires_at"] - time.time() <= 7 * 86400
    # The URL serves the file to anyone holding it, with no key (a browser, a preview).
    served = httpx.get(body["url"])
    assert served.status_code == 200
    assert served.content == PNG_800x600
    assert served.headers["content-type"] == "image/png"
    tampered = httpx.get(body["url"].replace("signature=", "signature=x"))
    assert tampered.status_code == 403

    assert client.get(f"/model/v1/uploads/{body['id']}").json() == body
    deleted = client.delete(f"/model/v1/uploads/{body['id']}")
    assert deleted.json() == {"id": body["id"], "object": "upload", "deleted": True}
    assert client.get(f"/model/v1/uploads/{body['id']}").status_code == 404
    assert client.delete(f"/model/v1/uploads/{body['id']}").status_code == 404
    assert httpx.get(body["url"]).status_code == 404


def test_a_raw_body_upload_and_a_video(client: httpx.Client, tmp_path: Path) -> None:
    raw = client.post(
        "/model/v1/uploads", content=JPEG_640x480, headers={"Content-Type": "image/jpeg"}
    )
    assert raw.status_code == 200, raw.text
    assert (raw.json()["kind"], raw.json()["width"]) == ("image", 640)
    clip = video_file(tmp_path / "clip.mov", seconds=3.2, container="mov", audio=False)
    video = client.post(
        "/model/v1/uploads",
        content=clip.read_bytes(),
        headers={"Content-Type": "video/quicktime"},
    )
    assert video.status_code == 200, video.text
    body = video.json()
    assert (body["kind"], body["width"], body["height"]) == ("video", 480, 360)
    assert body["duration"] == pytest.approx(3.2, abs=0.05)
    assert body["url"].split("?")[0].endswith(".mov")


def test_files_that_are_not_what_they_claim_are_refused(
    client: httpx.Client, tmp_path: Path
) -> None:
    text = upload(client, b"just some notes, not a picture\n" * 40, "notes.png", "image/png")
    assert text.status_code == 400
    assert error_of(text)["code"] == "invalid_media"
    assert "checked by its content" in error_of(text)["message"]

    truncated = upload(client, PNG_800x600[: len(PNG_800x600) // 2], "cut.png", "image/png")
    assert truncated.status_code == 400
    assert error_of(truncated)["code"] == "invalid_media"
    assert "truncated or corrupt" in error_of(truncated)["message"]

    fake_video = client.post(
        "/model/v1/uploads",
        content=b"\x00\x00\x00\x18ftypisom" + b"\x00" * 5000,
        headers={"Content-Type": "video/mp4"},
    )
    assert fake_video.status_code == 400
    assert error_of(fake_video)["code"] == "invalid_media"

    disguised = client.post(
        "/model/v1/uploads", content=PNG_800x600, headers={"Content-Type": "video/mp4"}
    )
    assert disguised.status_code == 400
    assert "declared video/mp4" in error_of(disguised)["message"]

    tiny = upload(client, image_bytes(200, 200), "tiny.png", "image/png")
    assert tiny.status_code == 400
    assert "at least 300 px" in error_of(tiny)["message"]

    wrong_type = client.post(
        "/model/v1/uploads", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert wrong_type.status_code == 400
    assert "multipart/form-data" in error_of(wrong_type)["message"]
    no_part = client.post("/model/v1/uploads", files={"other": ("a.png", PNG_800x600)})
    assert no_part.status_code == 400
    assert error_of(no_part)["param"] == "file"


def test_over_the_size_is_413(client: httpx.Client) -> None:
    # A valid PNG start padded past 10 MB: refused for its size before anything is decoded.
    big_image = PNG_800x600 + b"\x00" * (10 * MB)
    raw = client.post("/model/v1/uploads", content=big_image, headers={"Content-Type": "image/png"})
    assert raw.status_code == 413
    assert error_of(raw)["code"] == "payload_too_large"
    multipart = upload(client, big_image, "big.png", "image/png")
    assert multipart.status_code == 413
    assert "10 MB" in error_of(multipart)["message"]

    def stream() -> Iterator[bytes]:  # no Content-Length: the server counts as it reads
        yield b"\x00\x00\x00\x18ftypisom"
        for _ in range(101):
            yield b"\x00" * MB

    video = client.post(
        "/model/v1/uploads", content=stream(), headers={"Content-Type": "video/mp4"}
    )
    assert video.status_code == 413


def test_accounts_do_not_see_each_others_uploads(
    kirin: Kirin, client: httpx.Client, other_key: str
) -> None:
    mine = uploaded(client, PNG_800x600, "mine.png", "image/png")
    with kirin.client(other_key) as other:
        assert other.get(f"/model/v1/uploads/{mine['id']}").status_code == 404
        assert other.delete(f"/model/v1/uploads/{mine['id']}").status_code == 404
    task = submit(
        kirin, other_key, {"model": "kirin_v1_i2v", "image": mine["url"], "prompt": "a cat"}
    )
    assert task["status"] == "failed"
    assert task["error"]["code"] == "002002097"
    assert f"image: no upload {mine['id']} in this account" in task["error"]["message"]
    assert client.get(f"/model/v1/uploads/{mine['id']}").status_code == 200


def test_uploads_work_as_every_kind_of_input_without_private_networks(
    kirin: Kirin, key: str, client: httpx.Client, tmp_path: Path
) -> None:
    image = uploaded(client, PNG_800x600, "a.png", "image/png")
    portrait = uploaded(client, PNG_600x900, "b.png", "image/png")
    clip = video_file(tmp_path / "ref.mp4", seconds=3.0, audio=False)
    video = uploaded(client, clip.read_bytes(), "ref.mp4", "video/mp4")

    i2v = submit(kirin, key, {"model": "kirin_v1_i2v", "image": image["url"], "prompt": "x"})
    assert i2v["status"] == "completed", i2v
    assert (i2v["metadata"]["width"], i2v["metadata"]["height"]) == (960, 720)

    motion = submit(
        kirin,
        key,
        {
            "model": "kirin_v3_motion_control",
            "image_url": portrait["url"],
            "video_url": video["url"],
            "character_orientation": "image",
            "mode": "std",
        },
    )
    assert motion["status"] == "completed", motion
    assert motion["metadata"]["frames"] == 90

    element = submit(
        kirin,
        key,
        {
            "model": "kirin_custom_elements",
            "element_name": "walker",
            "reference_type": "video_refer",
            "element_video_list": {"video_url": video["url"]},
        },
    )
    assert element["status"] == "completed", element
    from_images = submit(
        kirin,
        key,
        {
            "model": "kirin_custom_elements",
            "element_name": "portrait",
            "reference_type": "image_refer",
            "element_image_list": {
                "frontal_image": portrait["url"],
                "refer_images": [{"image_url": image["url"]}],
            },
        },
    )
    assert from_images["status"] == "completed", from_images


def test_a_private_address_is_still_refused_and_says_how_to_upload(
    kirin: Kirin, key: str, files: FileServer
) -> None:
    url = files.add("/local.png", PNG_800x600)
    task = submit(kirin, key, {"model": "kirin_v1_i2v", "image": url, "prompt": "x"})
    assert task["status"] == "failed"
    assert task["error"]["code"] == "002002097"
    message = task["error"]["message"]
    assert "refused address 127.0.0.1 (loopback)" in message
    assert "POST /model/v1/uploads" in message
    assert "kirin upload FILE" in message
    assert "KIRIN_ALLOW_PRIVATE_NETWORKS" in message


@pytest.mark.slow
def test_an_expired_upload_is_refused_and_purged(tmp_path: Path) -> None:
    server = Kirin(tmp_path / "data", env={"KIRIN_UPLOAD_TTL_SECONDS": "2"})
    server.start_server(workers=1)
    try:
        key = server.create_key()
        with server.client(key) as client:
            body = uploaded(client, PNG_800x600, "soon.png", "image/png")
            assert body["expires_at"] - time.time() <= 2
            blobs = list((tmp_path / "data" / "files" / "uploads").rglob("*.png"))
            assert len(blobs) == 1
            time.sleep(max(0.0, body["expires_at"] - time.time()) + 0.5)
            assert client.get(f"/model/v1/uploads/{body['id']}").status_code == 404
            assert httpx.get(body["url"]).status_code == 403
            task = submit(
                server, key, {"model": "kirin_v1_i2v", "image": body["url"], "prompt": "x"}
            )
            assert task["status"] == "failed"
            assert task["error"]["code"] == "002002097"
            # Expired, or already purged by the watchdog's sweep: refused either way.
            assert body["id"] in task["error"]["message"]
            deadline = time.monotonic() + 15
            while blobs[0].exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not blobs[0].exists()
    finally:
        server.stop()
