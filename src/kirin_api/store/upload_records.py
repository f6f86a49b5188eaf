"""Uploads in the store: the records and the part of the store protocol that keeps them.

An upload is a user's local file (an image or a video) kept in blob storage under its account
for a while (``expires_at``), so that its URL can stand in any image or video parameter. The
store keeps the row (who owns it, where the blob is, what decoding found); the blob itself is
the storage's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

UploadKind = Literal["image", "video"]


@dataclass(frozen=True)
class UploadRecord:
    id: str  # "upl_" + ULID
    account_id: str
    kind: UploadKind
    content_type: str  # image/png, image/jpeg, video/mp4, video/quicktime
    blob_key: str
    size_bytes: int
    width: int
    height: int
    duration: float | None  # videos
    created_at: float
    expires_at: float

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


class UploadStore(Protocol):
    """What the store does with uploads (one implementation: ``store.uploads.UploadsMixin``)."""

    def create_upload(self, upload: UploadRecord) -> UploadRecord:
        """Keep the row of an upload whose blob is already stored."""
        ...

    def get_upload(self, account_id: str, upload_id: str) -> UploadRecord | None:
        """The account's upload, expired or not (None for another account's)."""
        ...

    def find_upload(self, upload_id: str) -> UploadRecord | None:
        """An upload of any account: for its signed URL, which carries no key."""
        ...

    def delete_upload(self, account_id: str, upload_id: str) -> UploadRecord | None:
        """Remove the account's upload row and answer it (its blob is the caller's to delete)."""
        ...

    def expired_uploads(self, now: float, limit: int) -> list[UploadRecord]:
        """Up to ``limit`` uploads expired at ``now``, oldest first (for the purge)."""
        ...

    def forget_upload(self, upload_id: str) -> None:
        """Remove an upload row whatever its account (the purge, once the blob is gone)."""
        ...
