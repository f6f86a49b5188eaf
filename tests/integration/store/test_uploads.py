"""Upload rows on every store, and the purge of expired uploads (blob, then row)."""

from __future__ import annotations

from pathlib import Path

from kirin_api.storage import LocalBlobStorage
from kirin_api.store import TaskStore
from kirin_api.store.upload_records import UploadRecord
from kirin_api.upload_purge import UploadPurger
from tests.integration.store.conftest import FakeClock


def record(account_id: str, upload_id: str, clock: FakeClock, ttl: float) -> UploadRecord:
    return UploadRecord(
        id=upload_id,
        account_id=account_id,
        kind="image",
        content_type="image/png",
        blob_key=f"uploads/{account_id}/{upload_id}.png",
        size_bytes=1234,
        width=800,
        height=600,
        duration=None,
        created_at=clock(),
        expires_at=clock() + ttl,
    )


def test_uploads_are_kept_per_account(store: TaskStore, clock: FakeClock) -> None:
    mine = store.ensure_account("mine")
    theirs = store.ensure_account("theirs")
    made = store.create_upload(record(mine.id, "upl_A", clock, 60))
    assert store.get_upload(mine.id, "upl_A") == made
    assert store.get_upload(theirs.id, "upl_A") is None
    assert store.find_upload("upl_A") == made
    assert store.delete_upload(theirs.id, "upl_A") is None
    assert store.delete_upload(mine.id, "upl_A") == made
    assert store.get_upload(mine.id, "upl_A") is None
    assert store.delete_upload(mine.id, "upl_A") is None


def test_the_purge_deletes_expired_blobs_and_rows(
    store: TaskStore, clock: FakeClock, tmp_path: Path
) -> None:
    account = store.ensure_account("a")
    storage = LocalBlobStorage(tmp_path / "files")
    soon = store.create_upload(record(account.id, "upl_SOON", clock, 10))
    later = store.create_upload(record(account.id, "upl_LATER", clock, 100))
    for upload in (soon, later):
        storage.put_bytes(upload.blob_key, b"png", upload.content_type)
    purger = UploadPurger(store, storage, clock=clock)
    assert purger.sweep() == []
    clock.advance(10)
    assert store.expired_uploads(clock(), 10) == [soon]
    assert purger.sweep() == ["upl_SOON"]
    assert not storage.exists(soon.blob_key)
    assert store.find_upload("upl_SOON") is None
    assert storage.exists(later.blob_key)
    assert store.get_upload(account.id, "upl_LATER") == later
