"""The worker's seam for uploads: this server's signed upload URLs are read from storage, for
the task's own account only and only until they expire; any other URL is left to the fetcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from kirin_api.contract.errors import TaskFailure
from kirin_api.storage import LocalBlobStorage
from kirin_api.storage.upload_links import upload_path
from kirin_api.store import SqliteTaskStore
from kirin_api.store.upload_records import UploadRecord
from kirin_api.worker.upload_inputs import UploadInputs

SECRET = b"s" * 32
NOW = 1_763_700_000.0


@pytest.fixture
def setup(tmp_path: Path) -> tuple[SqliteTaskStore, LocalBlobStorage, UploadRecord, str]:
    store = SqliteTaskStore(tmp_path / "kirin.db")
    store.migrate()
    account = store.ensure_account("a")
    storage = LocalBlobStorage(tmp_path / "files")
    upload = store.create_upload(
        UploadRecord(
            id="upl_X1",
            account_id=account.id,
            kind="video",
            content_type="video/mp4",
            blob_key=f"uploads/{account.id}/upl_X1.mp4",
            size_bytes=5,
            width=480,
            height=360,
            duration=3.0,
            created_at=NOW,
            expires_at=NOW + 100,
        )
    )
    storage.put_bytes(upload.blob_key, b"video", "video/mp4")
    url = "http://127.0.0.1:8000" + upload_path(upload.id, "video/mp4", int(NOW + 100), SECRET)
    return store, storage, upload, url


def test_an_upload_of_the_account_is_read_from_storage(
    setup: tuple[SqliteTaskStore, LocalBlobStorage, UploadRecord, str], tmp_path: Path
) -> None:
    store, storage, upload, url = setup
    inputs = UploadInputs(store, storage, SECRET, clock=lambda: NOW + 1)
    dest = tmp_path / "in"
    assert inputs.materialise(url, upload.account_id, "video_url", dest)
    assert dest.read_bytes() == b"video"
    # Whatever name the server was reached by: the signature is what makes it ours.
    elsewhere = url.replace("http://127.0.0.1:8000", "https://kirin.example.com/prefix")
    assert inputs.materialise(elsewhere, upload.account_id, "video_url", dest)


def test_other_urls_are_the_fetchers(
    setup: tuple[SqliteTaskStore, LocalBlobStorage, UploadRecord, str], tmp_path: Path
) -> None:
    store, storage, upload, url = setup
    inputs = UploadInputs(store, storage, SECRET, clock=lambda: NOW + 1)
    dest = tmp_path / "in"
    forged = url.replace("signature=", "signature=A")
    other_secret = UploadInputs(store, storage, b"t" * 32, clock=lambda: NOW + 1)
    for candidate, reader in [
        (forged, inputs),
        (url, other_secret),
        ("https://example.com/uploads/upl_X1.mp4", inputs),
        ("https://example.com/clip.mp4", inputs),
    ]:
        assert not reader.materialise(candidate, upload.account_id, "video_url", dest)
    assert not dest.exists()


def test_another_accounts_or_an_expired_upload_fails_clearly(
    setup: tuple[SqliteTaskStore, LocalBlobStorage, UploadRecord, str], tmp_path: Path
) -> None:
    store, storage, upload, url = setup
    other = store.ensure_account("b")
    inputs = UploadInputs(store, storage, SECRET, clock=lambda: NOW + 1)
    with pytest.raises(TaskFailure) as theirs:
        inputs.materialise(url, other.id, "video_url", tmp_path / "in")
    assert "video_url: no upload upl_X1 in this account" in theirs.value.message
    late = UploadInputs(store, storage, SECRET, clock=lambda: NOW + 100)
    with pytest.raises(TaskFailure) as expired:
        late.materialise(url, upload.account_id, "video_url", tmp_path / "in")
    assert "video_url: upload upl_X1 expired at 2025-11-21" in expired.value.message
