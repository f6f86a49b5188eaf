"""The API as ``kirin serve`` runs it: its context built from settings, in the serve process
itself (one API process) or in each of N (``--api-processes``), where uvicorn calls
:func:`app_from_environment` after starting the process.

What the N processes share is on this host: the listening socket (opened once by uvicorn's
supervisor), the request-rate buckets (a file mapped into each, see
:mod:`kirin_api.server.ratelimit_shared`), the metrics directory (prometheus multiprocess), and
the database. Each process has its own threads and connection pool.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from kirin_api.cli.common import json_logs, sealer_or_exit, setup_logging
from kirin_api.cli.uvicorn_server import SHUTTING_DOWN, chain_exit_signals
from kirin_api.settings import Settings
from kirin_api.storage import BlobStorage
from kirin_api.store import TaskStore
from kirin_api.wiring import build_pricing, build_storage, build_store

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kirin_api.server.context import ServerContext

# Set by `kirin serve` for its API processes: the file of the shared rate-limit buckets.
RATE_LIMIT_FILE_ENV = "KIRIN_RATE_LIMIT_FILE"


def build_context(settings: Settings, store: TaskStore, storage: BlobStorage) -> ServerContext:
    """What the routes need, from settings (and the rate-limit table named in the environment)."""
    from kirin_api.server.context import ServerContext
    from kirin_api.server.ratelimit import RateLimiter
    from kirin_api.server.ratelimit_shared import SharedBuckets

    shared_file = os.environ.get(RATE_LIMIT_FILE_ENV)
    return ServerContext(
        store=store,
        storage=storage,
        public_url=settings.public_url,
        url_ttl_seconds=settings.url_ttl_seconds,
        max_body_bytes=settings.max_body_bytes,
        url_secret=store.secret("url-signing"),
        allow_private_networks=settings.allow_private_networks,
        pricing=build_pricing(settings),
        max_unfinished=settings.max_unfinished_tasks or None,
        sealer=sealer_or_exit(settings),
        worker_stale_seconds=settings.worker_stale_seconds,
        access_log=json_logs(),
        metrics=settings.metrics,
        upload_ttl_seconds=settings.upload_ttl_seconds,
        events_keepalive_seconds=settings.events_keepalive_seconds,
        stopping=SHUTTING_DOWN,
        api_threads=settings.api_threads,
        admin_token_hash=(
            hashlib.sha256(settings.admin_token.get_secret_value().encode()).digest()
            if settings.admin_token
            else None
        ),
        rate_limiter=(
            RateLimiter(
                settings.rate_limit_per_minute,
                settings.rate_limit_burst,
                shared=SharedBuckets(Path(shared_file)) if shared_file else None,
            )
            if settings.rate_limit_per_minute
            else None
        ),
    )


def app_from_environment() -> FastAPI:
    """The app of one of N API processes (uvicorn's factory): the settings are the environment
    that ``kirin serve`` resolved its flags into before it started them."""
    from kirin_api.server.app import create_app
    from kirin_api.server.heap import freeze_startup_heap

    setup_logging()
    chain_exit_signals()
    settings = Settings()
    store = build_store(settings)
    app = create_app(build_context(settings, store, build_storage(settings)))
    freeze_startup_heap()
    return app
