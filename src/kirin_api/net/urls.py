"""The checks of a user-supplied URL that need no network: length, scheme, userinfo, port, host
syntax and, when the host is an IP literal in any spelling, its address.

:func:`check_url` is what the API runs at submit (no DNS: a slow resolver must not hold a
request); the fetcher runs the same checks on every hop, then resolves and checks again.
"""

from __future__ import annotations

import re

import httpx

from kirin_api.net.addresses import IPAddress, blocked_reason, parse_ip_host
from kirin_api.net.errors import FetchError

__all__ = ["MAX_URL_LENGTH", "check_url", "host_of", "parse_url"]

MAX_URL_LENGTH = 8192  # longer than any real media URL; bounds parsing and logging
# DNS labels after IDNA encoding (httpx gives us the ASCII form); "_" occurs in real names.
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def parse_url(url: str, param: str) -> httpx.URL:
    """Parse and check what needs no network: length, scheme, userinfo, port."""
    if len(url) > MAX_URL_LENGTH:
        raise FetchError(
            f"{param}: URL longer than {MAX_URL_LENGTH} characters", param, "invalid_url"
        )
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError(f"{param}: invalid URL ({exc})", param, "invalid_url") from exc
    if parsed.scheme not in ("http", "https"):
        shown = parsed.scheme or "none"
        raise FetchError(
            f"{param}: URL scheme {shown!r} is not allowed; use http or https", param, "scheme"
        )
    if parsed.userinfo:
        raise FetchError(
            f"{param}: URLs with credentials (user:password@) are not allowed",
            param,
            "userinfo",
        )
    if parsed.port == 0:
        raise FetchError(f"{param}: port 0 is not allowed", param, "invalid_url")
    return parsed


def host_of(url: httpx.URL, param: str) -> tuple[str, IPAddress | None, str]:
    """(host, its IP if it is an IP literal in any spelling, the name to resolve otherwise),
    after the syntax checks that need no network."""
    host = url.raw_host.decode("ascii", "replace").lower()
    if not host:
        raise FetchError(f"{param}: URL has no host", param, "host")
    try:
        literal = parse_ip_host(host)
    except ValueError as exc:
        raise FetchError(f"{param}: refused host {host!r} ({exc})", param, "host") from exc
    if literal is not None:
        return host, literal, ""
    name = host[:-1] if host.endswith(".") else host
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise FetchError(f"{param}: invalid host name {host!r}", param, "host")
    return host, None, name


def check_url(url: str, *, param: str, allow_private: bool) -> None:
    """Every check of ``url`` that needs no network; a host name is not resolved.

    Raises:
        FetchError: a rule broken; ``param`` names the field.
    """
    _, literal, _ = host_of(parse_url(url, param), param)
    if literal is None:
        return
    reason = blocked_reason(literal, allow_private=allow_private)
    if reason is not None:
        raise FetchError(f"{param}: refused address {literal} ({reason})", param, "address")
