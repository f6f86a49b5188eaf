"""The one SSRF-safe fetcher for URLs that users give us: input media (``fetch``) and webhook
deliveries (``post``, which follows no redirect and returns any status).

What :meth:`SafeFetcher.fetch` guarantees, for every hop of a redirect chain:

- only ``http``/``https``; no userinfo (``user:pass@``); the host is a DNS name of plain labels
  or an IP literal. IPv4 in odd spellings (``0x7f.1``, ``2130706433``, ``127.1``,
  ``0177.0.0.1``, a trailing dot) is normalised before it is checked, and a host that looks
  numeric but is not a valid address is refused, never resolved (:mod:`.addresses`).
  Any port is allowed: the address check is what keeps us off internal services, and public
  media servers do live on odd ports.
- a name is resolved **once**; **every** answer is checked (one private answer refuses the
  host, which defeats "public + private" DNS answers), and the connection is **pinned** to a
  checked address: the request goes to the IP itself with the original ``Host`` header and, for
  https, the ``sni_hostname`` request extension, so TLS sends SNI for the name and verifies the
  certificate against the name. Nothing resolves the name again behind our back, which defeats
  DNS rebinding. If the first address refuses the connection, the next checked one is tried.
- redirects (301, 302, 303, 307, 308) are followed by hand, at most ``max_redirects``; each
  ``Location`` is resolved against the current URL and goes through every check above again.
  Another 3xx, or a redirect without ``Location``, is an error; so is any status that is not 2xx.
- the body is streamed with a hard cap: a ``Content-Length`` above the cap is refused before
  reading, and the read stops as soon as the cap is passed. We ask for
  ``Accept-Encoding: identity`` and refuse a compressed reply, so no decompression bomb can
  inflate past the cap between two checks.
- **one** deadline (``timeout`` seconds) covers resolution, connections, TLS, redirects and
  the body. Per-operation timeouts alone cannot bound a server that drips a byte at a time, so a
  watchdog timer shuts the sockets of the fetch down when the deadline passes.
- no proxies from the environment, no cookies, no connection reuse between hops (a pooled
  connection made for one name must not carry a request for another).

``allow_private=True`` (``KIRIN_ALLOW_PRIVATE_NETWORKS``) lifts only the address check, and not
all of it: cloud metadata, unspecified, multicast and broadcast addresses stay refused.

Errors — one exception, :class:`~kirin_api.net.errors.FetchError`, whose ``message`` starts
with the ``param`` (``"image_url: refused address 127.0.0.1 (loopback)"``) and whose ``reason``
says which rule failed (the tree is in :mod:`.errors`); httpx's exceptions are translated here
and nowhere else. An ``OSError`` while writing ``dest`` is ours, not the URL's, and propagates
unchanged. The worker maps :class:`FetchError` to the model's ``...097`` task code.

The fetcher is split by concern: :mod:`.urls` (checks without network), :mod:`.resolve` (DNS
within the deadline), :mod:`.deadline` (the watchdog, and a task's deadline over its URLs'),
:mod:`.errors`, and :mod:`.batch` (a task's inputs fetched at once under one task deadline).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from kirin_api.contract.media import size_text
from kirin_api.net.addresses import IPAddress, blocked_reason, parse_ip_host
from kirin_api.net.deadline import Deadline
from kirin_api.net.errors import FetchError, FetchReason
from kirin_api.net.resolve import Resolver, resolve, system_resolver, timeout_error
from kirin_api.net.urls import MAX_URL_LENGTH, check_url, host_of, parse_url

__all__ = [
    "DEFAULT_USER_AGENT",
    "MAX_URL_LENGTH",
    "FetchError",
    "FetchReason",
    "FetchResult",
    "PostResult",
    "Resolver",
    "SafeFetcher",
    "system_resolver",
]

DEFAULT_USER_AGENT = "kirin-api-fetcher/0.1"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchResult:
    """What a fetch brought back: ``data`` in memory, or ``path`` when a ``dest`` was given."""

    data: bytes | None
    path: Path | None
    content_type: str | None
    final_url: str
    """The URL (after redirects) whose body this is, as the user would write it."""
    size: int
    address: str
    """The IP address the body came from (for logs)."""


@dataclass(frozen=True)
class _Post:
    content: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class PostResult:
    """The answer to :meth:`SafeFetcher.post`: its status (any, 3xx included) and where from."""

    status_code: int
    address: str
    location: str | None = None
    """The ``Location`` of a 3xx (not followed), for the error message."""


@dataclass(frozen=True)
class _Target:
    url: httpx.URL
    host: str  # as the Host header and SNI name carry it
    port: int
    addresses: list[IPAddress]


class SafeFetcher:
    """Fetches user-supplied http(s) URLs without letting them reach what they must not.

    Args:
        allow_private: lift the private/loopback address checks (tests, closed networks).
        resolver: ``(host, port) -> [address, ...]``; :func:`system_resolver` by default.
        transport: an httpx transport to send through (tests inject one that records the pinned
            address and never connects); by default a fresh ``httpx.HTTPTransport`` per hop.
        max_redirects: redirects followed before giving up.
        timeout: seconds for the whole fetch, redirects and body included.
        user_agent: the ``User-Agent`` header.
        ssl_context: verifies servers for the default transport (a private CA in a closed
            network, tests); by default certifi's CAs, with hostname checking on.
    """

    def __init__(
        self,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        transport: httpx.BaseTransport | None = None,
        max_redirects: int = 5,
        timeout: float = 30.0,
        user_agent: str = DEFAULT_USER_AGENT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.resolver: Resolver = resolver or system_resolver
        self.transport = transport
        self.max_redirects = max_redirects
        self.timeout = timeout
        self.user_agent = user_agent
        self._ssl_context = ssl_context

    # -- public --------------------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        max_bytes: int,
        param: str,
        dest: Path | None = None,
        within: Deadline | None = None,
    ) -> FetchResult:
        """GET ``url`` and return its body (in memory, or written to ``dest``).

        ``within``: a deadline this fetch also obeys (its task's); when it passes, or is
        aborted, this fetch's sockets are cut at once.

        Raises:
            FetchError: any rule of the module docstring broken; ``param`` names the field.
        """
        deadline = Deadline(self.timeout, parent=within)
        try:
            return self._fetch(url, max_bytes=max_bytes, param=param, dest=dest, deadline=deadline)
        except httpx.HTTPError as exc:  # anything not translated closer to where it happened
            raise self._translate(exc, param, deadline) from exc
        except FetchError as exc:
            # An error raised because the sockets were cut says what cut them.
            if deadline.passed() and exc.reason in ("protocol", "connect", "timeout"):
                raise self._timeout(param, deadline) from exc
            raise
        finally:
            deadline.close()

    def check_url(self, url: str, *, param: str) -> None:
        """The checks that need no network (:func:`kirin_api.net.urls.check_url`); a name is
        not resolved: :meth:`fetch` and :meth:`post` check again, resolved.

        Raises:
            FetchError: a rule broken; ``param`` names the field.
        """
        check_url(url, param=param, allow_private=self.allow_private)

    def is_public(self, url: str) -> bool:
        """Whether ``url``'s host resolves only to public addresses (whatever
        ``allow_private`` says): an upstream service may then be given the URL to fetch itself."""
        deadline = Deadline(self.timeout)
        try:
            parsed = parse_url(url, "url")
            _, literal, name = host_of(parsed, "url")
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            addresses = (
                [literal]
                if literal is not None
                else resolve(self.resolver, name, port, "url", deadline)
            )
        except FetchError:
            return False
        finally:
            deadline.close()
        return all(blocked_reason(ip, allow_private=False) is None for ip in addresses)

    def post(
        self, url: str, *, content: bytes, headers: Mapping[str, str], param: str
    ) -> PostResult:
        """POST ``content`` to ``url`` once, through every check of :meth:`fetch` (resolved once,
        every answer checked, pinned), within the same one deadline. Redirects are **not**
        followed: a 3xx comes back as it is, like any other status, for the caller to judge.
        The response body is not read.

        Raises:
            FetchError: the URL or its address is refused, or no answer came (connect, TLS,
                timeout, protocol); never for a status.
        """
        deadline = Deadline(self.timeout)
        try:
            target = self._target(parse_url(url, param), param, deadline)
            response, address, transport = self._connect(
                target, param, deadline, _Post(content=content, headers=headers)
            )
            try:
                location = response.headers.get("location")
                return PostResult(response.status_code, address, location)
            finally:
                response.close()
                if transport is not None:
                    transport.close()
        except httpx.HTTPError as exc:
            raise self._translate(exc, param, deadline) from exc
        finally:
            deadline.close()

    # -- one fetch -----------------------------------------------------------------------------

    def _fetch(
        self, url: str, *, max_bytes: int, param: str, dest: Path | None, deadline: Deadline
    ) -> FetchResult:
        current = parse_url(url, param)
        for hop in range(self.max_redirects + 1):
            target = self._target(current, param, deadline)
            response, address, transport = self._connect(target, param, deadline)
            try:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(
                            f"{param}: HTTP {response.status_code} redirect without a Location",
                            param,
                            "redirect",
                        )
                    if hop == self.max_redirects:
                        raise FetchError(
                            f"{param}: more than {self.max_redirects} redirects", param, "redirect"
                        )
                    try:
                        nxt = current.join(location.strip())
                    except httpx.InvalidURL as exc:
                        raise FetchError(
                            f"{param}: invalid redirect Location {location[:200]!r}",
                            param,
                            "invalid_url",
                        ) from exc
                    current = parse_url(str(nxt), param)
                    continue
                if not 200 <= response.status_code < 300:
                    raise FetchError(f"{param}: HTTP {response.status_code}", param, "status")
                return self._read(response, current, address, max_bytes, param, dest, deadline)
            finally:
                response.close()
                if transport is not None:
                    transport.close()
        raise AssertionError("unreachable")  # the loop returns or raises

    def _target(self, url: httpx.URL, param: str, deadline: Deadline) -> _Target:
        """The checked addresses to connect to for ``url``: its literal IP, or its name resolved."""
        host, literal, name = host_of(url, param)
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = (
            [literal]
            if literal is not None
            else resolve(self.resolver, name, port, param, deadline)
        )
        for ip in addresses:
            reason = blocked_reason(ip, allow_private=self.allow_private)
            if reason is not None:
                # One bad answer refuses the host: a name that mixes public and private answers
                # is a rebinding setup, and we never want to pick among them.
                where = f"address {ip}" if literal is not None else f"address {ip} (for {host})"
                raise FetchError(f"{param}: refused {where} ({reason})", param, "address")
        return _Target(url=url, host=host, port=port, addresses=addresses)

    def _resolve(self, name: str, port: int, param: str, deadline: Deadline) -> list[IPAddress]:
        return resolve(self.resolver, name, port, param, deadline)

    def _connect(
        self, target: _Target, param: str, deadline: Deadline, post: _Post | None = None
    ) -> tuple[httpx.Response, str, httpx.BaseTransport | None]:
        """Send the GET (or ``post``) to the first checked address that accepts; the response is
        streaming. Moving on to the next address is safe for a POST too: a refused connection
        never carried the request."""
        last: httpx.ConnectError | None = None
        for ip in target.addresses:
            transport, owned = self._transport_for_hop()
            request = self._request(target, ip, deadline, post)
            try:
                response = transport.handle_request(request)
            except httpx.ConnectError as exc:
                if owned:
                    transport.close()
                if self._is_tls(exc):
                    raise self._translate(exc, param, deadline) from exc
                last = exc
                continue
            except BaseException:
                if owned:
                    transport.close()
                raise
            response.request = request
            return response, str(ip), transport if owned else None
        assert last is not None
        raise FetchError(
            f"{param}: cannot connect to {target.host} ({last})", param, "connect"
        ) from last

    def _transport_for_hop(self) -> tuple[httpx.BaseTransport, bool]:
        if self.transport is not None:
            return self.transport, False
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context(verify=True, trust_env=False)
        # A fresh pool per hop: no connection made for one name carries a request for another.
        return httpx.HTTPTransport(verify=self._ssl_context, trust_env=False, retries=0), True

    def _request(
        self, target: _Target, ip: IPAddress, deadline: Deadline, post: _Post | None = None
    ) -> httpx.Request:
        url = target.url
        default_port = url.port is None
        host_header = target.host if default_port else f"{target.host}:{url.port}"
        if ":" in target.host:  # an IPv6 literal keeps its brackets in Host
            host_header = f"[{target.host}]" + ("" if default_port else f":{url.port}")
        left = max(deadline.remaining(), 0.001)
        extensions: dict[str, Any] = {
            "timeout": {"connect": left, "read": left, "write": left, "pool": left},
            "trace": deadline.trace,
        }
        if url.scheme == "https" and parse_ip_host(target.host) is None:
            # TLS for the name, not for the IP we pinned: SNI and certificate check both use it.
            extensions["sni_hostname"] = target.host.rstrip(".")
        headers = {
            "Host": host_header,
            "User-Agent": self.user_agent,
            "Accept": "*/*",
            "Accept-Encoding": "identity",
            "Connection": "close",
        }
        if post is None:
            return httpx.Request(
                "GET",
                url.copy_with(host=str(ip), fragment=None),
                headers=headers,
                extensions=extensions,
            )
        # The caller's headers cannot replace the ones that pin the request (Host) or keep it
        # from being reused.
        headers = {**dict(post.headers), **headers}
        return httpx.Request(
            "POST",
            url.copy_with(host=str(ip), fragment=None),
            headers=headers,
            content=post.content,
            extensions=extensions,
        )

    def _read(
        self,
        response: httpx.Response,
        url: httpx.URL,
        address: str,
        max_bytes: int,
        param: str,
        dest: Path | None,
        deadline: Deadline,
    ) -> FetchResult:
        too_large = FetchError(f"{param}: larger than {size_text(max_bytes)}", param, "too_large")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise FetchError(
                f"{param}: the server sent a compressed body ({encoding}); we ask for identity",
                param,
                "protocol",
            )
        declared = response.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
            raise too_large
        size = 0
        chunks: list[bytes] = []
        with self._sink(dest) as sink:
            for chunk in self._chunks(response, param, deadline):
                size += len(chunk)
                if size > max_bytes:
                    raise too_large
                if sink is None:
                    chunks.append(chunk)
                else:
                    sink.write(chunk)
        return FetchResult(
            data=None if dest is not None else b"".join(chunks),
            path=dest,
            content_type=response.headers.get("content-type"),
            final_url=str(url),
            size=size,
            address=address,
        )

    def _chunks(self, response: httpx.Response, param: str, deadline: Deadline) -> Iterator[bytes]:
        # With any Content-Encoding refused above, iter_bytes yields the body as sent (and it
        # also serves responses whose body an injected transport has already read).
        try:
            for chunk in response.iter_bytes(_CHUNK):
                if deadline.passed():
                    raise self._timeout(param, deadline)
                yield chunk
        except httpx.HTTPError as exc:
            raise self._translate(exc, param, deadline) from exc

    @staticmethod
    @contextlib.contextmanager
    def _sink(dest: Path | None) -> Iterator[IO[bytes] | None]:
        if dest is None:
            yield None
            return
        try:
            with dest.open("wb") as f:
                yield f
        except BaseException:
            dest.unlink(missing_ok=True)  # never leave half a file behind
            raise

    # -- errors --------------------------------------------------------------------------------

    @staticmethod
    def _timeout(param: str, deadline: Deadline) -> FetchError:
        return timeout_error(param, deadline)

    @staticmethod
    def _is_tls(exc: BaseException) -> bool:
        seen: BaseException | None = exc
        while seen is not None:
            if isinstance(seen, ssl.SSLError | ssl.CertificateError):
                return True
            seen = seen.__cause__ or seen.__context__
        return False

    def _translate(self, exc: httpx.HTTPError, param: str, deadline: Deadline) -> FetchError:
        """httpx's exception tree -> ours (see the module docstring)."""
        if isinstance(exc, httpx.TimeoutException) or deadline.passed():
            return self._timeout(param, deadline)
        if isinstance(exc, httpx.ConnectError):
            if self._is_tls(exc):
                return FetchError(f"{param}: TLS failed ({exc})", param, "tls")
            return FetchError(f"{param}: cannot connect ({exc})", param, "connect")
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return FetchError(f"{param}: invalid URL ({exc})", param, "invalid_url")
        return FetchError(
            f"{param}: broken response ({type(exc).__name__}: {exc})", param, "protocol"
        )
