"""The statements of uploads, and the part of :class:`~kirin_api.store.sql.SqlTaskStore` that
runs them (a mixin, as :mod:`kirin_api.store.registry`, to keep the store's module about tasks).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, delete, select

from kirin_api.store.schema import uploads
from kirin_api.store.upload_records import UploadRecord


def _record(row: Any) -> UploadRecord:
    m = row._mapping
    return UploadRecord(
        id=m["id"],
        account_id=m["account_id"],
        kind=m["kind"],
        content_type=m["content_type"],
        blob_key=m["blob_key"],
        size_bytes=m["size_bytes"],
        width=m["width"],
        height=m["height"],
        duration=m["duration"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
    )


class UploadsMixin:
    """Needs the store's ``_write`` and ``_read``."""

    _write: Callable[[], AbstractContextManager[Connection]]
    _read: Callable[[], AbstractContextManager[Connection]]

    def create_upload(self, upload: UploadRecord) -> UploadRecord:
        with self._write() as conn:
            conn.execute(
                uploads.insert().values(
                    id=upload.id,
                    account_id=upload.account_id,
                    kind=upload.kind,
                    content_type=upload.content_type,
                    blob_key=upload.blob_key,
                    size_bytes=upload.size_bytes,
                    width=upload.width,
                    height=upload.height,
                    duration=upload.duration,
                    created_at=upload.created_at,
                    expires_at=upload.expires_at,
                )
            )
        return upload

    def get_upload(self, account_id: str, upload_id: str) -> UploadRecord | None:
        stmt = select(uploads).where(uploads.c.id == upload_id, uploads.c.account_id == account_id)
        with self._read() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _record(row)

    def find_upload(self, upload_id: str) -> UploadRecord | None:
        with self._read() as conn:
            row = conn.execute(select(uploads).where(uploads.c.id == upload_id)).first()
        return None if row is None else _record(row)

    def delete_upload(self, account_id: str, upload_id: str) -> UploadRecord | None:
        stmt = (
            delete(uploads)
            .where(uploads.c.id == upload_id, uploads.c.account_id == account_id)
            .returning(*uploads.c)
        )
        with self._write() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _record(row)

    def expired_uploads(self, now: float, limit: int) -> list[UploadRecord]:
        stmt = (
            select(uploads)
            .where(uploads.c.expires_at <= now)
            .order_by(uploads.c.expires_at)
            .limit(limit)
        )
        with self._read() as conn:
            return [_record(row) for row in conn.execute(stmt)]

    def forget_upload(self, upload_id: str) -> None:
        with self._write() as conn:
            conn.execute(delete(uploads).where(uploads.c.id == upload_id))
