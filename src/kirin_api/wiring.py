"""Builds the parts from settings: the one place that turns configuration into objects."""

from __future__ import annotations

import os
import tomllib

from kirin_api.contract.keypairs import SecretSealer, generate_server_key
from kirin_api.contract.pricing import PricingTable
from kirin_api.server import submission_batch
from kirin_api.settings import Settings
from kirin_api.storage import BlobStorage, open_storage
from kirin_api.store import TaskStore, open_store

# Threads of a process that use the store beside the API's threadpool: callback deliveries,
# the watchdog, and a spare.
BACKGROUND_THREADS = 4
# Threads of an API process that create submitted tasks, a batch each.
SUBMISSION_THREADS = submission_batch.THREADS


def build_store(settings: Settings) -> TaskStore:
    """The store, migrated, its pool sized for the API's threads, its submission threads and the
    background ones (and, on PostgreSQL, the API's reads on its event loop)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(
        settings.resolved_database_url,
        pool_size=settings.api_threads + SUBMISSION_THREADS + BACKGROUND_THREADS,
        read_connections=settings.api_read_connections,
    )
    store.migrate()
    return store


def build_storage(settings: Settings) -> BlobStorage:
    return open_storage(settings.resolved_storage_url, endpoint_url=settings.s3_endpoint_url)


def build_pricing(settings: Settings) -> PricingTable:
    if settings.pricing_file is None:
        return PricingTable.default(discount=settings.discount)
    data = tomllib.loads(settings.pricing_file.read_text())
    return PricingTable.from_mapping(data, discount=settings.discount)


# The server secret key of a data dir whose settings give none (KIRIN_SECRET_KEY).
SECRET_KEY_FILE = "secret-key"  # noqa: S105 - a file name


def build_sealer(settings: Settings) -> SecretSealer:
    """Seals and opens access-key pairs' secrets with the server secret key: KIRIN_SECRET_KEY,
    else one made once and kept (mode 0600) in the data dir; KIRIN_PREVIOUS_SECRET_KEYS still
    open what they sealed."""
    if settings.secret_key is not None:
        current = settings.secret_key.get_secret_value()
    else:
        current = _data_dir_secret_key(settings)
    previous = settings.previous_secret_keys
    older = [k.strip() for k in (previous.get_secret_value() if previous else "").split(",")]
    return SecretSealer([current, *(key for key in older if key)])


def _data_dir_secret_key(settings: Settings) -> str:
    path = settings.data_dir / SECRET_KEY_FILE
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Written whole to a file of its own, then linked into place: a process starting at the
        # same time never reads a half-written key, and the first one to link wins.
        draft = path.with_name(f".{SECRET_KEY_FILE}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(generate_server_key() + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
