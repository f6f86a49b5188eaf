"""S3BlobStorage against a real S3-compatible server process (moto), over loopback HTTP.

Moto does not check presigned URLs' signatures or expiry (a tampered or expired URL still gets
200 there), so those properties are checked with the independent SigV4 verifier of
``tests/s3_server.py``; a real S3 (or MinIO) answers such URLs with 403.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kirin_api.storage import BlobNotFound, BlobStorage, S3BlobStorage, StorageError
from kirin_api.storage.s3 import MULTIPART_CHUNKSIZE
from tests.s3_server import S3Server, running_s3_server, verify_presigned_url
from tests.unit.storage.conformance import KEY, BlobStorageConformance


class TestS3Conformance(BlobStorageConformance):
    """The same conformance tests as local disk and memory, on S3."""

    @pytest.fixture
    def storage(self, s3_storage: S3BlobStorage) -> BlobStorage:
        return s3_storage


def test_objects_live_under_the_prefix_with_their_content_type(
    s3_storage: S3BlobStorage, s3_client: Any
) -> None:
    s3_storage.put_bytes(KEY, b"video", "video/mp4")
    listed = s3_client.list_objects_v2(Bucket=s3_storage.bucket, Prefix=s3_storage.prefix + "/")
    assert [item["Key"] for item in listed["Contents"]] == [f"{s3_storage.prefix}/{KEY}"]
    head = s3_client.head_object(Bucket=s3_storage.bucket, Key=s3_storage.object_key(KEY))
    assert head["ContentType"] == "video/mp4"


def test_presigned_url_serves_the_video_over_http(s3_storage: S3BlobStorage) -> None:
    # Stored with a generic type (as some callers do): the link still names video/mp4.
    s3_storage.put_bytes(KEY, b"\x00\x00\x00\x18ftypmp42", "application/octet-stream")
    url = s3_storage.presigned_url(KEY, 600)
    assert url is not None
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.content == b"\x00\x00\x00\x18ftypmp42"
    assert response.headers["content-type"] == "video/mp4"
    assert verify_presigned_url(url)


def test_tampered_presigned_urls_fail_the_signature(s3_storage: S3BlobStorage) -> None:
    s3_storage.put_bytes(KEY, b"video", "video/mp4")
    s3_storage.put_bytes("results/other/video.mp4", b"other", "video/mp4")
    url = s3_storage.presigned_url(KEY, 600)
    assert url is not None
    assert verify_presigned_url(url)
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    assert not verify_presigned_url(url.replace(signature, flipped))
    assert not verify_presigned_url(url.replace("task_01JABC", "other"))  # another key
    assert not verify_presigned_url(url.replace("video%2Fmp4", "text%2Fhtml"))  # another type
    assert not verify_presigned_url(url, secret_key="another-secret")


def test_presigned_url_expires(s3_storage: S3BlobStorage) -> None:
    s3_storage.put_bytes(KEY, b"video", "video/mp4")
    signed_at = dt.datetime.now(dt.UTC)
    url = s3_storage.presigned_url(KEY, 1)
    assert url is not None
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["1"]
    assert verify_presigned_url(url, now=signed_at)
    time.sleep(2)
    assert not verify_presigned_url(url)
    # It was the clock, not the signature: at the time of signing it still verifies (checked
    # against that moment, not "now minus the sleep", which a loaded machine overshoots).
    assert verify_presigned_url(url, now=signed_at)


def test_missing_bucket(s3_client: Any) -> None:
    storage = S3BlobStorage("kirin-no-such-bucket", "p", client=s3_client)
    with pytest.raises(StorageError, match="does not exist"):
        storage.ping()
    with pytest.raises(StorageError, match="NoSuchBucket") as caught:
        storage.get_bytes(KEY)
    assert not isinstance(caught.value, BlobNotFound), "a missing bucket is not a missing blob"
    with pytest.raises(StorageError, match="NoSuchBucket"):
        storage.put_bytes(KEY, b"x", "video/mp4")
    with pytest.raises(StorageError, match="NoSuchBucket"):
        storage.delete(KEY)


def test_stopped_server_is_a_storage_error(tmp_path: Path) -> None:
    with running_s3_server(tmp_path) as server:
        client = server.client()
        client.create_bucket(Bucket="kirin-short-lived")
        storage = S3BlobStorage("kirin-short-lived", client=client)
        storage.ping()
        storage.put_bytes(KEY, b"x", "video/mp4")
        server.stop()
        started = time.monotonic()
        with pytest.raises(StorageError, match="EndpointConnectionError"):
            storage.ping()
        # Retries are bounded: a readiness probe learns of the outage within seconds.
        assert time.monotonic() - started < 15
        with pytest.raises(StorageError):
            storage.get_bytes(KEY)
        with pytest.raises(StorageError):
            storage.put_bytes(KEY, b"x", "video/mp4")
        with pytest.raises(StorageError):
            storage.exists(KEY)


@pytest.mark.slow
def test_large_file_round_trip_in_parts(
    s3_storage: S3BlobStorage, s3_client: Any, tmp_path: Path
) -> None:
    size = 20 * 1000 * 1000
    source = tmp_path / "big.mp4"
    data = os.urandom(size)
    source.write_bytes(data)
    s3_storage.put_file(KEY, source, "video/mp4")

    head = s3_client.head_object(Bucket=s3_storage.bucket, Key=s3_storage.object_key(KEY))
    parts = -(-size // MULTIPART_CHUNKSIZE)
    # A multipart upload's ETag ends in "-<number of parts>".
    assert head["ETag"].strip('"').endswith(f"-{parts}"), head["ETag"]
    assert head["ContentLength"] == size
    assert head["ContentType"] == "video/mp4"
    assert hashlib.sha256(s3_storage.get_bytes(KEY)).digest() == hashlib.sha256(data).digest()

    url = s3_storage.presigned_url(KEY, 600)
    assert url is not None
    digest = hashlib.sha256()
    with httpx.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            digest.update(chunk)
    assert digest.digest() == hashlib.sha256(data).digest()


def test_server_fixture_is_loopback_only(s3_server: S3Server) -> None:
    assert urlsplit(s3_server.endpoint_url).hostname == "127.0.0.1"
