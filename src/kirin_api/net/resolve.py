"""Name resolution for the fetcher, bounded by its deadline (``getaddrinfo`` has no timeout of
its own), and the error a passed deadline becomes."""

from __future__ import annotations

import concurrent.futures
import socket
from collections.abc import Callable

from kirin_api.net.addresses import IPAddress, parse_ip_host
from kirin_api.net.deadline import Deadline
from kirin_api.net.errors import FetchError

__all__ = ["Resolver", "resolve", "system_resolver", "timeout_error"]

Resolver = Callable[[str, int], list[str]]
"""``(host, port) -> addresses``: every address the name resolves to, as strings."""

# How often a wait on the resolver looks whether its deadline was aborted (a cancel).
_POLL_SECONDS = 0.1


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``socket.getaddrinfo`` gives for ``host``, in its order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for *_, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


def timeout_error(param: str, deadline: Deadline) -> FetchError:
    """What a passed (or aborted) ``deadline`` means to the user, naming the deadline that
    passed: the URL's own, or its task's."""
    if deadline.aborted:
        return FetchError(f"{param}: fetch stopped", param, "cancelled")
    parent = deadline.parent
    if parent is not None and parent.passed():
        return FetchError(
            f"{param}: the task's inputs were not all fetched within {parent.seconds:g} s",
            param,
            "timeout",
        )
    return FetchError(f"{param}: timed out after {deadline.seconds:g} s", param, "timeout")


def resolve(
    resolver: Resolver, name: str, port: int, param: str, deadline: Deadline
) -> list[IPAddress]:
    """Every address ``name`` resolves to, parsed; within ``deadline``.

    The resolver runs aside and we stop waiting at the deadline or when it is aborted (the
    thread is left to finish on its own: it holds nothing of ours).
    """
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(resolver, name, port)
        while True:
            if deadline.passed():
                raise timeout_error(param, deadline)
            try:
                answers = future.result(
                    timeout=min(max(deadline.remaining(), 0.001), _POLL_SECONDS)
                )
                break
            except concurrent.futures.TimeoutError:
                continue
    except OSError as exc:  # socket.gaierror and friends
        raise FetchError(f"{param}: cannot resolve {name!r} ({exc})", param, "resolve") from exc
    finally:
        pool.shutdown(wait=False)
    addresses: list[IPAddress] = []
    for answer in answers:
        try:
            ip = parse_ip_host(answer)
        except ValueError:
            ip = None
        if ip is None:
            raise FetchError(
                f"{param}: resolver gave a non-address {answer!r} for {name!r}", param, "resolve"
            )
        addresses.append(ip)
    if not addresses:
        raise FetchError(f"{param}: {name!r} has no addresses", param, "resolve")
    return addresses
