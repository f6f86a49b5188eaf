"""A request-rate limit per API key: a token bucket in the API process.

Each key may burst ``burst`` requests and then make ``per_minute`` a minute. The buckets live in
the API process's memory, or, given ``shared``, in a table that all API processes of the host
share (:mod:`kirin_api.server.ratelimit_shared`; what ``kirin serve`` uses, so that
``--api-processes N`` does not allow N times the rate). Across hosts behind a load balancer each
host enforces the limit on its share of the traffic (docs/accounts.md): a shared store (the
database) would make every request a write; the unfinished-task limit, which guards the expensive
resource, is exact across hosts.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kirin_api.contract.errors import TooManyRequests
from kirin_api.server.ratelimit_shared import SharedBuckets

# Buckets idle this long are full again anyway; forgetting them bounds memory.
_FORGET_AFTER_SECONDS = 600.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        per_minute: int,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedBuckets | None = None,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self.burst = burst if burst is not None else max(1, per_minute // 6)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()
        self._shared = shared

    def check(self, key: str) -> None:
        """Take one token for ``key`` or raise :class:`TooManyRequests` with ``Retry-After``."""
        now = self._clock()
        if self._shared is not None:
            wait = self._shared.take(key, now, float(self.burst), self._rate)
            if wait > 0:
                raise self._refusal(wait)
            return
        with self._lock:
            self._sweep(now)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = (1.0 - bucket.tokens) / self._rate
        raise self._refusal(wait)

    def _refusal(self, wait: float) -> TooManyRequests:
        return TooManyRequests(
            f"too many requests with this key: at most {self.per_minute} a minute "
            f"(bursts of {self.burst}); retry in {math.ceil(wait)} s",
            retry_after=max(1, math.ceil(wait)),
        )

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < _FORGET_AFTER_SECONDS:
            return
        self._last_sweep = now
        stale = [k for k, b in self._buckets.items() if now - b.updated > _FORGET_AFTER_SECONDS]
        for key in stale:
            del self._buckets[key]
