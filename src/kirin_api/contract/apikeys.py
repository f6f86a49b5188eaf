"""API keys: ``kirin_sk_`` followed by 43 URL-safe characters (256 random bits).

Keys are stored only as SHA-256 hashes. A slow password hash is not needed here: the key is
random with 256 bits of entropy, so a hash of it cannot be brute-forced, and a fast hash lets
every request look its key up by an index.
"""

from __future__ import annotations

import hashlib
import re
import secrets

KEY_PREFIX = "kirin_sk_"
_KEY_PATTERN = re.compile(r"^kirin_sk_[A-Za-z0-9_-]{43}$")
# How much of a key is kept in clear to recognise it in `kirin keys list`.
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 6


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def is_well_formed(key: str) -> bool:
    return bool(_KEY_PATTERN.match(key))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def shown_prefix(key: str) -> str:
    return key[:SHOWN_PREFIX_LENGTH]
