"""The conformance tests on local disk and in memory; what only local disk does; open_storage."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from kirin_api.storage import (
    BlobStorage,
    LocalBlobStorage,
    MemoryBlobStorage,
    StorageError,
    open_storage,
)
from tests.unit.storage.conformance import KEY, BlobStorageConformance

FACTORIES: dict[str, Callable[[Path], BlobStorage]] = {
    "local": lambda tmp: LocalBlobStorage(tmp / "blobs"),
    "memory": lambda tmp: MemoryBlobStorage(),
}


@pytest.fixture(params=sorted(FACTORIES))
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStorage:
    return FACTORIES[request.param](tmp_path)


class TestConformance(BlobStorageConformance):
    """The shared conformance tests (``conformance.py``) on local disk and in memory."""


def test_server_signs_its_own_links(storage: BlobStorage) -> None:
    # Neither can presign: the server's /files route serves their blobs.
    assert storage.presigned_url(KEY, 3600) is None


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


def test_open_storage_file(tmp_path: Path) -> None:
    storage = open_storage((tmp_path / "files").as_uri())
    assert isinstance(storage, LocalBlobStorage)
    assert storage.root == tmp_path / "files"
    # The S3 endpoint is an S3 setting: a file storage ignores it.
    storage = open_storage((tmp_path / "files").as_uri(), endpoint_url="http://127.0.0.1:9")
    assert isinstance(storage, LocalBlobStorage)


def test_open_storage_refuses_what_it_cannot_use() -> None:
    with pytest.raises(ValueError, match="'gs'"):
        open_storage("gs://bucket")
    with pytest.raises(ValueError, match="absolute path"):
        open_storage("file://relative/dir")
