"""What ``kirin serve`` gives uvicorn: the event loop of KIRIN_EVENT_LOOP (by default the standard
library's for one API process, which takes a burst of new connections in at once; uvloop for
several, where each takes its share of a burst: docs/operations.md), and an HTTP protocol that
turns Nagle's algorithm off on every connection."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from pydantic import ValidationError

from kirin_api.cli.serve import _uvicorn_options
from kirin_api.settings import Settings


def test_by_default_the_standard_librarys_loop_for_one_process_uvloop_for_several(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KIRIN_EVENT_LOOP", raising=False)
    assert _uvicorn_options(Settings(api_processes=1))["loop"] == "asyncio"
    assert _uvicorn_options(Settings(api_processes=3))["loop"] == "uvloop"
    monkeypatch.setenv("KIRIN_EVENT_LOOP", "asyncio")
    assert _uvicorn_options(Settings(api_processes=3))["loop"] == "asyncio"


def test_uvloop_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIRIN_EVENT_LOOP", "uvloop")
    assert _uvicorn_options(Settings())["loop"] == "uvloop"


def test_an_unknown_loop_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIRIN_EVENT_LOOP", "tokio")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "event_loop" in str(refused.value)
    assert "'auto', 'asyncio' or 'uvloop'" in str(refused.value)


def test_every_connection_has_nagles_algorithm_off_even_on_a_listener_of_proto_zero() -> None:
    # uvicorn's supervisor (N API processes) opens its listening socket as socket.socket(family),
    # so proto is 0 and the standard library's loop does not set TCP_NODELAY on what it accepts.
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from kirin_api.cli.uvicorn_server import NoDelayHttpToolsProtocol

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = Config(app, http=NoDelayHttpToolsProtocol, lifespan="off", log_config=None)
    config.load()
    state = ServerState()
    seen: list[int] = []

    class Recording(NoDelayHttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    async def main() -> None:
        listener = socket.socket(socket.AF_INET)
        listener.bind(("127.0.0.1", 0))
        assert listener.proto == 0
        server = await asyncio.get_running_loop().create_server(
            lambda: Recording(config, state, {}), sock=listener
        )
        reader, writer = await asyncio.open_connection(*listener.getsockname())
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await reader.readline()).startswith(b"HTTP/1.1 204")
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())  # the standard library's loop
    assert seen == [1]
