"""The ASGI app factory."""

from __future__ import annotations

from fastapi import FastAPI

from kirin_api import __version__
from kirin_api.server.context import ServerContext
from kirin_api.server.dialects import all_dialects
from kirin_api.server.errors import install_error_handlers

DESCRIPTION = """A self-hosted server for the Kirin video-generation API.

Send a task to `POST /model/v1/generation` with `Authorization: Bearer <api key>`, poll
`GET /model/v1/generation/task/{task_id}` until it is `completed`, and download the video from
`output[0].content[0].url`.

The same tasks are also served in the official Kling API's shape (`/v1/videos/...`, JWTs from
access-key pairs) and to the Vtrix CLI (`/api/v1/skill/...`): see docs/dialects.md.
"""


def create_app(context: ServerContext) -> FastAPI:
    """Build the app around ready-made store and storage (see ``kirin_api.cli``)."""
    app = FastAPI(title="Kirin API", version=__version__, description=DESCRIPTION)
    app.state.context = context
    dialects = all_dialects()
    install_error_handlers(app, dialects)
    for dialect in dialects:
        for router in dialect.routers:
            app.include_router(router)
    return app
