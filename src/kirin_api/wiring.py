"""Builds the parts from settings: the one place that turns configuration into objects."""

from __future__ import annotations

import tomllib

from kirin_api.contract.pricing import PricingTable
from kirin_api.settings import Settings
from kirin_api.storage import BlobStorage, open_storage
from kirin_api.store import TaskStore, open_store


def build_store(settings: Settings) -> TaskStore:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.resolved_database_url)
    store.migrate()
    return store


def build_storage(settings: Settings) -> BlobStorage:
    return open_storage(settings.resolved_storage_url, endpoint_url=settings.s3_endpoint_url)


def build_pricing(settings: Settings) -> PricingTable:
    if settings.pricing_file is None:
        return PricingTable.default(discount=settings.discount)
    data = tomllib.loads(settings.pricing_file.read_text())
    return PricingTable.from_mapping(data, discount=settings.discount)
