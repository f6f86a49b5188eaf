"""The web console: ``GET /`` and its static files under ``/console/``.

The page is plain HTML, CSS and hand-written ES modules shipped as package data (no build
step, nothing fetched from another host). It talks to the server only through the public HTTP
API with the key the user types in, which stays in the browser's session storage.

Every console answer carries a strict Content-Security-Policy: scripts, styles and API calls
from this origin only, no inline script, no frames. Images and videos may also come from the
origins that result links point at (``KIRIN_PUBLIC_URL``, an S3 endpoint), since those are
where the finished videos and the uploads live; ``blob:`` is for local previews of a file the
user picked before it is uploaded.
"""

from __future__ import annotations

import hashlib
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kirin_api.contract.errors import NotFound
from kirin_api.server.context import ServerContext
from kirin_api.storage.base import StorageError

router = APIRouter(include_in_schema=False)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# A key no task ever has: only used to learn which origin presigned URLs point at.
_PROBE_KEY = "console-origin-probe"


@dataclass(frozen=True)
class ConsoleFile:
    body: bytes
    content_type: str
    etag: str


@lru_cache(maxsize=1)
def console_files() -> dict[str, ConsoleFile]:
    """The console's files by name, read once from the package (a fixed set: nothing else
    under the package can be asked for)."""
    folder = resources.files("kirin_api.server") / "console"
    files: dict[str, ConsoleFile] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in _TYPES:
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            files[entry.name] = ConsoleFile(body, _TYPES[suffix], etag)
    return files


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def media_origins(context: ServerContext) -> list[str]:
    """Origins other than this one that result and upload links may point at."""
    origins = {_origin(context.public_url)}
    # Storage down: the page still loads; its videos will say why they do not.
    with suppress(StorageError):
        origins.add(_origin(context.storage.presigned_url(_PROBE_KEY, 60)))
    return sorted(origin for origin in origins if origin)


def content_security_policy(context: ServerContext) -> str:
    media = " ".join(["'self'", "blob:", *media_origins(context)])
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            f"img-src {media}",
            f"media-src {media}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _answer(request: Request, file: ConsoleFile) -> Response:
    context: ServerContext = request.app.state.context
    headers = {
        "Content-Security-Policy": content_security_policy(context),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # Revalidated every time (cheap with the ETag): a new server version is seen at once.
        "Cache-Control": "no-cache",
        "ETag": file.etag,
    }
    if request.headers.get("if-none-match") == file.etag:
        return Response(status_code=304, headers=headers)
    return Response(file.body, media_type=file.content_type, headers=headers)


@router.get("/")
async def console_page(request: Request) -> Response:
    return _answer(request, console_files()["index.html"])


@router.get("/console/{name}")
async def console_asset(name: str, request: Request) -> Response:
    file = console_files().get(name)
    if file is None or name == "index.html":
        raise NotFound(f"no route GET {request.url.path}")
    return _answer(request, file)
