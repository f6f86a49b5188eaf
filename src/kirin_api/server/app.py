"""The ASGI app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from kirin_api import __version__
from kirin_api.server import reads, routes_console
from kirin_api.server.context import ServerContext
from kirin_api.server.dialects import all_dialects
from kirin_api.server.docs_pages import install_docs_pages
from kirin_api.server.errors import install_error_handlers
from kirin_api.server.fast_task_routes import FastTaskRoutes
from kirin_api.server.openapi import install_openapi
from kirin_api.server.request_ids import RequestIdMiddleware

DESCRIPTION = """A self-hosted server for the Kirin video-generation API.

Send a task to `POST /model/v1/generation` with `Authorization: Bearer <api key>`, poll
`GET /model/v1/generation/task/{task_id}` until it is `completed`, and download the video from
`output[0].content[0].url`.

The same tasks are also served in the official Kling API's shape (`/v1/videos/...`, JWTs from
access-key pairs) and to the Vtrix CLI (`/api/v1/skill/...`): see docs/dialects.md.
"""


def create_app(context: ServerContext) -> FastAPI:
    """Build the app around ready-made store and storage (see ``kirin_api.cli``)."""
    app = FastAPI(
        title="Kirin API",
        version=__version__,
        description=DESCRIPTION,
        # Operation ids are the routes' names (create_task, get_task ...): what client
        # generators name their functions after.
        generate_unique_id_function=lambda route: route.name,
        # Served by install_docs_pages from local assets instead of a CDN.
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan(context),
    )
    app.state.context = context
    dialects = all_dialects()
    install_error_handlers(app, dialects, unlisted=[routes_console.router])
    for dialect in dialects:
        for router in dialect.routers:
            app.include_router(router)
    # The web console at / (outside the OpenAPI document: it is a page, not the API).
    app.include_router(routes_console.router)
    install_openapi(app)
    install_docs_pages(app)
    # Inside the request ids (added first = nearer the routes): the busiest task routes' fast path.
    app.add_middleware(FastTaskRoutes, fastapi_app=app)
    app.add_middleware(RequestIdMiddleware, access_log=context.access_log)
    return app


def _lifespan(context: ServerContext) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The routes' blocking calls (the store) run on anyio's default threadpool; its size is
        # the store's pool size, so that no thread waits for a connection (docs/operations.md).
        anyio.to_thread.current_default_thread_limiter().total_tokens = context.api_threads
        yield
        context.submissions.close()
        # The store's connections opened on this loop (PostgreSQL's reads) close with it.
        await reads.close(context.store)

    return lifespan
