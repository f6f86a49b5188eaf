"""A short-lived cache of API key -> account, so that a polling client's key is not read from the
database on every request.

An entry lives at most ``ttl`` seconds (one by default): a key revoked in another process (the
CLI, another API process, the admin API of another host) is refused at most that long after,
which docs/operations.md states. Only keys that were found are kept; an unknown or revoked key is
looked up every time, so a key made a moment ago works at once. Lives on the event loop's thread
(no lock): its readers and writers are the ``async`` authentication functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kirin_api.store.base import Account

DEFAULT_TTL_SECONDS = 1.0
# Beyond this many keys the cache starts again empty: it bounds memory against a flood of keys.
MAX_ENTRIES = 10_000


class KeyCache:
    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= ttl <= DEFAULT_TTL_SECONDS:
            raise ValueError(f"ttl must be between 0 and {DEFAULT_TTL_SECONDS} s, got {ttl}")
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[Account, float]] = {}

    def get(self, key_hash: str) -> Account | None:
        """The account of ``key_hash`` if it was found less than ``ttl`` seconds ago."""
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        account, expires = entry
        if self._clock() >= expires:
            del self._entries[key_hash]
            return None
        return account

    def put(self, key_hash: str, account: Account) -> None:
        if self._ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key_hash] = (account, self._clock() + self._ttl)

    def forget(self) -> None:
        """Drop every entry (a key was revoked through this process)."""
        self._entries.clear()
