"""Settings, read from flags (by the CLI) and then from ``KIRIN_*`` environment variables.

This is the only module that reads the environment; everything else takes constructor arguments.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Seconds between callback attempts: 5 s, then growing to hourly, over more than 24 hours.
DEFAULT_WEBHOOK_RETRY_SCHEDULE = "5,30,120,300,900,1800,3600,7200,14400,28800,43200"


class Settings(BaseSettings):
    """Every knob of the server; see the README's "Configuration" table."""

    model_config = SettingsConfigDict(env_prefix="KIRIN_", extra="ignore")

    data_dir: Path = Path("./kirin-data")
    database_url: str | None = None
    storage_url: str | None = None
    # The S3-compatible server of an ``s3://`` storage URL (MinIO, Ceph, ...); None means AWS.
    # Credentials and region are boto3's own AWS_* variables, read by boto3, not here.
    s3_endpoint_url: str | None = None
    public_url: str | None = None
    workers: int = Field(default=1, ge=0, le=64)
    # API processes of `kirin serve` on its one port (each with its own threads and pool).
    api_processes: int = Field(default=1, ge=1, le=64)
    # Threads per API process that run database calls; each process keeps as many pooled
    # connections open (plus a few for its background threads). See docs/operations.md.
    api_threads: int = Field(default=16, ge=1, le=256)
    # PostgreSQL: connections per API process for the reads of every request (a key's account,
    # a task, the first page of the list), made on the event loop beside the threads' pool.
    api_read_connections: int = Field(default=16, ge=1, le=256)
    # The API processes' event loop; "auto": the standard library's for one API process (it takes
    # a burst of new connections in at once, where uvloop takes one per turn of its loop under
    # load), uvloop for several (each then takes its share of a burst). docs/operations.md.
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    allow_private_networks: bool = False
    webhook_retry_schedule: str = DEFAULT_WEBHOOK_RETRY_SCHEDULE
    engines_file: Path | None = None
    pricing_file: Path | None = None
    discount: Decimal = Decimal("0")

    # How long a worker holds a task without a heartbeat before another may take it over.
    lease_seconds: float = Field(default=60.0, gt=0)
    # Claims of one task before it is failed with the model's ...098 code.
    max_attempts: int = Field(default=3, ge=1)
    # All of one task's input URLs must be fetched within this (each URL also has its own
    # connection timeouts); URLs are fetched at once, beside the render.
    fetch_deadline_seconds: float = Field(default=60.0, gt=0)
    # Tasks whose inputs one worker fetches at once while it renders, and the sum of their
    # inputs' size caps it may hold (bytes on the scratch disk).
    prefetch_tasks: int = Field(default=8, ge=1, le=64)
    prefetch_bytes: int = Field(default=1 << 30, ge=1)
    # How often an idle worker looks for work.
    poll_interval: float = Field(default=0.5, gt=0)
    # Lifetime of result URLs.
    url_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    # How long an upload (POST /model/v1/uploads) is kept and its URL works.
    upload_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=1)
    # Seconds between the comment lines that keep an idle event stream open through proxies.
    events_keepalive_seconds: float = Field(default=15.0, gt=0)
    # Unfinished (pending + processing) tasks an account may have at once (0: no limit); an
    # account's own limit (`kirin accounts set-limit`) overrides it.
    max_unfinished_tasks: int = Field(default=100, ge=0)
    # Requests a key may make a minute (0: no limit), and how many at once before that applies.
    rate_limit_per_minute: int = Field(default=600, ge=0)
    rate_limit_burst: int | None = Field(default=None, ge=1)
    # Largest request body: base64 images of up to 10 MB each, several of them.
    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # A task of a model that no live worker has served for this long fails with ...094.
    unserved_timeout_seconds: float = Field(default=600.0, gt=0)
    # A task pending for longer than this fails with ...094 (unset: no limit).
    max_queue_seconds: float | None = Field(default=None, gt=0)
    # A worker silent for this long is not live (its models may become unserved).
    worker_stale_seconds: float = Field(default=30.0, gt=0)
    # GET /metrics (Prometheus); false: no such route.
    metrics: bool = True
    # Opens the admin API (/admin/v1) to whoever sends it as a bearer token; unset: closed.
    admin_token: SecretStr | None = None
    # Seals the secret keys of access-key pairs (Kling-dialect JWTs). Unset: a random key kept
    # in the data dir (file ``secret-key``); set it on every host of a multi-host deployment.
    secret_key: SecretStr | None = None
    # Keys being rotated out, comma-separated: they still open what they sealed until
    # `kirin keys reseal` has sealed everything again with ``secret_key``.
    previous_secret_keys: SecretStr | None = None

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'kirin.db').resolve()}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or (self.data_dir / "files").resolve().as_uri()

    @property
    def scratch_dir(self) -> Path:
        """Where workers write videos before they are stored."""
        return self.data_dir / "scratch"
