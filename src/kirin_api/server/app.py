"""The ASGI app factory."""

from __future__ import annotations

from fastapi import FastAPI

from kirin_api import __version__
from kirin_api.server import (
    routes_elements,
    routes_files,
    routes_meta,
    routes_tasks,
    routes_webhooks,
)
from kirin_api.server.context import ServerContext
from kirin_api.server.errors import install_error_handlers

DESCRIPTION = """A self-hosted server for the Kirin video-generation API.

Send a task to `POST /model/v1/generation` with `Authorization: Bearer <api key>`, poll
`GET /model/v1/generation/task/{task_id}` until it is `completed`, and download the video from
`output[0].content[0].url`.
"""


def create_app(context: ServerContext) -> FastAPI:
    """Build the app around ready-made store and storage (see ``kirin_api.cli``)."""
    app = FastAPI(title="Kirin API", version=__version__, description=DESCRIPTION)
    app.state.context = context
    install_error_handlers(app)
    app.include_router(routes_tasks.router)
    app.include_router(routes_elements.router)
    app.include_router(routes_meta.router)
    app.include_router(routes_webhooks.router)
    app.include_router(routes_files.router)
    return app
