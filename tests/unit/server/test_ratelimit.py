from __future__ import annotations

import pytest

from kirin_api.contract.errors import TooManyRequests
from kirin_api.server.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_bursts_then_is_limited_and_admitted_again_as_tokens_return() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    for _ in range(3):
        limiter.check("k")
    with pytest.raises(TooManyRequests) as refused:
        limiter.check("k")
    assert refused.value.status == 429
    assert refused.value.retry_after == 1
    limiter.check("other")  # keys do not share a bucket
    clock.now += 1.0
    limiter.check("k")
    with pytest.raises(TooManyRequests):
        limiter.check("k")


def test_retry_after_says_when_a_token_returns() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=6, burst=1, clock=clock)
    limiter.check("k")
    with pytest.raises(TooManyRequests) as refused:
        limiter.check("k")
    assert refused.value.retry_after == 10
    clock.now += 10
    limiter.check("k")


def test_idle_buckets_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, clock=clock)
    limiter.check("a")
    clock.now += 3600
    limiter.check("b")
    assert set(limiter._buckets) == {"b"}
