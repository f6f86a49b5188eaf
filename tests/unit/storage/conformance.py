"""What every BlobStorage must do, as a class of tests that each implementation's module subclasses
with its own ``storage`` fixture (local disk and memory in the unit tests, S3 against a real
S3-compatible server in ``tests/integration/storage``).

The ``storage`` fixture must give an empty storage for each test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kirin_api.storage import BlobNotFound, BlobStorage, StorageError

KEY = "results/task_01JABC/video.mp4"

INVALID_KEYS = [
    "",
    "/etc/passwd",
    "../escape",
    "a/../../escape",
    "a/./b",
    "a//b",
    "a\\b",
    "a/",
    "a\x00b",
]


class BlobStorageConformance:
    """Not collected itself (no ``Test`` prefix): subclasses named ``Test...`` run it."""

    def test_is_a_blob_storage(self, storage: BlobStorage) -> None:
        assert isinstance(storage, BlobStorage)

    def test_put_get_exists_delete(self, storage: BlobStorage) -> None:
        assert not storage.exists(KEY)
        storage.put_bytes(KEY, b"\x00video", "video/mp4")
        assert storage.exists(KEY)
        assert storage.get_bytes(KEY) == b"\x00video"
        storage.put_bytes(KEY, b"replaced", "video/mp4")
        assert storage.get_bytes(KEY) == b"replaced"
        storage.delete(KEY)
        assert not storage.exists(KEY)
        storage.delete(KEY)  # idempotent
        with pytest.raises(BlobNotFound):
            storage.get_bytes(KEY)

    def test_empty_blob(self, storage: BlobStorage) -> None:
        storage.put_bytes("empty.bin", b"", "application/octet-stream")
        assert storage.exists("empty.bin")
        assert storage.get_bytes("empty.bin") == b""

    def test_put_file(self, storage: BlobStorage, tmp_path: Path) -> None:
        source = tmp_path / "source.mp4"
        source.write_bytes(b"frames" * 1000)
        storage.put_file(KEY, source, "video/mp4")
        assert storage.get_bytes(KEY) == b"frames" * 1000
        assert source.exists()  # copied, not moved

    def test_put_file_of_a_missing_source(self, storage: BlobStorage, tmp_path: Path) -> None:
        with pytest.raises(StorageError):
            storage.put_file(KEY, tmp_path / "no-such-file.mp4", "video/mp4")
        assert not storage.exists(KEY)

    def test_missing_blob(self, storage: BlobStorage) -> None:
        with pytest.raises(BlobNotFound):
            storage.get_bytes("results/none.mp4")
        assert issubclass(BlobNotFound, StorageError)
        # A "directory" is not a blob.
        storage.put_bytes("a/b/c.bin", b"x", "application/octet-stream")
        assert not storage.exists("a/b")
        with pytest.raises(BlobNotFound):
            storage.get_bytes("a/b")

    def test_keys_are_separate(self, storage: BlobStorage) -> None:
        storage.put_bytes("a/one.bin", b"1", "application/octet-stream")
        storage.put_bytes("a/two.bin", b"2", "application/octet-stream")
        storage.delete("a/one.bin")
        assert not storage.exists("a/one.bin")
        assert storage.get_bytes("a/two.bin") == b"2"

    @pytest.mark.parametrize("key", INVALID_KEYS)
    def test_invalid_keys(self, storage: BlobStorage, key: str) -> None:
        with pytest.raises(ValueError, match="key"):
            storage.put_bytes(key, b"x", "text/plain")
        with pytest.raises(ValueError, match="key"):
            storage.get_bytes(key)
        with pytest.raises(ValueError, match="key"):
            storage.exists(key)
        with pytest.raises(ValueError, match="key"):
            storage.delete(key)
        with pytest.raises(ValueError, match="key"):
            storage.local_path(key)
        with pytest.raises(ValueError, match="key"):
            storage.presigned_url(key, 60)

    def test_presigned_url_and_ping(self, storage: BlobStorage) -> None:
        storage.put_bytes(KEY, b"data", "video/mp4")
        url = storage.presigned_url(KEY, 3600)
        # None where the server signs its own /files links, else an absolute URL to fetch.
        assert url is None or url.startswith(("http://", "https://"))
        storage.ping()

    def test_local_path_is_a_path_or_none(self, storage: BlobStorage) -> None:
        storage.put_bytes(KEY, b"data", "video/mp4")
        path = storage.local_path(KEY)
        assert path is None or path.read_bytes() == b"data"
