"""The seam to where result videos live (local disk now, S3-compatible later)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable


class StorageError(Exception):
    """Storage cannot be reached or refused an operation (maps to 503 ``unavailable``)."""


class BlobNotFound(StorageError):
    """No blob under that key."""


@runtime_checkable
class BlobStorage(Protocol):
    """Keys are relative POSIX paths such as ``results/task_01J.../video.mp4``."""

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        """Store the file at ``source`` under ``key``, atomically (readers never see half)."""
        ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    def get_bytes(self, key: str) -> bytes:
        """Raises :class:`BlobNotFound`."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Idempotent."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A path the server may stream from, or None where blobs are not local files."""
        ...

    def presigned_url(self, key: str, expires_in: int) -> str | None:
        """A URL the storage itself serves (S3), or None where the server signs its own."""
        ...

    def ping(self) -> None:
        """Raise :class:`StorageError` if the storage cannot be reached."""
        ...
