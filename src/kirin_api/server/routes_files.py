"""Result files behind signed, expiring URLs (for storages that cannot presign, i.e. local disk)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from kirin_api.server.context import ServerContext
from kirin_api.storage.signing import verify

router = APIRouter(tags=["files"])


def _forbidden(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "forbidden", "message": message}}, status_code=403)


@router.get("/files/{key:path}", summary="Download a result (signed URL)")
async def download(key: str, request: Request, expires: int = 0, signature: str = "") -> Response:
    context: ServerContext = request.app.state.context
    if not signature or not verify(key, expires, signature, context.url_secret, time.time()):
        return _forbidden("invalid or expired signature; get a fresh URL from the task")
    path = context.storage.local_path(key)
    if path is None or not path.is_file():
        body = {"error": {"code": "not_found", "message": "the file is gone from storage"}}
        return JSONResponse(body, status_code=404)
    return FileResponse(path, media_type="video/mp4" if key.endswith(".mp4") else None)
