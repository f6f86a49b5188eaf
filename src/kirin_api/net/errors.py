"""The one exception of the fetcher, and the rule each failure broke.

httpx's exceptions are translated into :class:`FetchError` in :mod:`.fetch` and nowhere else::

    FetchError.reason
    ├── "invalid_url"   the URL does not parse (httpx.InvalidURL, UnsupportedProtocol ...)
    ├── "scheme"        not http/https
    ├── "userinfo"      user:pass@ in the URL
    ├── "host"          empty, malformed or numeric-but-invalid host, IPv6 zone id
    ├── "address"       the host is, or resolves to, a refused address
    ├── "resolve"       the name does not resolve (socket.gaierror)
    ├── "connect"       no checked address accepted a connection (httpx.ConnectError)
    ├── "tls"           TLS handshake or certificate check failed (ConnectError over ssl.SSLError)
    ├── "timeout"       a deadline passed: the fetch's own or its task's (httpx.TimeoutException,
    │                   watchdog)
    ├── "cancelled"     the caller stopped the fetch (its task was cancelled, the worker stops)
    ├── "redirect"      too many redirects, or a 3xx without Location
    ├── "status"        a final status that is not 2xx
    ├── "too_large"     Content-Length or the streamed body passed ``max_bytes``
    └── "protocol"      broken HTTP, a compressed reply, a read error (httpx.ProtocolError,
                        httpx.NetworkError, httpx.DecodingError, any other httpx.HTTPError)
"""

from __future__ import annotations

from typing import Literal

from kirin_api.contract.errors import KirinError

__all__ = ["FetchError", "FetchReason"]

FetchReason = Literal[
    "invalid_url",
    "scheme",
    "userinfo",
    "host",
    "address",
    "resolve",
    "connect",
    "tls",
    "timeout",
    "cancelled",
    "redirect",
    "status",
    "too_large",
    "protocol",
]


class FetchError(KirinError):
    """A user-supplied URL could not be fetched; ``message`` starts with ``param``."""

    def __init__(self, message: str, param: str, reason: FetchReason) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.reason: FetchReason = reason
