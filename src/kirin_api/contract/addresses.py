"""Which IP addresses a user-supplied URL may reach, and how to read a host the way browsers do.

Two questions, answered without any I/O:

- :func:`parse_ip_host` — is this URL host an IP literal, in *any* spelling? ``0x7f.1``,
  ``2130706433``, ``127.1``, ``0177.0.0.1`` and ``127.0.0.1.`` are all 127.0.0.1 to a browser
  (WHATWG URL "IPv4 parser") and to ``inet_aton``; so they are normalised here before any check,
  instead of trusting a resolver to refuse them. A host that *ends in a number* but is not a valid
  IPv4 address is refused outright (:class:`ValueError`): it is never sent to a resolver.
- :func:`blocked_reason` — may we connect to this address? ``None`` if yes, else a short reason
  (``"loopback"``, ``"private"``, ``"cloud metadata"`` ...) for the error message.

Blocked unless ``allow_private`` (``KIRIN_ALLOW_PRIVATE_NETWORKS``): loopback, private (RFC 1918,
``fc00::/7``), link-local (``169.254/16``, ``fe80::/10``), CGNAT ``100.64/10``, documentation,
benchmarking, reserved and other special-purpose ranges, anything outside IPv6 global unicast
``2000::/3``, Teredo ``2001::/32`` and local-use NAT64 ``64:ff9b:1::/48``; then, as a backstop,
whatever :mod:`ipaddress` does not call global.

Blocked always, even with ``allow_private``: cloud metadata endpoints, unspecified
(``0.0.0.0/8``, ``::``), multicast and broadcast. A test or a closed network never needs them, and
the metadata service is the prize of every SSRF, so a permissive setting must not open it.

IPv6 forms that wrap an IPv4 address — IPv4-mapped ``::ffff:0:0/96``, IPv4-translated
``::ffff:0:0:0/96``, IPv4-compatible ``::/96``, 6to4 ``2002::/16`` and NAT64 ``64:ff9b::/96`` — are
judged by the IPv4 address inside them, since that is where the packets end up.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["HOW_TO_UPLOAD", "PRIVATE_ADDRESS_HINT", "IPAddress", "blocked_reason", "parse_ip_host"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_v4 = ipaddress.IPv4Network
_v6 = ipaddress.IPv6Network

# Cloud metadata / host-agent endpoints. Most sit inside ranges blocked anyway; listing them
# keeps them refused under allow_private and gives the error a precise reason.
_METADATA: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
    _v4("169.254.169.254/32"),  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle, Hetzner ...
    _v4("169.254.170.2/32"),  # AWS ECS task metadata and credentials
    _v4("169.254.170.23/32"),  # AWS EKS Pod Identity agent
    _v4("169.254.0.23/32"),  # Tencent Cloud
    _v4("100.100.100.200/32"),  # Alibaba Cloud
    _v4("192.0.0.192/32"),  # Oracle Cloud (legacy)
    _v4("168.63.129.16/32"),  # Azure WireServer: a *public* address that is the host agent
    _v6("fd00:ec2::254/128"),  # AWS IMDS over IPv6
    _v6("fd00:ec2::23/128"),  # AWS EKS Pod Identity agent over IPv6
)

_ALWAYS_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_v4("0.0.0.0/8"), "unspecified"),  # 0.0.0.0 reaches the local host on Linux
    (_v4("224.0.0.0/4"), "multicast"),
    (_v4("255.255.255.255/32"), "broadcast"),
)

_NON_PUBLIC_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_v4("127.0.0.0/8"), "loopback"),
    (_v4("10.0.0.0/8"), "private"),
    (_v4("172.16.0.0/12"), "private"),
    (_v4("192.168.0.0/16"), "private"),
    (_v4("100.64.0.0/10"), "shared address space (CGNAT)"),
    (_v4("169.254.0.0/16"), "link-local"),
    (_v4("192.0.0.0/24"), "IETF protocol assignments"),
    (_v4("192.0.2.0/24"), "documentation"),
    (_v4("198.51.100.0/24"), "documentation"),
    (_v4("203.0.113.0/24"), "documentation"),
    (_v4("198.18.0.0/15"), "benchmarking"),
    (_v4("192.88.99.0/24"), "6to4 relay anycast"),
    (_v4("240.0.0.0/4"), "reserved"),
)

_ALWAYS_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_v6("::/128"), "unspecified"),
    (_v6("ff00::/8"), "multicast"),
)

_NON_PUBLIC_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_v6("::1/128"), "loopback"),
    (_v6("fc00::/7"), "private (unique local)"),
    (_v6("fe80::/10"), "link-local"),
    (_v6("fec0::/10"), "site-local"),
    (_v6("2001::/32"), "Teredo"),  # the client address inside is attacker-chosen; just refuse
    (_v6("64:ff9b:1::/48"), "local-use NAT64"),
    (_v6("100::/64"), "discard-only"),
    (_v6("2001:db8::/32"), "documentation"),
    (_v6("3fff::/20"), "documentation"),
    (_v6("2001:2::/48"), "benchmarking"),
    (_v6("2001:10::/28"), "ORCHID"),
    (_v6("2001:20::/28"), "ORCHID"),
    (_v6("5f00::/16"), "SRv6 SIDs"),
)

_GLOBAL_UNICAST_V6 = _v6("2000::/3")
_MAPPED = _v6("::ffff:0:0/96")
_TRANSLATED = _v6("::ffff:0:0:0/96")
_COMPATIBLE = _v6("::/96")
_SIX_TO_FOUR = _v6("2002::/16")
_NAT64 = _v6("64:ff9b::/96")

# WHATWG "ends in a number": the last label is all digits or 0x-hex; such a host is an IPv4
# address or nothing.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")


def _ipv4_part(part: str) -> int:
    if part[:2] in ("0x", "0X"):
        return int(part[2:], 16) if len(part) > 2 else 0
    if len(part) > 1 and part.startswith("0"):
        return int(part[1:], 8)  # ValueError for "08"
    return int(part, 10)


def parse_ip_host(host: str) -> IPAddress | None:
    """The IP address that ``host`` (a URL's host, without brackets) spells, or ``None``.

    ``None`` means a name, to be resolved. IPv4 in any spelling browsers and ``inet_aton``
    accept (hex, octal, fewer than four parts, one trailing dot) is normalised.

    Raises:
        ValueError: the host looks numeric but is not a valid address, or an IPv6 literal
            carries a zone id (``fe80::1%eth0``): refused rather than resolved.
    """
    if ":" in host:
        if "%" in host:
            raise ValueError(f"IPv6 zone ids are not allowed: {host!r}")
        return ipaddress.IPv6Address(host)  # ValueError if malformed
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()  # one trailing dot, as in "127.0.0.1."
    if not parts or not _NUMERIC_LABEL.fullmatch(parts[-1]):
        return None
    if len(parts) > 4 or any(not _NUMERIC_LABEL.fullmatch(p) for p in parts):
        raise ValueError(f"malformed numeric host {host!r}")
    try:
        numbers = [_ipv4_part(p) for p in parts]
    except ValueError:
        raise ValueError(f"malformed numeric host {host!r}") from None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise ValueError(f"malformed numeric host {host!r}")
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address wraps, with the name of the wrapping, if any."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _MAPPED:
        return "IPv4-mapped", low32
    if ip in _TRANSLATED:
        return "IPv4-translated", low32
    if ip in _COMPATIBLE:  # :: and ::1 are handled before this is asked
        return "IPv4-compatible", low32
    if ip in _NAT64:
        return "NAT64", low32
    if ip in _SIX_TO_FOUR:
        return "6to4", ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF)
    return None


def _match(
    ip: IPAddress,
    table: tuple[tuple[ipaddress.IPv4Network, str], ...]
    | tuple[tuple[ipaddress.IPv6Network, str], ...],
) -> str | None:
    for network, reason in table:
        if ip in network:
            return reason
    return None


def blocked_reason(ip: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why a connection to ``ip`` is refused (``"loopback"``, ``"cloud metadata"`` ...), or None.

    ``allow_private`` lifts every check but the ones listed as "always" in the module docstring.
    """
    if any(ip in net for net in _METADATA if net.version == ip.version):
        return "cloud metadata"
    if isinstance(ip, ipaddress.IPv4Address):
        reason = _match(ip, _ALWAYS_V4)
        if reason is None and not allow_private:
            reason = _match(ip, _NON_PUBLIC_V4)
            if reason is None and not ip.is_global:
                reason = "not globally routable"
        return reason
    if ip.scope_id:
        return "scoped (zone id)"
    reason = _match(ip, _ALWAYS_V6)
    if reason is not None:
        return reason
    if ip == ipaddress.IPv6Address("::1"):
        return None if allow_private else "loopback"
    wrapped = _embedded_v4(ip)
    if wrapped is not None:
        kind, inner = wrapped
        inner_reason = blocked_reason(inner, allow_private=allow_private)
        return None if inner_reason is None else f"{kind} {inner}, {inner_reason}"
    if allow_private:
        return None
    reason = _match(ip, _NON_PUBLIC_V6)
    if reason is None and ip not in _GLOBAL_UNICAST_V6:
        reason = "reserved"
    if reason is None and not ip.is_global:
        reason = "not globally routable"
    return reason


# What to do instead of a private address, said wherever one is refused (at submit and at fetch).
HOW_TO_UPLOAD = (
    "upload it (POST /model/v1/uploads, `kirin upload FILE`, or client.uploads.create(path) "
    "in the Python SDK) and give the URL it answers"
)
PRIVATE_ADDRESS_HINT = (
    f"; to give a file from your own machine, {HOW_TO_UPLOAD}; on a closed network, the "
    "server's operator may allow private addresses with KIRIN_ALLOW_PRIVATE_NETWORKS=true"
)
