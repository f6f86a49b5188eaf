"""What ``kirin serve`` gives uvicorn: the event loop of KIRIN_EVENT_LOOP (the standard library's
by default: it takes a burst of new connections in at once, docs/benchmarks.md)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kirin_api.cli.serve import _uvicorn_options
from kirin_api.settings import Settings


def test_the_standard_librarys_loop_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIRIN_EVENT_LOOP", raising=False)
    assert _uvicorn_options(Settings())["loop"] == "asyncio"


def test_uvloop_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIRIN_EVENT_LOOP", "uvloop")
    assert _uvicorn_options(Settings())["loop"] == "uvloop"


def test_an_unknown_loop_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIRIN_EVENT_LOOP", "tokio")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "event_loop" in str(refused.value)
    assert "'asyncio' or 'uvloop'" in str(refused.value)
