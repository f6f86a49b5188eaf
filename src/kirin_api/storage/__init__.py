"""Where result videos live: the :class:`BlobStorage` protocol, its implementations, signed URLs.

Errors: :class:`StorageError` (cannot be reached or refused, 503), :class:`BlobNotFound` (no such
key), :class:`UnsupportedStorage` (a storage URL this install cannot use: S3 without boto3); an
invalid key is a ``ValueError``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from kirin_api.storage.base import BlobNotFound, BlobStorage, StorageError
from kirin_api.storage.local import LocalBlobStorage, validate_key
from kirin_api.storage.memory import MemoryBlobStorage

# s3 imports boto3 only when a storage is made, so importing it here costs nothing.
from kirin_api.storage.s3 import S3BlobStorage, boto3_available
from kirin_api.storage.signing import sign, signed_path, verify

__all__ = [
    "BlobNotFound",
    "BlobStorage",
    "LocalBlobStorage",
    "MemoryBlobStorage",
    "S3BlobStorage",
    "StorageError",
    "UnsupportedStorage",
    "open_storage",
    "sign",
    "signed_path",
    "validate_key",
    "verify",
]


class UnsupportedStorage(StorageError, NotImplementedError):
    """A storage this install of the server cannot use (S3 without boto3 installed)."""


def open_storage(storage_url: str, endpoint_url: str | None = None) -> BlobStorage:
    """The storage for ``storage_url``.

    - ``file:///absolute/path`` → :class:`LocalBlobStorage` on that directory;
    - ``s3://bucket`` or ``s3://bucket/prefix`` → :class:`S3BlobStorage` on that bucket and key
      prefix, at ``endpoint_url`` (an S3-compatible server; None for AWS itself), with the
      credentials and region of boto3's usual chain (``AWS_ACCESS_KEY_ID``, ...);
      :class:`UnsupportedStorage` where boto3 is not installed;
    - anything else → :class:`ValueError` naming the scheme.

    ``endpoint_url`` only matters to S3 storages; file storages ignore it.
    """
    parts = urlsplit(storage_url)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        return _open_s3(storage_url, endpoint_url)
    if scheme != "file":
        raise ValueError(f"unsupported storage URL scheme {scheme!r}: use file:///path or s3://")
    if parts.netloc not in {"", "localhost"} or not parts.path:
        raise ValueError(
            f"a file storage URL needs an absolute path (file:///dir), got {storage_url!r}"
        )
    return LocalBlobStorage(Path(url2pathname(parts.path)))


def _open_s3(storage_url: str, endpoint_url: str | None) -> S3BlobStorage:
    parts = urlsplit(storage_url)
    bucket = parts.netloc
    if not bucket or "@" in bucket or ":" in bucket:
        # Credentials or a port in the URL would be a misreading: they belong in the AWS_*
        # variables and the endpoint URL.
        raise ValueError(f"an S3 storage URL is s3://bucket[/prefix], got {storage_url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"an S3 storage URL takes no query or fragment, got {storage_url!r}")
    if not boto3_available():
        raise UnsupportedStorage(
            "S3 storage needs boto3: install kirin-api[server] (or pip install boto3)"
        )
    return S3BlobStorage(bucket, unquote(parts.path), endpoint_url=endpoint_url or None)
