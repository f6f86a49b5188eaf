"""Uploads: a user's local image or video, kept a while under the account so that its URL can
be given to any image or video parameter (see :mod:`kirin_api.storage.upload_links`).

``POST /model/v1/uploads`` checks the file by decoding it, stores it and answers the upload
object; ``GET``/``DELETE /model/v1/uploads/{id}``; ``GET /uploads/{id}.{ext}`` serves it
behind its signed URL (to a browser, to an upstream service), like ``/files`` serves results.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from kirin_api.contract.errors import NotFound
from kirin_api.contract.ids import ulid
from kirin_api.media.upload_check import check_upload
from kirin_api.server.auth import authenticate
from kirin_api.server.context import ServerContext
from kirin_api.server.upload_body import receive_upload
from kirin_api.storage.upload_links import EXTENSIONS, upload_path, valid_signature
from kirin_api.store.base import Account
from kirin_api.store.upload_records import UploadRecord

router = APIRouter(tags=["uploads"])
CurrentAccount = Annotated[Account, Depends(authenticate)]
# An S3 redirect for an upload's content is good for this long (or less, at its expiry).
REDIRECT_SECONDS = 3600


def _context(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


def upload_url(context: ServerContext, base_url: str, upload: UploadRecord) -> str:
    base = context.public_url or base_url.rstrip("/")
    return base + upload_path(
        upload.id, upload.content_type, int(upload.expires_at), context.url_secret
    )


def upload_object(upload: UploadRecord, context: ServerContext, base_url: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": upload.id,
        "object": "upload",
        "url": upload_url(context, base_url, upload),
        "kind": upload.kind,
        "content_type": upload.content_type,
        "bytes": upload.size_bytes,
        "width": upload.width,
        "height": upload.height,
    }
    if upload.kind == "video":
        body["duration"] = upload.duration
    body["created_at"] = int(upload.created_at)
    body["expires_at"] = int(upload.expires_at)
    return body


@contextlib.contextmanager
def _scratch_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kirin-upload-") as directory:
        yield Path(directory) / "file"


@router.post("/model/v1/uploads", summary="Upload a local image or video to use as an input")
async def create_upload(request: Request, account: CurrentAccount) -> dict[str, Any]:
    context = _context(request)
    with _scratch_file() as path:
        declared = await receive_upload(request, path)
        checked = await run_in_threadpool(check_upload, path, declared)
        upload_id = "upl_" + ulid()
        extension = EXTENSIONS[checked.content_type]
        now = time.time()
        upload = UploadRecord(
            id=upload_id,
            account_id=account.id,
            kind=checked.kind,
            content_type=checked.content_type,
            blob_key=f"uploads/{account.id}/{upload_id}.{extension}",
            size_bytes=checked.facts.size_bytes,
            width=checked.facts.width,
            height=checked.facts.height,
            duration=checked.facts.duration,
            created_at=now,
            # Whole seconds: the URL carries the expiry, and the row must agree with it.
            expires_at=float(int(now + context.upload_ttl_seconds)),
        )
        await run_in_threadpool(
            context.storage.put_file, upload.blob_key, path, upload.content_type
        )
    await run_in_threadpool(context.store.create_upload, upload)
    return upload_object(upload, context, str(request.base_url))


async def _live_upload(context: ServerContext, account: Account, upload_id: str) -> UploadRecord:
    upload = await run_in_threadpool(context.store.get_upload, account.id, upload_id)
    if upload is None:
        raise NotFound(f"no upload {upload_id!r}", param="upload_id")
    if upload.expired(time.time()):
        raise NotFound(f"upload {upload_id!r} expired; upload the file again", param="upload_id")
    return upload


@router.get("/model/v1/uploads/{upload_id}", summary="One upload")
async def get_upload(upload_id: str, request: Request, account: CurrentAccount) -> dict[str, Any]:
    context = _context(request)
    upload = await _live_upload(context, account, upload_id)
    return upload_object(upload, context, str(request.base_url))


@router.delete("/model/v1/uploads/{upload_id}", summary="Delete an upload")
async def delete_upload(
    upload_id: str, request: Request, account: CurrentAccount
) -> dict[str, Any]:
    context = _context(request)
    upload = await run_in_threadpool(context.store.delete_upload, account.id, upload_id)
    if upload is None:
        raise NotFound(f"no upload {upload_id!r}", param="upload_id")
    await run_in_threadpool(context.storage.delete, upload.blob_key)
    return {"id": upload.id, "object": "upload", "deleted": True}


def _refused(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


@router.get("/uploads/{name}", summary="An upload's content (its signed URL)")
async def upload_content(
    name: str, request: Request, expires: int = 0, signature: str = ""
) -> Response:
    context = _context(request)
    upload_id, _, extension = name.partition(".")
    now = time.time()
    if (
        not upload_id.startswith("upl_")
        or extension not in EXTENSIONS.values()
        or now > expires
        or not valid_signature(upload_id, expires, signature, context.url_secret)
    ):
        return _refused(
            403, "forbidden", "invalid or expired signature; get the upload's URL again"
        )
    upload = await run_in_threadpool(context.store.find_upload, upload_id)
    if upload is None or upload.expired(now):
        return _refused(404, "not_found", "the upload was deleted or has expired")
    path = context.storage.local_path(upload.blob_key)
    if path is not None:
        if not path.is_file():
            return _refused(404, "not_found", "the upload is gone from storage")
        return FileResponse(path, media_type=upload.content_type)
    seconds = max(1, min(REDIRECT_SECONDS, int(upload.expires_at - now)))
    presigned = context.storage.presigned_url(upload.blob_key, seconds)
    if presigned is not None:
        return RedirectResponse(presigned, status_code=307)
    data = await run_in_threadpool(context.storage.get_bytes, upload.blob_key)
    return Response(data, media_type=upload.content_type)
