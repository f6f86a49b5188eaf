"""Uploads as task inputs: the seam consulted before the network fetcher.

A URL that this server signed for an upload (:mod:`kirin_api.storage.upload_links`) is not
fetched over the network: the worker reads the upload straight from storage, so an upload
works where the server's own address is private (the usual case: ``127.0.0.1``), without
``KIRIN_ALLOW_PRIVATE_NETWORKS``. Only an upload of the task's own account, and only until it
expires; anything else is the fetcher's, with its rules.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from kirin_api.contract.errors import TaskErrorKind, TaskFailure
from kirin_api.storage.base import BlobNotFound, BlobStorage
from kirin_api.storage.upload_links import parse_upload_url
from kirin_api.store.upload_records import UploadStore

HOW_TO_UPLOAD = (
    "upload it (POST /model/v1/uploads, `kirin upload FILE`, or client.uploads.create(path) "
    "in the Python SDK) and give the URL it answers"
)
PRIVATE_ADDRESS_HINT = (
    f"; to give a file from your own machine, {HOW_TO_UPLOAD}; on a closed network, the "
    "server's operator may allow private addresses with KIRIN_ALLOW_PRIVATE_NETWORKS=true"
)


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class UploadInputs:
    """Reads the uploads that task inputs name (see the module docstring)."""

    def __init__(
        self,
        store: UploadStore,
        storage: BlobStorage,
        url_secret: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._storage = storage
        self._secret = url_secret
        self._clock = clock

    def materialise(self, url: str, account_id: str, param: str, dest: Path) -> bool:
        """Write the upload ``url`` names to ``dest`` and answer True; False where ``url`` is
        not one of this server's upload URLs (the fetcher's then). Raises :class:`TaskFailure`
        (``...097``: the input could not be had) for an upload of another account, a deleted
        or an expired one."""
        link = parse_upload_url(url, self._secret)
        if link is None:
            return False
        upload = self._store.get_upload(account_id, link.upload_id)
        if upload is None:
            raise TaskFailure(
                TaskErrorKind.HTTP_ERROR,
                f"{param}: no upload {link.upload_id} in this account (deleted, or uploaded "
                f"with another account's key); {HOW_TO_UPLOAD}",
            )
        if upload.expired(self._clock()):
            raise TaskFailure(
                TaskErrorKind.HTTP_ERROR,
                f"{param}: upload {upload.id} expired at {_when(upload.expires_at)}; upload the "
                "file again",
            )
        try:
            local = self._storage.local_path(upload.blob_key)
            if local is not None:
                shutil.copyfile(local, dest)
            else:
                dest.write_bytes(self._storage.get_bytes(upload.blob_key))
        except (BlobNotFound, FileNotFoundError):
            raise TaskFailure(
                TaskErrorKind.HTTP_ERROR,
                f"{param}: upload {upload.id} is gone from storage; upload the file again",
            ) from None
        return True
