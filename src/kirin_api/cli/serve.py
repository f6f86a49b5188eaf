"""``kirin serve`` and ``kirin worker``: the API, its worker processes, and one worker."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.engine import make_url

from kirin_api import __version__
from kirin_api.cli.api_process import RATE_LIMIT_FILE_ENV, build_context
from kirin_api.cli.common import (
    DEFAULT_CALLBACK_BASE_URL,
    DataDirOption,
    err,
    json_logs,
    sealer_or_exit,
    settings_from,
    setup_logging,
)
from kirin_api.settings import Settings
from kirin_api.storage import BlobStorage
from kirin_api.store import TaskStore
from kirin_api.supervisor import PARENT_PID_ENV, WorkerSupervisor
from kirin_api.upload_purge import UploadPurger
from kirin_api.watchdog import Watchdog, WatchdogConfig
from kirin_api.wiring import build_pricing, build_storage, build_store


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: DataDirOption = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes to start (KIRIN_WORKERS; 0 = API only).")
    ] = None,
    api_processes: Annotated[
        int | None,
        typer.Option(
            help="API processes answering on the port (KIRIN_API_PROCESSES; default 1): one "
            "per core that the API may use, see docs/operations.md."
        ),
    ] = None,
) -> None:
    """Run the API and its worker processes on the configured database and storage."""
    setup_logging()
    settings = settings_from(data_dir=data_dir, workers=workers, api_processes=api_processes)
    # Before anything imports prometheus_client: the API and the workers it starts count into
    # one directory of metrics files, which /metrics adds up (see kirin_api.metrics).
    _share_metrics(settings)
    rate_limit_file = _share_rate_limit(settings)

    import uvicorn

    from kirin_api.cli.uvicorn_server import StoppingServer

    store = build_store(settings)
    storage = build_storage(settings)
    # Workers are separate processes so rendering never blocks the API; they get the same
    # settings, resolved here so that flags reach them too. Links inside callbacks need a base
    # URL where there is no request to take it from: this server's own, unless one is set.
    callback_base_url = settings.public_url or _own_url(host, port)
    resolved = {
        "KIRIN_DATA_DIR": str(settings.data_dir.resolve()),
        "KIRIN_DATABASE_URL": settings.resolved_database_url,
        "KIRIN_STORAGE_URL": settings.resolved_storage_url,
    }
    env = {**os.environ, **resolved, "KIRIN_PUBLIC_URL": callback_base_url}
    # API processes started by uvicorn inherit this process's environment.
    os.environ.update(resolved)
    context = build_context(settings, store, storage) if settings.api_processes == 1 else None
    if context is None:
        sealer_or_exit(settings)  # a bad KIRIN_SECRET_KEY stops here, not in N processes
    # The API process delivers callbacks too, so that KIRIN_WORKERS=0 still delivers.
    stop_deliveries = threading.Event()
    _start_deliveries(settings, store, storage, callback_base_url, stop_deliveries)
    # Tasks that no worker serves (or that waited too long) fail instead of hanging.
    Watchdog(
        store,
        WatchdogConfig(
            unserved_timeout=settings.unserved_timeout_seconds,
            max_queue_seconds=settings.max_queue_seconds,
            stale_after=settings.worker_stale_seconds,
        ),
        also=[UploadPurger(store, storage).sweep],
    ).start(stop_deliveries)
    supervisor = WorkerSupervisor(settings.workers, env)
    supervisor.start()
    uvicorn_options = _uvicorn_options(settings)
    try:
        if context is not None:
            from kirin_api.server.app import create_app
            from kirin_api.server.heap import freeze_startup_heap

            server = StoppingServer(
                uvicorn.Config(create_app(context), host=host, port=port, **uvicorn_options)
            )
            freeze_startup_heap()
            ready: Callable[[], bool] = lambda: bool(server.started)  # noqa: E731
            threading.Thread(
                target=_announce, args=(ready, settings, _own_url(host, port)), daemon=True
            ).start()
            server.run()
        else:
            # uvicorn's supervisor opens the socket, starts the processes (each builds its app
            # with app_from_environment), restarts one that dies, and stops them on SIGTERM.
            threading.Thread(
                target=_announce,
                args=(lambda: _answers(host, port), settings, _own_url(host, port)),
                daemon=True,
            ).start()
            uvicorn.run(
                "kirin_api.cli.api_process:app_from_environment",
                factory=True,
                host=host,
                port=port,
                workers=settings.api_processes,
                **uvicorn_options,
            )
    finally:
        stop_deliveries.set()
        supervisor.stop()
        if rate_limit_file is not None:
            rate_limit_file.unlink(missing_ok=True)


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What every API process's uvicorn is given besides the app, host and port."""
    from kirin_api.cli.uvicorn_server import NoDelayHttpToolsProtocol

    return {
        "loop": _event_loop(settings),
        "http": NoDelayHttpToolsProtocol,
        "log_level": _uvicorn_log_level(),
        # With JSON logs our middleware writes one line a request (with its id).
        "access_log": not json_logs(),
        "log_config": None if json_logs() else _uvicorn_logging_config(),
    }


def _event_loop(settings: Settings) -> str:
    """KIRIN_EVENT_LOOP, "auto" resolved (see ``Settings.event_loop``)."""
    if settings.event_loop != "auto":
        return settings.event_loop
    return "asyncio" if settings.api_processes == 1 else "uvloop"


def _uvicorn_logging_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG  # uvicorn is imported only when serving

    return LOGGING_CONFIG


def _uvicorn_log_level() -> str:
    """uvicorn's level from KIRIN_LOG_LEVEL: its access log (a line a request, at INFO) is off
    at WARNING, as ours are."""
    level = os.environ.get("KIRIN_LOG_LEVEL", "INFO").lower()
    return level if level in _uvicorn_levels() else "info"


def _uvicorn_levels() -> set[str]:
    from uvicorn.config import LOG_LEVELS

    return set(LOG_LEVELS)


def _answers(host: str, port: int) -> bool:
    """Whether something accepts connections on the port (the API processes are up)."""
    address = _own_url(host, port).rpartition("//")[2].rpartition(":")[0].strip("[]")
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def _share_rate_limit(settings: Settings) -> Path | None:
    """The file of the rate-limit buckets that this server's API processes share (its name in
    the environment they inherit); None without a rate limit."""
    if not settings.rate_limit_per_minute:
        return None
    from kirin_api.server.ratelimit_shared import create_bucket_file

    path = settings.data_dir.resolve() / "run" / f"ratelimit-{os.getpid()}"
    create_bucket_file(path)
    os.environ[RATE_LIMIT_FILE_ENV] = str(path)
    return path


def _share_metrics(settings: Settings) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return  # the operator's own choice
    directory = settings.data_dir.resolve() / "metrics" / str(os.getpid())
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def _announce(ready: Callable[[], bool], settings: Settings, url: str) -> None:
    """Once the server listens: where, on which data, and how to get a key for it."""
    while not ready():
        threading.Event().wait(0.05)
    data_dir = settings.data_dir.resolve()
    database = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    text = (
        f"kirin-api is serving on {url} (reference: {url}/docs)\n"
        f"  data dir: {data_dir}\n  database: {database}\n"
        f"  make a key: kirin keys create --data-dir {data_dir}\n"
        f"  then: export KIRIN_BASE_URL={url} KIRIN_API_KEY=<that key>"
    )
    if json_logs():
        logging.getLogger("kirin_api.serve").info(text)
    else:
        err.print(text, highlight=False)


def _own_url(host: str, port: int) -> str:
    """This server's URL as a client on this machine reaches it (0.0.0.0 is not an address to
    connect to); set KIRIN_PUBLIC_URL for links that work from elsewhere."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _start_deliveries(
    settings: Settings, store: TaskStore, storage: BlobStorage, base_url: str, stop: threading.Event
) -> None:
    """Start this process's webhook delivery threads (see kirin_api.webhooks.deliverer)."""
    from kirin_api.server.dialects import callback_renderers
    from kirin_api.views import ResultLinks
    from kirin_api.webhooks import Deliverer, DeliveryConfig, parse_schedule

    try:
        schedule = parse_schedule(settings.webhook_retry_schedule)
    except ValueError as exc:
        err.print(f"KIRIN_WEBHOOK_RETRY_SCHEDULE: {exc}")
        raise typer.Exit(2) from None
    links = ResultLinks(
        storage=storage,
        url_secret=store.secret("url-signing"),
        url_ttl_seconds=settings.url_ttl_seconds,
        public_url=settings.public_url,
    )
    config = DeliveryConfig(
        schedule=schedule, base_url=base_url, poll_interval=settings.poll_interval
    )
    deliverer = Deliverer(
        store,
        links,
        config,
        renderers=callback_renderers(),
        allow_private=settings.allow_private_networks,
    )
    deliverer.start(stop)


def worker(
    data_dir: DataDirOption = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Serve this worker's Prometheus metrics on this port (not needed "
            "under `kirin serve`, whose /metrics counts its workers)."
        ),
    ] = None,
) -> None:
    """Run one worker process against the configured database and storage."""
    from kirin_api.net.fetch import SafeFetcher
    from kirin_api.worker.engine_registry import build_engines, load_assignments
    from kirin_api.worker.inputs import InputPreparer
    from kirin_api.worker.runner import Worker, WorkerConfig, default_worker_id
    from kirin_api.worker.upload_inputs import UploadInputs

    setup_logging()
    settings = settings_from(data_dir=data_dir)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)
    store = build_store(settings)
    engines = build_engines(load_assignments(settings.engines_file), environ=os.environ)
    storage = build_storage(settings)
    fetcher = SafeFetcher(allow_private=settings.allow_private_networks)
    runner = Worker(
        store,
        storage,
        engines,
        build_pricing(settings),
        WorkerConfig(
            scratch_dir=settings.scratch_dir,
            worker_id=default_worker_id(),
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.max_attempts,
            poll_interval=settings.poll_interval,
            stale_after=settings.worker_stale_seconds,
            version=__version__,
            prefetch_tasks=settings.prefetch_tasks,
            prefetch_bytes=settings.prefetch_bytes,
        ),
        InputPreparer(
            storage,
            fetcher,
            store,
            UploadInputs(store, storage, store.secret("url-signing")),
            fetch_deadline=settings.fetch_deadline_seconds,
        ),
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    _stop_when_parent_dies(stop)
    # Every worker process also delivers callbacks, on threads beside the render loop.
    _start_deliveries(
        settings, store, storage, settings.public_url or DEFAULT_CALLBACK_BASE_URL, stop
    )
    runner.run(stop)


def _stop_when_parent_dies(stop: threading.Event) -> None:
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent:
        return

    def watch() -> None:
        while not stop.wait(1.0):
            if os.getppid() != int(parent):
                stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
