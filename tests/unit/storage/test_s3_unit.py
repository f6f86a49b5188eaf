"""S3BlobStorage without a server: URL parsing, key layout, presigning, error translation.

Round trips against a real S3-compatible server are in ``tests/integration/storage``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("boto3", reason="boto3 is not installed (it comes with the server extra)")

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber

import kirin_api.storage
from kirin_api.storage import (
    BlobNotFound,
    S3BlobStorage,
    StorageError,
    UnsupportedStorage,
    open_storage,
)
from kirin_api.storage.s3 import MAX_PRESIGN_SECONDS, content_type_for, make_client

ENDPOINT = "http://127.0.0.1:9"  # never contacted: these tests stub or only presign


@pytest.fixture(autouse=True)
def _dummy_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials for the storages that open_storage makes from boto3's chain (restored
    after each test): without them boto3 would look further, up to the EC2 metadata address."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _storage(prefix: str = "kirin") -> S3BlobStorage:
    client = make_client(
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="id",
        aws_secret_access_key="secret",
    )
    return S3BlobStorage("bucket", prefix, client=client)


def test_open_storage_parses_bucket_and_prefix() -> None:
    storage = open_storage("s3://videos/kirin/prod/", endpoint_url=ENDPOINT)
    assert isinstance(storage, S3BlobStorage)
    assert (storage.bucket, storage.prefix) == ("videos", "kirin/prod")
    assert storage.client.meta.endpoint_url == ENDPOINT
    assert storage.object_key("results/t/video.mp4") == "kirin/prod/results/t/video.mp4"

    bare = open_storage("s3://videos")
    assert isinstance(bare, S3BlobStorage)
    assert bare.prefix == ""
    assert bare.object_key("results/t/video.mp4") == "results/t/video.mp4"


@pytest.mark.parametrize(
    "url",
    ["s3://", "s3:///prefix", "s3://user:pw@bucket/p", "s3://bucket:9000/p", "s3://b/p?x=1"],
)
def test_open_storage_refuses_malformed_s3_urls(url: str) -> None:
    with pytest.raises(ValueError, match="S3"):
        open_storage(url)


def test_open_storage_refuses_a_prefix_that_escapes() -> None:
    with pytest.raises(ValueError, match="prefix"):
        open_storage("s3://bucket/a/../b")


def test_open_storage_without_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kirin_api.storage, "boto3_available", lambda: False)
    with pytest.raises(UnsupportedStorage, match="boto3"):
        open_storage("s3://bucket/prefix")
    assert issubclass(UnsupportedStorage, StorageError)


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="bucket"):
        S3BlobStorage("")
    with pytest.raises(ValueError, match="not both"):
        S3BlobStorage("bucket", client=object(), endpoint_url=ENDPOINT)


def test_content_types() -> None:
    assert content_type_for("results/t/video.mp4") == "video/mp4"
    assert content_type_for("results/t/VIDEO.MP4") == "video/mp4"
    assert content_type_for("elements/e/frontal.png") == "image/png"
    assert content_type_for("inputs/abc") is None


def test_presigned_url_is_local_and_names_the_content_type() -> None:
    storage = _storage()
    url = storage.presigned_url("results/t/video.mp4", 3600)
    assert url is not None
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}" == ENDPOINT
    assert parts.path == "/bucket/kirin/results/t/video.mp4"  # path-style on an endpoint
    assert query["response-content-type"] == ["video/mp4"]
    assert query["X-Amz-Expires"] == ["3600"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    # Without a known extension the stored content type is served as it is.
    other = storage.presigned_url("inputs/abc", 60)
    assert other is not None
    assert "response-content-type" not in other


def test_presigned_url_lifetime_limits() -> None:
    storage = _storage()
    url = storage.presigned_url("results/t/video.mp4", 30 * 24 * 3600)
    assert url is not None
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == [str(MAX_PRESIGN_SECONDS)]
    with pytest.raises(ValueError, match="expires_in"):
        storage.presigned_url("results/t/video.mp4", 0)


def test_local_path_is_none() -> None:
    assert _storage().local_path("results/t/video.mp4") is None


# --- error translation, with botocore's Stubber answering in place of a server --------------


def test_access_denied_is_a_storage_error_not_a_missing_blob() -> None:
    storage = _storage()
    with Stubber(storage.client) as stub:
        stub.add_client_error("get_object", "AccessDenied", "Access Denied", 403)
        with pytest.raises(StorageError, match="AccessDenied") as caught:
            storage.get_bytes("results/t/video.mp4")
    assert not isinstance(caught.value, BlobNotFound)


def test_no_such_key_is_blob_not_found() -> None:
    storage = _storage()
    with Stubber(storage.client) as stub:
        stub.add_client_error("get_object", "NoSuchKey", "The specified key does not exist.", 404)
        with pytest.raises(BlobNotFound):
            storage.get_bytes("results/t/video.mp4")


def test_exists_raises_on_errors_other_than_missing() -> None:
    storage = _storage()
    with Stubber(storage.client) as stub:
        stub.add_client_error("head_object", "404", "Not Found", 404)
        stub.add_client_error("head_object", "403", "Forbidden", 403)
        assert storage.exists("results/t/video.mp4") is False
        with pytest.raises(StorageError, match="403"):
            storage.exists("results/t/video.mp4")


def test_delete_of_a_missing_key_is_done() -> None:
    storage = _storage()
    with Stubber(storage.client) as stub:
        stub.add_client_error("delete_object", "NoSuchKey", "gone", 404)
        storage.delete("results/t/video.mp4")


def test_ping_explains_the_bucket_errors() -> None:
    storage = _storage()
    with Stubber(storage.client) as stub:
        stub.add_client_error("head_bucket", "404", "Not Found", 404)
        stub.add_client_error("head_bucket", "403", "Forbidden", 403)
        stub.add_client_error("head_bucket", "SlowDown", "Please reduce your rate", 503)
        with pytest.raises(StorageError, match="does not exist"):
            storage.ping()
        with pytest.raises(StorageError, match="access denied"):
            storage.ping()
        with pytest.raises(StorageError, match="SlowDown"):
            storage.ping()


class _FailingClient:
    """Raises what botocore and boto3 raise without a server: no credentials, no connection."""

    def generate_presigned_url(self, *args: Any, **kwargs: Any) -> str:
        raise NoCredentialsError()

    def head_bucket(self, **kwargs: Any) -> None:
        raise EndpointConnectionError(endpoint_url=ENDPOINT)

    def upload_file(self, *args: Any, **kwargs: Any) -> None:
        raise S3UploadFailedError("Failed to upload: An error occurred (InternalError)")


def test_botocore_and_boto3_errors_become_storage_errors(tmp_path: Path) -> None:
    storage = S3BlobStorage("bucket", client=_FailingClient())
    with pytest.raises(StorageError, match="NoCredentialsError"):
        storage.presigned_url("results/t/video.mp4", 60)
    with pytest.raises(StorageError, match="EndpointConnectionError"):
        storage.ping()
    source = tmp_path / "v.mp4"
    source.write_bytes(b"x")
    with pytest.raises(StorageError, match="S3UploadFailedError"):
        storage.put_file("results/t/video.mp4", source, "video/mp4")


def test_settings_and_wiring_pass_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    from kirin_api.settings import Settings
    from kirin_api.wiring import build_storage

    monkeypatch.setenv("KIRIN_STORAGE_URL", "s3://videos/kirin")
    monkeypatch.setenv("KIRIN_S3_ENDPOINT_URL", ENDPOINT)
    settings = Settings()
    assert settings.s3_endpoint_url == ENDPOINT
    storage = build_storage(settings)
    assert isinstance(storage, S3BlobStorage)
    assert (storage.bucket, storage.prefix) == ("videos", "kirin")
    assert storage.client.meta.endpoint_url == ENDPOINT
