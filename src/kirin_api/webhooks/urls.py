"""The check of ``callback_url`` at submit, in the API process.

What it refuses (400 ``invalid_parameter``, ``param: callback_url``) is what can be refused without
the network: a scheme other than http/https, credentials in the URL, a malformed host, and a host
that *is* a refused address — an IP literal in any spelling (``127.1``, ``0x7f.0.0.1``,
``[::ffff:10.0.0.1]``) or ``localhost`` / ``*.localhost`` (RFC 6761: always loopback). A DNS name
is **not** resolved here: a slow resolver would hold the request, and its answer could change by
the time a callback is sent anyway. Every delivery resolves the name, checks every answer and pins
the connection (:meth:`kirin_api.net.fetch.SafeFetcher.post`); a name that resolves to a refused
address is never delivered to.
"""

from __future__ import annotations

import httpx

from kirin_api.contract.errors import InvalidParameter
from kirin_api.net.fetch import FetchError, SafeFetcher

PARAM = "callback_url"


def check_callback_url(url: str, *, allow_private: bool) -> None:
    """Raise :class:`InvalidParameter` for a callback URL that can never be delivered to."""
    try:
        SafeFetcher(allow_private=allow_private).check_url(url, param=PARAM)
    except FetchError as exc:
        raise InvalidParameter(_message(exc), param=PARAM) from None
    if not allow_private:
        host = httpx.URL(url).host.lower().rstrip(".")
        if host == "localhost" or host.endswith(".localhost"):
            raise InvalidParameter(
                f"{PARAM}: refused host {host!r} (loopback); callbacks go to public addresses only",
                param=PARAM,
            )


def _message(exc: FetchError) -> str:
    if exc.reason == "address":
        return f"{exc.message}; callbacks go to public addresses only"
    return exc.message
