"""Uploads: sending a local file, and what it is (flows of the sans-IO core, see ``_core``)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from kirin_api.client._core import Core, Flow, _Attempts
from kirin_api.client.errors import APIError
from kirin_api.client.types import Upload

UPLOADS_PATH = "/model/v1/uploads"
_BY_SUFFIX = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".qt": "video/quicktime",
}


def content_type_of(path: Path) -> str:
    """The file's type by its first bytes (what the server checks), else by its name; the
    server refuses what is neither a JPEG/PNG image nor an MP4/MOV video, naming what it got."""
    with path.open("rb") as source:
        head = source.read(16)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "video/quicktime"
    return _BY_SUFFIX.get(path.suffix.lower(), "application/octet-stream")


def is_video(path: str | os.PathLike[str]) -> bool:
    """Whether the file is a video (by its content, else its name)."""
    return content_type_of(Path(path)).startswith("video/")


def create(core: Core, path: str | os.PathLike[str]) -> Flow[Upload]:
    """Upload the file at ``path`` as the raw body. Retried like any request: a second copy
    of an upload whose answer was lost is harmless (it expires like the first)."""
    file = Path(path).expanduser()
    data = file.read_bytes()
    request = core.build(
        "POST", UPLOADS_PATH, content=data, headers={"Content-Type": content_type_of(file)}
    )
    response = yield from core.call(request)
    return Upload.model_validate_json(response.content)


def _path(upload_id: str) -> str:
    return f"{UPLOADS_PATH}/{quote(upload_id, safe='')}"


def get(core: Core, upload_id: str) -> Flow[Upload]:
    response = yield from core.call(core.build("GET", _path(upload_id)))
    return Upload.model_validate_json(response.content)


def delete(core: Core, upload_id: str) -> Flow[None]:
    """Delete an upload (a retry that meets 404 means an earlier attempt deleted it)."""
    attempts = _Attempts()
    try:
        yield from core.call(core.build("DELETE", _path(upload_id)), attempts=attempts)
    except APIError as exc:
        if not (exc.status_code == 404 and attempts.count > 1):
            raise
