"""Upstream engines: the gateway to the official Kling API (``kling``) or to any server of the
Kirin contract (``kirin``). See ``relay`` for the flow and docs/gateway.md for the engines file."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kirin_api.engines.upstream.client import UpstreamClient
from kirin_api.engines.upstream.kirin import KirinDialect
from kirin_api.engines.upstream.kirin import classify as classify_kirin
from kirin_api.engines.upstream.kling import KlingDialect
from kirin_api.engines.upstream.kling import classify as classify_kling
from kirin_api.engines.upstream.options import (
    OPTION_NAMES,
    UPSTREAM_ENGINES,
    UpstreamConfigError,
    parse_options,
)
from kirin_api.engines.upstream.relay import UpstreamEngine

__all__ = [
    "OPTION_NAMES",
    "UPSTREAM_ENGINES",
    "UpstreamConfigError",
    "UpstreamEngine",
    "build_upstream_engine",
]


def build_upstream_engine(
    engine: str,
    model: str,
    table: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    alone: bool = True,
    on_outcome: Callable[[str, str], None] = lambda engine, outcome: None,
) -> UpstreamEngine:
    """The ``engine`` (``kling`` or ``kirin``) of ``model``'s table; UpstreamConfigError if
    the table is malformed or a secret's variable is not set."""
    options = parse_options(engine, model, table, environ, alone=alone)
    if engine == "kling":
        dialect: KlingDialect | KirinDialect = KlingDialect(
            options.secrets["access_key"], options.secrets["secret_key"], options.model_name, model
        )
        classify = classify_kling
    else:
        dialect = KirinDialect(options.secrets["api_key"])
        classify = classify_kirin
    client = UpstreamClient(
        options.base_url,
        classify,
        timeout=options.timeout,
        retry=options.retry,
        on_outcome=lambda outcome: on_outcome(engine, outcome),
    )
    return UpstreamEngine(options, dialect, client)
