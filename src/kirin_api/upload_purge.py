"""Expired uploads go: their blobs from storage, then their rows (run by the watchdog's sweep,
in the API process of ``kirin serve``; two at once do no harm, deleting is idempotent)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kirin_api.storage.base import BlobStorage
from kirin_api.store.upload_records import UploadStore

log = logging.getLogger("kirin_api.uploads")

# Uploads purged per sweep: a backlog drains over several sweeps without a long one.
BATCH = 200


class UploadPurger:
    def __init__(
        self, store: UploadStore, storage: BlobStorage, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._storage = storage
        self._clock = clock

    def sweep(self) -> list[str]:
        """Purge what has expired now; the ids purged."""
        purged: list[str] = []
        for upload in self._store.expired_uploads(self._clock(), BATCH):
            # The blob first: a row without its blob is harmless, a blob without a row is lost.
            self._storage.delete(upload.blob_key)
            self._store.forget_upload(upload.id)
            purged.append(upload.id)
        if purged:
            log.info("purged %d expired uploads", len(purged))
        return purged
