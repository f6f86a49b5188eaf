"""The engines file's options of the upstream engines: secrets from named variables, never
printed; unknown options and bad values refused."""

from __future__ import annotations

from typing import Any

import pytest

from kirin_api.engines.upstream.options import UpstreamConfigError, parse_options
from tests.unit.engines.upstream.common import (
    ACCESS_ENV,
    ACCESS_KEY,
    KLING_ENV,
    KLING_TABLE,
    SECRET_ENV,
    SECRET_KEY,
)

# --- the engines file's options ------------------------------------------------------------------


def kling_options(**changes: Any) -> dict[str, Any]:
    return {**KLING_TABLE, **changes}


def test_parse_options_reads_the_secrets_from_the_named_variables() -> None:
    options = parse_options("kling", "kirin_v1_t2v", KLING_TABLE, KLING_ENV, alone=True)
    assert options.secrets == {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
    assert options.secret_env == (ACCESS_ENV, SECRET_ENV)
    assert options.base_url == "https://api-singapore.klingai.com"
    assert options.max_concurrent == 5


def test_parse_options_names_a_missing_variable_without_printing_secrets() -> None:
    environ = {ACCESS_ENV: ACCESS_KEY}
    with pytest.raises(UpstreamConfigError) as caught:
        parse_options("kling", "kirin_v1_t2v", KLING_TABLE, environ, alone=True)
    message = str(caught.value)
    assert SECRET_ENV in message
    assert ACCESS_KEY not in message
    assert SECRET_KEY not in message


def test_parse_options_refuses_an_unknown_option_when_alone() -> None:
    table = kling_options(num_steps=30)
    with pytest.raises(UpstreamConfigError, match="num_steps"):
        parse_options("kling", "kirin_v1_t2v", table, KLING_ENV, alone=True)


def test_parse_options_leaves_other_engines_options_to_them_in_a_chain() -> None:
    table = kling_options(engines=["diffusers", "kling"], num_steps=30)
    options = parse_options("kling", "kirin_v1_t2v", table, KLING_ENV, alone=False)
    assert options.engine == "kling"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("base_url", "ftp://api.klingai.com"),
        ("base_url", None),
        ("max_concurrent", 0),
        ("max_concurrent", "5"),
        ("max_concurrent", True),
        ("poll_interval", 0.0),
        ("poll_interval", 601),
        ("poll_interval", "2"),
        ("forward_private_urls", "yes"),
    ],
    ids=lambda value: repr(value),
)
def test_parse_options_refuses_a_bad_value(option: str, value: Any) -> None:
    with pytest.raises(UpstreamConfigError, match=option):
        parse_options(
            "kling", "kirin_v1_t2v", kling_options(**{option: value}), KLING_ENV, alone=True
        )
