from __future__ import annotations

import pytest

from kirin_api.server.key_cache import DEFAULT_TTL_SECONDS, MAX_ENTRIES, KeyCache
from kirin_api.store.base import Account

ALICE = Account(id="acct_a", name="alice", created_at=0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_at_most_a_second() -> None:
    clock = Clock()
    cache = KeyCache(clock=clock)
    assert cache.get("h") is None
    cache.put("h", ALICE)
    clock.now += DEFAULT_TTL_SECONDS - 0.01
    assert cache.get("h") == ALICE
    clock.now += 0.01
    assert cache.get("h") is None  # a revoked key is looked up again, and refused


def test_forget_drops_everything_and_ttl_zero_keeps_nothing() -> None:
    cache = KeyCache()
    cache.put("h", ALICE)
    cache.forget()
    assert cache.get("h") is None
    off = KeyCache(ttl=0)
    off.put("h", ALICE)
    assert off.get("h") is None


def test_longer_lifetimes_than_the_documented_second_are_refused() -> None:
    with pytest.raises(ValueError, match="ttl"):
        KeyCache(ttl=5)


def test_the_cache_is_bounded() -> None:
    cache = KeyCache()
    for n in range(MAX_ENTRIES + 1):
        cache.put(f"h{n}", ALICE)
    assert len(cache._entries) <= MAX_ENTRIES
