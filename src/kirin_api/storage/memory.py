"""Blobs in a dict, for unit tests; passes the same conformance tests as the real storages."""

from __future__ import annotations

import threading
from pathlib import Path

from kirin_api.storage.base import BlobNotFound, StorageError
from kirin_api.storage.local import validate_key


class MemoryBlobStorage:
    """:class:`~kirin_api.storage.base.BlobStorage` in memory, safe across threads of a process."""

    def __init__(self) -> None:
        self._blobs: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        validate_key(key)
        try:
            data = Path(source).read_bytes()
        except OSError as error:
            raise StorageError(f"cannot read {source} for blob {key!r}: {error}") from error
        self.put_bytes(key, data, content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        validate_key(key)
        with self._lock:
            self._blobs[key] = (bytes(data), content_type)

    def get_bytes(self, key: str) -> bytes:
        validate_key(key)
        with self._lock:
            blob = self._blobs.get(key)
        if blob is None:
            raise BlobNotFound(f"no blob {key!r}")
        return blob[0]

    def content_type(self, key: str) -> str:
        """The content type given when ``key`` was stored (for tests)."""
        validate_key(key)
        with self._lock:
            blob = self._blobs.get(key)
        if blob is None:
            raise BlobNotFound(f"no blob {key!r}")
        return blob[1]

    def exists(self, key: str) -> bool:
        validate_key(key)
        with self._lock:
            return key in self._blobs

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._lock:
            self._blobs.pop(key, None)

    def local_path(self, key: str) -> Path | None:
        validate_key(key)
        return None

    def presigned_url(self, key: str, expires_in: int) -> str | None:
        validate_key(key)
        return None

    def ping(self) -> None:
        return None
