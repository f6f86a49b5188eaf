"""Reading an upload's body into a file: ``multipart/form-data`` with one part ``file``, or the
raw file with its own ``Content-Type``; never more than the largest upload allows."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.types import Message

from kirin_api.contract.errors import InvalidRequest, PayloadTooLarge
from kirin_api.contract.media import size_text
from kirin_api.media.upload_check import (
    ACCEPTED_TYPES,
    MAX_UPLOAD_BYTES,
    UPLOAD_IMAGE_RULES,
)

PART = "file"
# Room for the multipart boundaries and part headers around the file.
MULTIPART_OVERHEAD = 64 * 1024
_HOW = (
    "send multipart/form-data with the file in a part named 'file', or the file itself as the "
    "body with Content-Type " + ", ".join(sorted(ACCEPTED_TYPES))
)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"upload is over the limit of {size_text(limit)}", param=PART)


def _check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)


async def receive_upload(request: Request, dest: Path) -> str | None:
    """Write the uploaded file to ``dest``; answers the content type the client declared for it
    (None where it declared none). Raises 400 for a body of another shape, 413 over the limit."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        return await _multipart(request, dest)
    if media_type in ACCEPTED_TYPES:
        limit = (
            UPLOAD_IMAGE_RULES.max_bytes if media_type.startswith("image/") else MAX_UPLOAD_BYTES
        )
        _check_declared_length(request, limit)
        size = 0
        with dest.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                out.write(chunk)
        return media_type
    shown = media_type or "none"
    raise InvalidRequest(f"Content-Type {shown} is not accepted: {_HOW}", param=PART)


async def _multipart(request: Request, dest: Path) -> str | None:
    limit = MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD
    _check_declared_length(request, limit)
    received = 0
    inner = request.receive

    async def capped() -> Message:
        # Starlette's form parser has no limit of its own on a file part: count as it reads.
        nonlocal received
        message = await inner()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(MAX_UPLOAD_BYTES)
        return message

    form = await Request(request.scope, capped).form(max_files=1, max_fields=10)
    try:
        part = form.get(PART)
        if not isinstance(part, UploadFile):
            raise InvalidRequest(f"no file part named {PART!r}: {_HOW}", param=PART)
        await run_in_threadpool(_copy, part, dest)
        return part.content_type
    finally:
        await form.close()


def _copy(part: UploadFile, dest: Path) -> None:
    part.file.seek(0)
    with dest.open("wb") as out:
        shutil.copyfileobj(part.file, out, 1 << 20)
