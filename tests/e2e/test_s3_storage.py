"""``kirin serve`` with its results in an S3-compatible bucket (a moto server on loopback).

The server and its worker get the S3 settings in their own environment, as an operator would set
them: KIRIN_STORAGE_URL=s3://bucket/prefix, KIRIN_S3_ENDPOINT_URL and the AWS_* variables.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from kirin_api.media.probe import probe_video
from tests.e2e.harness import Kirin, wait_for
from tests.s3_server import (
    MISSING_REASON,
    S3Server,
    running_s3_server,
    s3_server_available,
    verify_presigned_url,
)

BUCKET = "kirin-e2e"
PREFIX = "deploy/one"


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    if not s3_server_available():
        pytest.skip(MISSING_REASON)
    with running_s3_server(tmp_path_factory.mktemp("moto")) as server:
        server.client().create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture(scope="module")
def kirin_on_s3(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kirin]:
    server = Kirin(
        tmp_path_factory.mktemp("kirin-s3"),
        env={"KIRIN_STORAGE_URL": f"s3://{BUCKET}/{PREFIX}", **s3_server.env()},
    )
    server.start_server(workers=1)
    yield server
    server.stop()


def test_ready_checks_the_bucket(kirin_on_s3: Kirin) -> None:
    response = httpx.get(kirin_on_s3.base_url + "/readyz", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["storage"] == "ok"


def test_t2v_result_is_served_from_the_bucket(
    kirin_on_s3: Kirin, s3_server: S3Server, tmp_path: Path
) -> None:
    key = kirin_on_s3.create_key()
    with kirin_on_s3.client(key) as client:
        created = client.post(
            "/model/v1/generation",
            json={"model": "kirin_v1_t2v", "prompt": "a paper boat on a rainy street"},
        )
        assert created.status_code == 200, created.text
        done = wait_for(client, created.json()["id"])
    assert done["status"] == "completed", done
    url = done["output"][0]["content"][0]["url"]

    # A presigned URL of the S3 server, not a /files link of the Kirin server.
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == s3_server.endpoint_url
    assert parts.path.startswith(f"/{BUCKET}/{PREFIX}/")
    assert verify_presigned_url(url)

    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    video = tmp_path / "video.mp4"
    video.write_bytes(response.content)
    info = probe_video(video)
    assert (info.width, info.height, info.frames) == (1280, 720, 150)

    # The bytes are in the bucket under the prefix, and nothing went to the data dir's files.
    listed = s3_server.client().list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "/")
    assert any(item["Key"].endswith(".mp4") for item in listed.get("Contents", []))
    assert not (kirin_on_s3.data_dir / "files").exists()


def test_an_upload_lives_in_the_bucket_and_works_as_an_input(
    kirin_on_s3: Kirin, s3_server: S3Server
) -> None:
    from tests.media_factory import image_bytes

    picture = image_bytes(800, 600)
    key = kirin_on_s3.create_key()
    with kirin_on_s3.client(key) as client:
        made = client.post("/model/v1/uploads", files={"file": ("a.png", picture, "image/png")})
        assert made.status_code == 200, made.text
        upload = made.json()
        # The signed URL of the Kirin server redirects to a presigned URL of the bucket.
        served = httpx.get(upload["url"], follow_redirects=True, timeout=30)
        assert served.status_code == 200
        assert served.content == picture
        assert str(served.url).startswith(s3_server.endpoint_url)
        created = client.post(
            "/model/v1/generation",
            json={"model": "kirin_v1_i2v", "image": upload["url"], "prompt": "a boat"},
        )
        done = wait_for(client, created.json()["id"])
        assert done["status"] == "completed", done
        listed = s3_server.client().list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "/uploads/")
        assert [item["Key"].rsplit("/", 1)[1] for item in listed["Contents"]] == [
            upload["id"] + ".png"
        ]
        assert client.delete(f"/model/v1/uploads/{upload['id']}").status_code == 200
    listed = s3_server.client().list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "/uploads/")
    assert not listed.get("Contents")
