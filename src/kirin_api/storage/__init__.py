"""Where result videos live: the :class:`BlobStorage` protocol, its implementations, signed URLs.

Errors: :class:`StorageError` (cannot be reached or refused, 503), :class:`BlobNotFound` (no such
key), :class:`UnsupportedStorage` (a storage URL this build cannot use yet); an invalid key is a
``ValueError``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from kirin_api.storage.base import BlobNotFound, BlobStorage, StorageError
from kirin_api.storage.local import LocalBlobStorage, validate_key
from kirin_api.storage.memory import MemoryBlobStorage
from kirin_api.storage.signing import sign, signed_path, verify

__all__ = [
    "BlobNotFound",
    "BlobStorage",
    "LocalBlobStorage",
    "MemoryBlobStorage",
    "StorageError",
    "UnsupportedStorage",
    "open_storage",
    "sign",
    "signed_path",
    "validate_key",
    "verify",
]


class UnsupportedStorage(StorageError, NotImplementedError):
    """A storage this build of the server cannot use yet (S3, before the scale-out)."""


def open_storage(storage_url: str) -> BlobStorage:
    """The storage for ``storage_url``.

    - ``file:///absolute/path`` → :class:`LocalBlobStorage` on that directory;
    - ``s3://bucket/prefix`` → :class:`UnsupportedStorage` (arrives with the scale-out work);
    - anything else → :class:`ValueError` naming the scheme.
    """
    parts = urlsplit(storage_url)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        raise UnsupportedStorage(
            "S3-compatible storage arrives with the scale-out work; use file:///path for now"
        )
    if scheme != "file":
        raise ValueError(f"unsupported storage URL scheme {scheme!r}: use file:///path")
    if parts.netloc not in {"", "localhost"} or not parts.path:
        raise ValueError(
            f"a file storage URL needs an absolute path (file:///dir), got {storage_url!r}"
        )
    return LocalBlobStorage(Path(url2pathname(parts.path)))
