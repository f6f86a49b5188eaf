"""Token buckets that every API process of one host shares: a table in a file mapped into each
process's memory, so that ``kirin serve --api-processes N`` enforces a key's rate once, not N
times.

The file (made by ``kirin serve`` before it starts its API processes, and removed when it stops)
holds ``slots`` fixed-size slots: the first 16 bytes of the credential's SHA-256, its tokens, and
when they were counted (``time.monotonic()``, one clock for all processes of a host). A key's slot
is found by open addressing from its hash. Each check holds a lock on the file (``flock`` on the
process's own descriptor, between processes) and a thread lock (threads share the descriptor) for
the few microseconds of one read-modify-write: no database write per request.

When every slot a key may use is held by a key seen in the last ``FORGET_AFTER_SECONDS``, the
least recently used of them is given to the new key with a full bucket: a host would need more
than ``slots`` active keys in ten minutes (65,536 by default) for this to happen, and then a key
may burst again. Hosts do not share buckets: behind a load balancer across M hosts a key may reach
M times its rate (the unfinished-task limit, in the database, is exact everywhere).
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
from pathlib import Path

# Buckets idle this long are full again anyway: their slots may be reused.
FORGET_AFTER_SECONDS = 600.0
DEFAULT_SLOTS = 65_536
_SLOT = struct.Struct("<16sdd")  # key digest, tokens, updated (monotonic seconds)
_PROBES = 32  # slots tried from a key's home slot
_EMPTY = bytes(16)


def create_bucket_file(path: Path, slots: int = DEFAULT_SLOTS) -> None:
    """Make (or empty) the table at ``path``: all slots free."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.truncate(slots * _SLOT.size)


class SharedBuckets:
    """The table at ``path`` (see :func:`create_bucket_file`), opened by one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR)
        size = os.fstat(self._fd).st_size
        if size == 0 or size % _SLOT.size:
            raise ValueError(f"{path} is not a table of rate-limit buckets ({size} bytes)")
        self._slots = size // _SLOT.size
        self._map = mmap.mmap(self._fd, size)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)

    def take(self, key: str, now: float, burst: float, rate: float) -> float:
        """Take one token of ``key``'s bucket: 0.0 if there was one, else the seconds until one
        returns (nothing is taken then)."""
        digest = hashlib.sha256(key.encode()).digest()[:16]
        home = int.from_bytes(digest[:8], "little") % self._slots
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                offset, tokens, updated = self._find(digest, home, now, burst)
                tokens = min(burst, tokens + max(0.0, now - updated) * rate)
                wait = 0.0
                if tokens >= 1.0:
                    tokens -= 1.0
                else:
                    wait = (1.0 - tokens) / rate
                _SLOT.pack_into(self._map, offset, digest, tokens, now)
                return wait
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _find(self, digest: bytes, home: int, now: float, burst: float) -> tuple[int, float, float]:
        """The slot of ``digest`` (offset, tokens, updated): its own, else a free or forgotten
        one (a full bucket), else the least recently used of the probed ones (a full bucket)."""
        oldest_offset, oldest_updated = -1, float("inf")
        for probe in range(min(_PROBES, self._slots)):
            offset = ((home + probe) % self._slots) * _SLOT.size
            held, tokens, updated = _SLOT.unpack_from(self._map, offset)
            if held == digest:
                return offset, tokens, updated
            if held == _EMPTY or now - updated > FORGET_AFTER_SECONDS:
                return offset, burst, now
            if updated < oldest_updated:
                oldest_offset, oldest_updated = offset, updated
        return oldest_offset, burst, now
