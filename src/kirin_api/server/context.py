"""What the server's routes need, built once by the app factory."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field

from kirin_api.contract.keypairs import SecretSealer
from kirin_api.contract.pricing import PricingTable
from kirin_api.server.key_cache import KeyCache
from kirin_api.server.ratelimit import RateLimiter
from kirin_api.server.submission_batch import SubmissionBatcher
from kirin_api.storage.base import BlobStorage
from kirin_api.store.base import TaskStore
from kirin_api.views import ResultLinks


@dataclass(frozen=True)
class ServerContext:
    store: TaskStore
    storage: BlobStorage
    public_url: str | None
    url_ttl_seconds: int
    max_body_bytes: int
    url_secret: bytes
    # KIRIN_ALLOW_PRIVATE_NETWORKS: whether a callback_url may name a private address.
    allow_private_networks: bool = False
    rate_limiter: RateLimiter | None = None
    # What a submit reserves of the account's balance (the most the task can cost).
    pricing: PricingTable = field(default_factory=PricingTable.default)
    # Unfinished tasks an account may have at once, unless its own limit says otherwise.
    max_unfinished: int | None = None
    # Opens the sealed secret keys of access-key pairs (JWTs of the Kling dialect); None: the
    # server has no server secret key, and such tokens are refused.
    sealer: SecretSealer | None = None
    # A worker silent for this long is not live: its models are not "available".
    worker_stale_seconds: float = 30.0
    # SHA-256 of KIRIN_ADMIN_TOKEN; None: the admin API is off.
    admin_token_hash: bytes | None = None
    # One log line per request (route, status, duration) from our middleware: with JSON logs,
    # in place of uvicorn's access log.
    access_log: bool = False
    # GET /metrics answers (KIRIN_METRICS).
    metrics: bool = True
    # How long an upload is kept (KIRIN_UPLOAD_TTL_SECONDS).
    upload_ttl_seconds: int = 7 * 24 * 3600
    # Between the keep-alive comments of an idle event stream (KIRIN_EVENTS_KEEPALIVE_SECONDS).
    events_keepalive_seconds: float = 15.0
    # Set when the server begins to shut down: event streams and held waits end then (clients
    # reconnect, with Last-Event-ID, to a process that stays), so they never hold a shutdown.
    stopping: threading.Event = field(default_factory=threading.Event)
    # Threads that run the routes' database calls (anyio's default limiter, set at startup);
    # the store's pool holds at least as many connections.
    api_threads: int = 16
    # API key -> account for up to a second (the revocation delay; see key_cache).
    key_cache: KeyCache = field(default_factory=KeyCache)

    @functools.cached_property
    def submissions(self) -> SubmissionBatcher:
        """Creates submitted tasks in batches, on ``store`` (built once)."""
        return SubmissionBatcher(self.store)

    @functools.cached_property
    def result_links(self) -> ResultLinks:
        """How this server's result URLs are made (built once: every task object uses it)."""
        return ResultLinks(
            storage=self.storage,
            url_secret=self.url_secret,
            url_ttl_seconds=self.url_ttl_seconds,
            public_url=self.public_url,
        )
