"""SafeFetcher against hostile URLs, a real loopback server, and recording transports.

Network rule of these tests: traffic goes to loopback only. An autouse fixture makes every
``socket.connect`` to a non-loopback address (and every DNS lookup of a name other than
``localhost``) fail the test, so a fetcher bug cannot leak a packet: "public" addresses are
only ever handed to an injected ``httpx.MockTransport``, which records the pinned target and
never opens a socket.
"""

from __future__ import annotations

import http.server
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kirin_api.net.addresses import blocked_reason, parse_ip_host
from kirin_api.net.fetch import FetchError, SafeFetcher

MB = 1024 * 1024
PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:4700::1111"


# -- guards: loopback only ---------------------------------------------------------------------


def _is_loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"test tried to connect to {address!r}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"test tried to connect to {address!r}")
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("localhost", b"localhost") and not _is_loopback(host):
            raise AssertionError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# -- the loopback server -----------------------------------------------------------------------


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hits: list[str] = []
        self.sent: dict[str, int] = {}
        self.done = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        path = self.path
        if path == "/ok":
            self._reply(200, b"hello world", {"Content-Type": "image/png"})
        elif path.startswith("/r/"):  # /r/N: N redirects, then /ok
            n = int(path[3:])
            self._reply(302, headers={"Location": "/ok" if n == 0 else f"/r/{n - 1}"})
        elif path == "/relative":
            self._reply(301, headers={"Location": "ok"})
        elif path == "/loop":
            self._reply(302, headers={"Location": "/loop"})
        elif path == "/no-location":
            self._reply(302)
        elif path == "/to-metadata":
            self._reply(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
        elif path == "/to-file":
            self._reply(302, headers={"Location": "file:///etc/passwd"})
        elif path == "/404":
            self._reply(404, b"nope")
        elif path == "/500":
            self._reply(500, b"boom")
        elif path == "/cl":  # declares far more than the cap
            self.send_response(200)
            self.send_header("Content-Length", str(500 * MB))
            self.end_headers()
            self.wfile.write(b"x" * 1024)
        elif path == "/gzip":
            self._reply(200, b"\x1f\x8b" + b"\x00" * 20, {"Content-Encoding": "gzip"})
        elif path == "/big":  # no Content-Length: the cap must bite while streaming
            self._stream(64 * MB)
        elif path == "/drip":
            self._drip(body=True)
        elif path == "/drip-headers":
            self._drip(body=False)
        else:
            self._reply(404)

    def _stream(self, total: int) -> None:
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        chunk = b"x" * (64 * 1024)
        try:
            while sent < total:
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            self.server.sent[self.path] = sent
            self.server.done.set()

    def _drip(self, *, body: bool) -> None:
        try:
            if body:
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.flush()
                for _ in range(1000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            else:
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.05)
        except OSError:
            pass
        finally:
            self.server.done.set()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


# -- resolvers and recording transports ----------------------------------------------------------


def table_resolver(table: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise AssertionError(f"unexpected lookup of {host!r}")
        return table[host]

    return resolve


NAMES = {
    "private.example": ["10.0.0.5"],
    "mixed.example": [PUBLIC_V4, "127.0.0.1"],
    "mixed-v6.example": [PUBLIC_V6, "fe80::1"],
    "loopback6.example": ["::1"],
    "metadata.example": ["169.254.169.254"],
    "public.example": [PUBLIC_V4],
}


class Recorder:
    """An httpx transport that answers from a function and records what it was asked."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"public body", headers={"Content-Type": "image/jpeg"})


# -- hostile URLs: refused, and the loopback server never hears of them ---------------------------

HOSTILE: list[tuple[str, str]] = [
    ("http://127.0.0.1:{port}/ok", "address"),
    ("http://localhost:{port}/ok", "address"),  # the real system resolver, /etc/hosts
    ("http://0x7f.1:{port}/ok", "address"),
    ("http://2130706433:{port}/ok", "address"),
    ("http://127.1:{port}/ok", "address"),
    ("http://0177.0.0.1:{port}/ok", "invalid_url"),  # httpx refuses it before we see it
    ("http://0x7f.0.0.1:{port}/ok", "address"),
    ("http://127.0.0.1.:{port}/ok", "address"),
    ("http://[::1]:{port}/ok", "address"),
    ("http://[::ffff:127.0.0.1]:{port}/ok", "address"),
    ("http://[::ffff:7f00:1]:{port}/ok", "address"),
    ("http://[::127.0.0.1]:{port}/ok", "address"),  # IPv4-compatible
    ("http://169.254.169.254/latest/meta-data/", "address"),
    ("http://[::ffff:169.254.169.254]/latest/meta-data/", "address"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "address"),
    ("http://100.100.100.200/latest/meta-data/", "address"),
    ("http://10.0.0.1/", "address"),
    ("http://172.16.0.1/", "address"),
    ("http://192.168.1.1/", "address"),
    ("http://100.64.0.1/", "address"),
    ("http://192.0.2.1/", "address"),
    ("http://0.0.0.0:{port}/ok", "address"),
    ("http://0:{port}/ok", "address"),
    ("http://[::]:{port}/ok", "address"),
    ("http://224.0.0.1/", "address"),
    ("http://255.255.255.255/", "address"),
    ("http://[ff02::1]/", "address"),
    ("http://[fe80::1]/", "address"),
    ("http://[fe80::1%25eth0]/", "host"),
    ("http://[2002:7f00:1::]:{port}/ok", "address"),  # 6to4 around 127.0.0.1
    ("http://[64:ff9b::7f00:1]:{port}/ok", "address"),  # NAT64 around 127.0.0.1
    ("http://[64:ff9b:1::1]/", "address"),  # local-use NAT64
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "address"),  # Teredo
    ("http://1.2.3.4.5/", "host"),
    ("http://256.1/", "host"),
    ("https://127.0.0.1:{port}/ok", "address"),
    ("file:///etc/passwd", "scheme"),
    ("ftp://127.0.0.1:{port}/ok", "scheme"),
    ("gopher://127.0.0.1:{port}/_GET%20/ok", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("data:text/plain,hello", "scheme"),
    ("http://user:pass@public.example/", "userinfo"),
    ("http://user@127.0.0.1:{port}/ok", "userinfo"),
    ("http:///ok", "host"),
    ("http://exa%20mple.com/", "host"),
    ("http://private.example:{port}/ok", "address"),
    ("http://mixed.example:{port}/ok", "address"),
    ("http://mixed-v6.example/", "address"),
    ("http://loopback6.example:{port}/ok", "address"),
    ("http://metadata.example/latest/meta-data/", "address"),
]


@pytest.mark.parametrize(("template", "reason"), HOSTILE)
def test_hostile_url_is_refused(server: Server, template: str, reason: str) -> None:
    url = template.format(port=server.port)
    resolver = None if "localhost" in url else table_resolver(NAMES)
    fetcher = SafeFetcher(resolver=resolver, timeout=5)
    with pytest.raises(FetchError) as info:
        fetcher.fetch(url, max_bytes=MB, param="image_url")
    assert info.value.reason == reason, info.value.message
    assert info.value.param == "image_url"
    assert info.value.message.startswith("image_url: ")
    assert server.hits == []


def test_refusal_message_names_address_and_reason() -> None:
    with pytest.raises(FetchError) as info:
        SafeFetcher().fetch("http://127.0.0.1/x", max_bytes=MB, param="image_url")
    assert info.value.message == "image_url: refused address 127.0.0.1 (loopback)"


def test_hostile_list_is_long_enough() -> None:
    assert len(HOSTILE) >= 30


def test_one_private_answer_refuses_the_host_before_any_request() -> None:
    recorder = Recorder(ok)
    fetcher = SafeFetcher(resolver=table_resolver(NAMES), transport=recorder.transport)
    with pytest.raises(FetchError, match=r"refused address 127\.0\.0\.1 \(for mixed\.example\)"):
        fetcher.fetch("http://mixed.example/a.png", max_bytes=MB, param="image")
    assert recorder.requests == []


# -- pinning -----------------------------------------------------------------------------------


def test_connection_is_pinned_to_the_checked_address_against_rebinding() -> None:
    answers = iter([[PUBLIC_V4], ["127.0.0.1"], ["127.0.0.1"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    recorder = Recorder(ok)
    fetcher = SafeFetcher(resolver=rebinding, transport=recorder.transport)
    result = fetcher.fetch("http://rebind.example/a.png", max_bytes=MB, param="image")
    assert calls == ["rebind.example"]  # resolved once
    (request,) = recorder.requests
    assert request.url.host == PUBLIC_V4  # sent to the checked address ...
    assert request.headers["host"] == "rebind.example"  # ... for the name
    assert result.address == PUBLIC_V4
    assert result.final_url == "http://rebind.example/a.png"
    assert result.data == b"public body"


def test_https_pins_the_ip_and_keeps_sni_and_host_for_the_name() -> None:
    recorder = Recorder(ok)
    fetcher = SafeFetcher(
        resolver=table_resolver({"cdn.example": [PUBLIC_V6]}), transport=recorder.transport
    )
    fetcher.fetch("https://cdn.example:8443/v.mp4?sig=1#frag", max_bytes=MB, param="video_url")
    (request,) = recorder.requests
    assert request.url.scheme == "https"
    assert request.url.host == PUBLIC_V6
    assert request.url.port == 8443
    assert request.url.raw_path == b"/v.mp4?sig=1"
    assert request.headers["host"] == "cdn.example:8443"
    assert request.extensions["sni_hostname"] == "cdn.example"
    assert request.headers["accept-encoding"] == "identity"


def test_https_to_an_ip_literal_sends_no_sni_name() -> None:
    recorder = Recorder(ok)
    SafeFetcher(transport=recorder.transport).fetch(
        f"https://{PUBLIC_V4}/x", max_bytes=MB, param="image"
    )
    (request,) = recorder.requests
    assert "sni_hostname" not in request.extensions
    assert request.headers["host"] == PUBLIC_V4


def test_connect_falls_back_to_the_next_checked_address(server: Server) -> None:
    # 127.0.0.2 is loopback too, but nothing listens there: the fetcher must try 127.0.0.1.
    fetcher = SafeFetcher(
        allow_private=True, resolver=table_resolver({"two.example": ["127.0.0.2", "127.0.0.1"]})
    )
    result = fetcher.fetch(f"http://two.example:{server.port}/ok", max_bytes=MB, param="image")
    assert result.address == "127.0.0.1"
    assert server.hits == ["/ok"]


# -- redirects ---------------------------------------------------------------------------------


def redirect_to(location: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(302, headers={"Location": location})


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://127.0.0.1:{port}/ok", "address"),
        ("http://169.254.169.254/latest/meta-data/", "address"),
        ("http://[::1]:{port}/ok", "address"),
        ("http://private.example:{port}/ok", "address"),
        ("//127.0.0.1:{port}/ok", "address"),  # scheme-relative
        ("file:///etc/passwd", "scheme"),
        ("http://user:pw@public.example/", "userinfo"),
    ],
)
def test_redirect_from_a_public_host_to_a_refused_url(
    server: Server, location: str, reason: str
) -> None:
    recorder = Recorder(redirect_to(location.format(port=server.port)))
    fetcher = SafeFetcher(resolver=table_resolver(NAMES), transport=recorder.transport)
    with pytest.raises(FetchError) as info:
        fetcher.fetch("http://public.example/a.png", max_bytes=MB, param="image_url")
    assert info.value.reason == reason
    assert len(recorder.requests) == 1
    assert recorder.requests[0].url.host == PUBLIC_V4
    assert server.hits == []


def test_allowed_loopback_server_cannot_redirect_to_metadata(server: Server) -> None:
    fetcher = SafeFetcher(allow_private=True)
    with pytest.raises(FetchError, match=r"169\.254\.169\.254 \(cloud metadata\)") as info:
        fetcher.fetch(server.url("/to-metadata"), max_bytes=MB, param="image_url")
    assert info.value.reason == "address"
    assert server.hits == ["/to-metadata"]


def test_allowed_loopback_server_cannot_redirect_to_file(server: Server) -> None:
    with pytest.raises(FetchError) as info:
        SafeFetcher(allow_private=True).fetch(server.url("/to-file"), max_bytes=MB, param="image")
    assert info.value.reason == "scheme"


def test_five_redirects_are_followed_six_are_not(server: Server) -> None:
    fetcher = SafeFetcher(allow_private=True)
    result = fetcher.fetch(server.url("/r/4"), max_bytes=MB, param="image")  # 5 redirects
    assert result.data == b"hello world"
    server.hits.clear()
    with pytest.raises(FetchError, match="more than 5 redirects") as info:
        fetcher.fetch(server.url("/r/5"), max_bytes=MB, param="image")
    assert info.value.reason == "redirect"
    assert len(server.hits) == 6


def test_redirect_loop_stops(server: Server) -> None:
    with pytest.raises(FetchError) as info:
        SafeFetcher(allow_private=True).fetch(server.url("/loop"), max_bytes=MB, param="image")
    assert info.value.reason == "redirect"
    assert len(server.hits) == 6


def test_redirect_without_location(server: Server) -> None:
    with pytest.raises(FetchError, match="without a Location") as info:
        SafeFetcher(allow_private=True).fetch(
            server.url("/no-location"), max_bytes=MB, param="image"
        )
    assert info.value.reason == "redirect"


# -- statuses, sizes, deadline -----------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 500])
def test_non_2xx_status(server: Server, status: int) -> None:
    with pytest.raises(FetchError) as info:
        SafeFetcher(allow_private=True).fetch(
            server.url(f"/{status}"), max_bytes=MB, param="video_url"
        )
    assert info.value.message == f"video_url: HTTP {status}"
    assert info.value.reason == "status"


def test_streamed_body_over_the_cap_stops_early(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "big.bin"
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        SafeFetcher(allow_private=True).fetch(
            server.url("/big"), max_bytes=MB, param="image", dest=dest
        )
    assert info.value.message == "image: larger than 1 MB"
    assert info.value.reason == "too_large"
    assert not dest.exists()  # no half file left behind
    assert server.done.wait(10)
    # The server wanted to send 64 MB; socket buffers let it get a few MB ahead at most.
    assert server.sent["/big"] < 16 * MB
    assert time.monotonic() - started < 10


def test_content_length_over_the_cap_is_refused_up_front(server: Server) -> None:
    with pytest.raises(FetchError) as info:
        SafeFetcher(allow_private=True).fetch(server.url("/cl"), max_bytes=10 * MB, param="image")
    assert info.value.message == "image: larger than 10 MB"
    assert info.value.reason == "too_large"


def test_compressed_reply_is_refused(server: Server) -> None:
    with pytest.raises(FetchError) as info:
        SafeFetcher(allow_private=True).fetch(server.url("/gzip"), max_bytes=MB, param="image")
    assert info.value.reason == "protocol"


@pytest.mark.parametrize("path", ["/drip", "/drip-headers"])
def test_overall_deadline_cuts_a_dripping_server(server: Server, path: str) -> None:
    # Each byte comes well within any per-read timeout; only an overall deadline stops this.
    fetcher = SafeFetcher(allow_private=True, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetcher.fetch(server.url(path), max_bytes=MB, param="video_url")
    elapsed = time.monotonic() - started
    assert info.value.message == "video_url: timed out after 1 s"
    assert info.value.reason == "timeout"
    assert elapsed < 2.0


def test_slow_resolver_counts_against_the_deadline() -> None:
    def slow(host: str, port: int) -> list[str]:
        time.sleep(3)
        return [PUBLIC_V4]

    recorder = Recorder(ok)
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        SafeFetcher(resolver=slow, transport=recorder.transport, timeout=0.3).fetch(
            "http://slow.example/", max_bytes=MB, param="image"
        )
    assert info.value.reason == "timeout"
    assert time.monotonic() - started < 1.5
    assert recorder.requests == []


def test_resolver_failure_is_a_fetch_error() -> None:
    def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(FetchError) as info:
        SafeFetcher(resolver=failing).fetch("http://nx.example/", max_bytes=MB, param="image")
    assert info.value.reason == "resolve"


def test_connection_refused_is_a_fetch_error() -> None:
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as info:
        SafeFetcher(allow_private=True).fetch(
            f"http://127.0.0.1:{port}/", max_bytes=MB, param="image"
        )
    assert info.value.reason == "connect"


# -- passing cases ------------------------------------------------------------------------------


def test_allowed_loopback_fetch(server: Server) -> None:
    result = SafeFetcher(allow_private=True).fetch(server.url("/ok"), max_bytes=MB, param="image")
    assert result.data == b"hello world"
    assert result.size == 11
    assert result.content_type == "image/png"
    assert result.final_url == server.url("/ok")
    assert result.path is None


def test_allowed_localhost_by_name_with_the_system_resolver(server: Server) -> None:
    url = f"http://localhost:{server.port}/ok"
    result = SafeFetcher(allow_private=True).fetch(url, max_bytes=MB, param="image")
    assert result.data == b"hello world"
    assert result.final_url == url


def test_allowed_redirect_chain_of_three(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "out.bin"
    result = SafeFetcher(allow_private=True).fetch(
        server.url("/r/2"), max_bytes=MB, param="image", dest=dest
    )
    assert server.hits == ["/r/2", "/r/1", "/r/0", "/ok"]
    assert result.final_url == server.url("/ok")
    assert result.data is None
    assert result.path == dest
    assert dest.read_bytes() == b"hello world"


def test_relative_location(server: Server) -> None:
    result = SafeFetcher(allow_private=True).fetch(
        server.url("/relative"), max_bytes=MB, param="image"
    )
    assert result.final_url == server.url("/ok")


def test_body_exactly_at_the_cap_passes(server: Server) -> None:
    result = SafeFetcher(allow_private=True).fetch(server.url("/ok"), max_bytes=11, param="image")
    assert result.size == 11


def test_allow_private_keeps_scheme_and_userinfo_rules(server: Server) -> None:
    fetcher = SafeFetcher(allow_private=True)
    for url, reason in [
        (f"ftp://127.0.0.1:{server.port}/ok", "scheme"),
        (f"http://u:p@127.0.0.1:{server.port}/ok", "userinfo"),
        ("http://169.254.169.254/", "address"),
        ("http://[fd00:ec2::254]/", "address"),
        ("http://0.0.0.0/", "address"),
    ]:
        with pytest.raises(FetchError) as info:
            fetcher.fetch(url, max_bytes=MB, param="image")
        assert info.value.reason == reason
    assert server.hits == []


# -- the address rules on their own ------------------------------------------------------------


def _spellings(value: int) -> list[str]:
    a, b, c, d = value.to_bytes(4, "big")
    return [
        f"{a}.{b}.{c}.{d}",
        str(value),
        hex(value),
        f"0{value:o}",
        f"{a}.{value & 0xFFFFFF}",
        f"{a}.{b}.{value & 0xFFFF}",
        f"{hex(a)}.0{b:o}.{c}.{hex(d)}",
        f"{a}.{b}.{c}.{d}.",
    ]


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_ipv4_spelling_normalises_to_what_inet_aton_reads(value: int) -> None:
    expected = ipaddress.IPv4Address(value)
    for spelling in _spellings(value):
        assert parse_ip_host(spelling) == expected, spelling
        if not spelling.endswith("."):
            assert socket.inet_aton(spelling) == expected.packed, spelling


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_wrapped_ipv4_is_judged_by_the_ipv4_inside(value: int) -> None:
    inner = ipaddress.IPv4Address(value)
    inner_blocked = blocked_reason(inner) is not None
    for wrapped in (
        f"::ffff:{inner}",
        f"64:ff9b::{inner}",
        f"2002:{value >> 16:x}:{value & 0xFFFF:x}::",
    ):
        ip = ipaddress.IPv6Address(wrapped)
        assert (blocked_reason(ip) is not None) == inner_blocked, wrapped


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", PUBLIC_V4, "1.1.1.1", PUBLIC_V6, "2a00:1450:4001:82b::200e", "64:ff9b::808:808"],
)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "host", ["example.com", "1.2.3.example", "a-b.c_d.example", "xn--bcher-kva.example"]
)
def test_names_are_not_addresses(host: str) -> None:
    assert parse_ip_host(host) is None


@pytest.mark.parametrize("host", ["08.1", "256.1", "1.16777216", "1.2.3.4.5", "09", "fe80::1%eth0"])
def test_malformed_numeric_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match=r"zone|malformed"):
        parse_ip_host(host)


# -- TLS: pinned to the IP, verified for the name ----------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for media.example (made with the openssl command)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=media.example"),
            *("-addext", "subjectAltName=DNS:media.example"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[Server]:
    cert, key = certificate
    srv = Server()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _trusting(cert: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    assert context.check_hostname
    return context


def test_https_to_the_pinned_ip_verifies_the_certificate_for_the_name(
    tls_server: Server, certificate: tuple[Path, Path]
) -> None:
    fetcher = SafeFetcher(
        allow_private=True,
        resolver=table_resolver({"media.example": ["127.0.0.1"]}),
        ssl_context=_trusting(certificate[0]),
    )
    url = f"https://media.example:{tls_server.port}/ok"
    result = fetcher.fetch(url, max_bytes=MB, param="image_url")
    assert result.data == b"hello world"
    assert result.address == "127.0.0.1"
    assert result.final_url == url


def test_https_certificate_for_another_name_is_refused(
    tls_server: Server, certificate: tuple[Path, Path]
) -> None:
    fetcher = SafeFetcher(
        allow_private=True,
        resolver=table_resolver({"other.example": ["127.0.0.1"]}),
        ssl_context=_trusting(certificate[0]),
    )
    with pytest.raises(FetchError) as info:
        fetcher.fetch(f"https://other.example:{tls_server.port}/ok", max_bytes=MB, param="image")
    assert info.value.reason == "tls"
    assert tls_server.hits == []


def test_https_with_an_untrusted_certificate_is_refused(tls_server: Server) -> None:
    fetcher = SafeFetcher(
        allow_private=True, resolver=table_resolver({"media.example": ["127.0.0.1"]})
    )
    with pytest.raises(FetchError) as info:
        fetcher.fetch(f"https://media.example:{tls_server.port}/ok", max_bytes=MB, param="image")
    assert info.value.reason == "tls"
    assert tls_server.hits == []
