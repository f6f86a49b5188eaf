"""Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...), for servers on many machines.

boto3 is imported when a storage is made, not when this module is, so ``import kirin_api.storage``
stays cheap and works on installs without the ``server`` extra.

How botocore's failures come out of this module (nothing else leaks):

- ``ClientError`` with code ``NoSuchKey``/``404``/``NotFound`` on a read → :class:`BlobNotFound`
  (``exists`` answers False instead);
- every other ``ClientError`` (``NoSuchBucket``, ``AccessDenied``, ``SignatureDoesNotMatch``,
  ``InvalidAccessKeyId``, ``SlowDown``, 5xx after retries, ...) → :class:`StorageError` with the
  code and the bucket in the message;
- ``BotoCoreError`` (``EndpointConnectionError``, ``ConnectTimeoutError``, ``ReadTimeoutError``,
  ``NoCredentialsError``, ``ResponseStreamingError``, ...) → :class:`StorageError`;
- boto3's transfer errors (``S3UploadFailedError``, ``RetriesExceededError``) →
  :class:`StorageError`;
- ``OSError`` reading the source file of :meth:`S3BlobStorage.put_file` → :class:`StorageError`.

An invalid key is a ``ValueError`` before any request is made, as for every BlobStorage.
"""

from __future__ import annotations

import contextlib
import importlib.util
import mimetypes
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from kirin_api.storage.base import BlobNotFound, StorageError
from kirin_api.storage.local import validate_key

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig
    from mypy_boto3_s3 import S3Client

# S3 refuses SigV4 presigned URLs that live longer than seven days.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600

# Files above this go up in parts of this size: a failed part is retried alone, and parts go up
# in parallel. 8 MiB is boto3's default; 10,000 parts of it still allow 80 GB.
MULTIPART_THRESHOLD = 8 * 1024 * 1024
MULTIPART_CHUNKSIZE = 8 * 1024 * 1024

# Error codes that mean "no such key": GET answers NoSuchKey, HEAD has no body so only "404".
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})

# Browsers play a video inline only with a video content type; the worker stores some blobs with
# a generic type, so presigned links name the type from the key's extension where it is known.
_CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".json": "application/json",
}


def boto3_available() -> bool:
    """Whether boto3 is installed (it comes with the ``server`` extra), without importing it."""
    return importlib.util.find_spec("boto3") is not None


def content_type_for(key: str) -> str | None:
    """The content type a download of ``key`` should carry, from its extension, or None."""
    suffix = Path(key).suffix.lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key, strict=True)[0]


def make_client(
    *,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
    max_attempts: int = 3,
) -> S3Client:
    """An S3 client configured as this server wants it.

    Credentials and region left as None come from boto3's usual chain (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_DEFAULT_REGION``, ``~/.aws``, instance
    roles, ...). With ``endpoint_url`` (an S3-compatible server) requests use path-style
    addressing, since such servers rarely have wildcard DNS for virtual-host buckets.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        # Short connect timeout: an unreachable storage must turn /readyz red fast, not hang it.
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # "standard" retries throttling, 5xx and connection errors with jittered backoff;
        # max_attempts counts the first try.
        retries={"max_attempts": max_attempts, "mode": "standard"},
        # SigV4 everywhere: presigned URLs then work in every region and on MinIO and friends.
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    client: S3Client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region_name,
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
        config=config,
    )
    return client


def _error_code(error: Any) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "") or "")


class S3BlobStorage:
    """:class:`~kirin_api.storage.base.BlobStorage` on the keys under ``prefix`` in ``bucket``.

    Blob ``key`` lives at ``{prefix}/{key}`` (at ``key`` with no prefix). Uploads are atomic by
    S3's own rules: a PUT, or a multipart upload's completion, replaces the object whole, so
    readers never see half a blob. Content types are stored with the objects.

    ``client`` is an S3 client to use as it is (see :func:`make_client`); otherwise one is made
    from ``endpoint_url``, ``region_name`` and boto3's credential chain. The storage is safe to
    share between threads (boto3 clients are).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        client: Any | None = None,
        region_name: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunksize: int = MULTIPART_CHUNKSIZE,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ValueError(f"invalid S3 bucket name {bucket!r}")
        prefix = prefix.strip("/")
        if prefix:
            try:
                validate_key(prefix)
            except ValueError:
                raise ValueError(f"invalid S3 key prefix {prefix!r}") from None
        if client is not None and (endpoint_url or region_name):
            raise ValueError("give either a client or endpoint_url/region_name, not both")
        self.bucket = bucket
        self.prefix = prefix
        self._client: S3Client = (
            client
            if client is not None
            else make_client(endpoint_url=endpoint_url, region_name=region_name)
        )
        self._multipart_threshold = multipart_threshold
        self._multipart_chunksize = multipart_chunksize

    def __repr__(self) -> str:
        return f"S3BlobStorage(bucket={self.bucket!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> S3Client:
        """The boto3 S3 client in use (for tests and tools)."""
        return self._client

    def object_key(self, key: str) -> str:
        """The S3 object key of blob ``key`` (ValueError for an invalid key)."""
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _transfer_config(self) -> TransferConfig:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self._multipart_threshold,
            multipart_chunksize=self._multipart_chunksize,
            max_concurrency=4,
            use_threads=True,
        )

    def _fail(self, what: str, error: BaseException) -> NoReturn:
        code = _error_code(error)
        detail = f"{code}: {error}" if code else f"{type(error).__name__}: {error}"
        raise StorageError(f"S3 {what} (bucket {self.bucket!r}) failed: {detail}") from error

    @contextlib.contextmanager
    def _translated(self, what: str, key: str | None = None) -> Iterator[None]:
        """Turn the errors of boto3/botocore raised in the block into ours (module docstring)."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as error:
            if key is not None and _error_code(error) in _MISSING_CODES:
                raise BlobNotFound(f"no blob {key!r}") from error
            self._fail(what, error)
        except (BotoCoreError, Boto3Error) as error:
            self._fail(what, error)

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        """Upload ``source``; in parts above the multipart threshold (aborted on failure)."""
        name = self.object_key(key)
        with self._translated(f"upload of {key!r}"):
            try:
                self._client.upload_file(
                    str(source),
                    self.bucket,
                    name,
                    ExtraArgs={"ContentType": content_type},
                    Config=self._transfer_config(),
                )
            except OSError as error:
                raise StorageError(f"cannot read {source} for blob {key!r}: {error}") from error

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        name = self.object_key(key)
        with self._translated(f"upload of {key!r}"):
            self._client.put_object(
                Bucket=self.bucket, Key=name, Body=data, ContentType=content_type
            )

    def get_bytes(self, key: str) -> bytes:
        """Raises :class:`BlobNotFound` for a missing key, :class:`StorageError` otherwise
        (a missing bucket included)."""
        name = self.object_key(key)
        with self._translated(f"download of {key!r}", key):
            response = self._client.get_object(Bucket=self.bucket, Key=name)
            # Reading the body is where a dropped connection shows: inside the translation too.
            with contextlib.closing(response["Body"]) as body:
                data: bytes = body.read()
        return data

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored. A HEAD answer carries no error code, so a missing bucket
        reads as a missing key here; :meth:`ping` and writes tell them apart."""
        name = self.object_key(key)
        try:
            with self._translated(f"lookup of {key!r}", key):
                self._client.head_object(Bucket=self.bucket, Key=name)
        except BlobNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        """Idempotent: S3 answers a delete of a missing key with success."""
        name = self.object_key(key)
        try:
            with self._translated(f"delete of {key!r}", key):
                self._client.delete_object(Bucket=self.bucket, Key=name)
        except BlobNotFound:
            pass  # some S3-compatible servers do answer NoSuchKey: already gone is done

    def local_path(self, key: str) -> Path | None:
        """None: blobs are objects in a bucket, served by presigned URLs."""
        self.object_key(key)
        return None

    def presigned_url(self, key: str, expires_in: int) -> str | None:
        """A GET URL for ``key`` valid ``expires_in`` seconds (at most seven days, S3's limit).

        Made locally, no request: anyone holding it may download the blob until it expires;
        changing any part of it breaks the signature. The download names the content type of the
        key's extension (``video/mp4`` for ``.mp4``) so browsers play the video inline.
        """
        name = self.object_key(key)
        if expires_in < 1:
            raise ValueError(f"expires_in must be at least 1 second, got {expires_in}")
        params: dict[str, str] = {"Bucket": self.bucket, "Key": name}
        content_type = content_type_for(key)
        if content_type is not None:
            params["ResponseContentType"] = content_type
        with self._translated(f"presigning of {key!r}"):
            url: str = self._client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=min(int(expires_in), MAX_PRESIGN_SECONDS)
            )
        return url

    def ping(self) -> None:
        """Raise :class:`StorageError` unless the bucket answers (reachable, exists, allowed)."""
        with self._translated("ping (HeadBucket)"):
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except Exception as error:
                # HEAD has no body: a bare 404/403 is made readable here before translation.
                if _error_code(error) in {"404", "NoSuchBucket"}:
                    raise StorageError(f"S3 bucket {self.bucket!r} does not exist") from error
                if _error_code(error) in {"403", "AccessDenied"}:
                    raise StorageError(
                        f"S3 bucket {self.bucket!r}: access denied (check the credentials)"
                    ) from error
                raise
