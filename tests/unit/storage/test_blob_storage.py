"""What every BlobStorage must do; run against each implementation."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from kirin_api.storage import (
    BlobNotFound,
    BlobStorage,
    LocalBlobStorage,
    MemoryBlobStorage,
    StorageError,
    UnsupportedStorage,
    open_storage,
)

KEY = "results/task_01JABC/video.mp4"

FACTORIES: dict[str, Callable[[Path], BlobStorage]] = {
    "local": lambda tmp: LocalBlobStorage(tmp / "blobs"),
    "memory": lambda tmp: MemoryBlobStorage(),
}


@pytest.fixture(params=sorted(FACTORIES))
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStorage:
    return FACTORIES[request.param](tmp_path)


def test_is_a_blob_storage(storage: BlobStorage) -> None:
    assert isinstance(storage, BlobStorage)


def test_put_get_exists_delete(storage: BlobStorage) -> None:
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


def test_put_file(storage: BlobStorage, tmp_path: Path) -> None:
    source = tmp_path / "source.mp4"
    source.write_bytes(b"frames" * 1000)
    storage.put_file(KEY, source, "video/mp4")
    assert storage.get_bytes(KEY) == b"frames" * 1000
    assert source.exists()  # copied, not moved


def test_missing_blob(storage: BlobStorage) -> None:
    with pytest.raises(BlobNotFound):
        storage.get_bytes("results/none.mp4")
    assert issubclass(BlobNotFound, StorageError)
    # A "directory" is not a blob.
    storage.put_bytes("a/b/c.bin", b"x", "application/octet-stream")
    assert not storage.exists("a/b")
    with pytest.raises(BlobNotFound):
        storage.get_bytes("a/b")


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../escape", "a/../../escape", "a/./b", "a//b", "a\\b", "a/", "a\x00b"],
)
def test_invalid_keys(storage: BlobStorage, key: str) -> None:
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


def test_presigned_url_and_ping(storage: BlobStorage) -> None:
    assert storage.presigned_url(KEY, 3600) is None
    storage.ping()


# --- local disk only -------------------------------------------------------------------------


def test_local_path_and_layout(tmp_path: Path) -> None:
    storage = LocalBlobStorage(tmp_path / "blobs")
    storage.put_bytes(KEY, b"data", "video/mp4")
    path = storage.local_path(KEY)
    assert path == tmp_path / "blobs" / "results" / "task_01JABC" / "video.mp4"
    assert path.read_bytes() == b"data"
    # No temporary files left behind.
    assert os.listdir(path.parent) == ["video.mp4"]


def test_local_write_failure_leaves_the_old_blob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalBlobStorage(tmp_path / "blobs")
    storage.put_bytes(KEY, b"old", "video/mp4")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(StorageError, match="disk full"):
        storage.put_bytes(KEY, b"new", "video/mp4")
    monkeypatch.undo()
    assert storage.get_bytes(KEY) == b"old"
    assert sorted(os.listdir(tmp_path / "blobs" / "results" / "task_01JABC")) == ["video.mp4"]


def test_local_ping_fails_when_root_is_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError):
        LocalBlobStorage(blocker / "blobs").ping()
    with pytest.raises(StorageError):
        LocalBlobStorage(blocker / "blobs").put_bytes(KEY, b"x", "video/mp4")


def test_local_ping_creates_the_root(tmp_path: Path) -> None:
    LocalBlobStorage(tmp_path / "new" / "blobs").ping()
    assert (tmp_path / "new" / "blobs").is_dir()
    assert os.listdir(tmp_path / "new" / "blobs") == []


# --- open_storage ----------------------------------------------------------------------------


def test_open_storage(tmp_path: Path) -> None:
    storage = open_storage((tmp_path / "files").as_uri())
    assert isinstance(storage, LocalBlobStorage)
    assert storage.root == tmp_path / "files"
    with pytest.raises(UnsupportedStorage, match="scale-out"):
        open_storage("s3://bucket/prefix")
    assert issubclass(UnsupportedStorage, NotImplementedError)
    with pytest.raises(ValueError, match="'gs'"):
        open_storage("gs://bucket")
    with pytest.raises(ValueError, match="absolute path"):
        open_storage("file://relative/dir")
