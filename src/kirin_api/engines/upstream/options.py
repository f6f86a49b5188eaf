"""One model's settings for an upstream engine, from its table in ``KIRIN_ENGINES_FILE``::

    [models.kirin_v1_t2v]
    engine = "kling"
    base_url = "https://api-singapore.klingai.com"
    access_key_env = "KLING_ACCESS_KEY"     # names of environment variables, never the secrets
    secret_key_env = "KLING_SECRET_KEY"
    max_concurrent = 5

Secrets are read from the environment when the worker starts; a variable that is not set stops
the worker with a message naming it (the values themselves are never printed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kirin_api.engines.upstream.client import RetryPolicy

UPSTREAM_ENGINES = ("kling", "kirin")
_SECRET_NAMES = {"kling": ("access_key_env", "secret_key_env"), "kirin": ("api_key_env",)}
_NUMBERS = {
    "poll_interval": (0.05, 600.0),
    "max_poll_interval": (0.05, 3600.0),
    "timeout_seconds": (1.0, 7 * 24 * 3600.0),
    "retry_seconds": (0.0, 24 * 3600.0),
    "defer_seconds": (0.1, 3600.0),
}
OPTION_NAMES = frozenset(
    {"base_url", "model_name", "max_concurrent", "forward_private_urls", "timeout", *_NUMBERS}
    | {name for names in _SECRET_NAMES.values() for name in names}
)


class UpstreamConfigError(ValueError):
    """An upstream engine's table is malformed or names a variable that is not set."""


@dataclass(frozen=True)
class UpstreamOptions:
    engine: str
    model: str
    base_url: str
    # The secrets, read from the variables the table names (never logged).
    secrets: dict[str, str]
    # The variables they came from, to name in messages for the operator.
    secret_env: tuple[str, ...]
    model_name: str | None = None
    max_concurrent: int | None = None
    forward_private_urls: bool = False
    poll_interval: float = 2.0
    max_poll_interval: float = 30.0
    timeout_seconds: float = 3600.0
    retry_seconds: float = 60.0
    defer_seconds: float = 10.0
    timeout: float = 30.0

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(total=self.retry_seconds)


def parse_options(
    engine: str, model: str, table: Mapping[str, Any], environ: Mapping[str, str], *, alone: bool
) -> UpstreamOptions:
    """The options of ``engine`` in ``model``'s table. ``alone``: the table names no other
    engine, so a key this engine does not know is a mistake (with a chain of engines, each
    reads its own keys)."""
    where = f"[models.{model}] ({engine})"
    table = {k: v for k, v in table.items() if k not in ("engine", "engines")}
    if alone:
        unknown = sorted(set(table) - OPTION_NAMES)
        if unknown:
            raise UpstreamConfigError(
                f"{where} unknown options {unknown}; known: {', '.join(sorted(OPTION_NAMES))}"
            )
    base_url = table.get("base_url")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise UpstreamConfigError(f"{where} base_url must be an http(s) URL; got {base_url!r}")
    secrets: dict[str, str] = {}
    names: list[str] = []
    for option in _SECRET_NAMES[engine]:
        variable = table.get(option)
        if not isinstance(variable, str) or not variable:
            raise UpstreamConfigError(
                f"{where} {option} must name the environment variable that holds the secret"
            )
        value = environ.get(variable)
        if not value:
            raise UpstreamConfigError(f"{where} the environment variable {variable} is not set")
        secrets[option.removesuffix("_env")] = value
        names.append(variable)
    values: dict[str, Any] = {}
    for option, (low, high) in _NUMBERS.items():
        if option in table:
            values[option] = _number(where, option, table[option], low, high)
    if "timeout" in table:
        values["timeout"] = _number(where, "timeout", table["timeout"], 1.0, 600.0)
    limit = table.get("max_concurrent")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise UpstreamConfigError(f"{where} max_concurrent must be an integer >= 1; got {limit!r}")
    model_name = table.get("model_name")
    if model_name is not None and not isinstance(model_name, str):
        raise UpstreamConfigError(f"{where} model_name must be a string")
    forward = table.get("forward_private_urls", False)
    if not isinstance(forward, bool):
        raise UpstreamConfigError(f"{where} forward_private_urls must be true or false")
    return UpstreamOptions(
        engine=engine,
        model=model,
        base_url=base_url.rstrip("/"),
        secrets=secrets,
        secret_env=tuple(names),
        model_name=model_name,
        max_concurrent=limit,
        forward_private_urls=forward,
        **values,
    )


def _number(where: str, option: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise UpstreamConfigError(f"{where} {option} must be a number in {low}..{high}")
    return float(value)
