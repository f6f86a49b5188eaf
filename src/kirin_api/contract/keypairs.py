"""Access-key pairs, and the sealing of their secret keys with the server's secret key.

A pair (``kirin keys create --kling``) is an access key, which names it, and a secret key, which
signs the JWTs of the Kling dialect. Unlike an API key, the secret must be read back to check a
signature, so it cannot be stored as a hash: it is sealed with AES-256-GCM under a key derived
from the server's secret key (``KIRIN_SECRET_KEY``), bound to its access key (associated data),
so that a sealed secret copied onto another pair's row does not open.

Rotation: a :class:`SecretSealer` seals with its first key and opens with any of them; each
sealed value names the key that sealed it (the first 8 hex digits of a SHA-256 of the derived
key), so a value sealed with a key the server no longer has is told apart from a tampered one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kirin_api.contract.errors import KirinError

ACCESS_KEY_PREFIX = "ak_"
SECRET_KEY_PREFIX = "sk_"  # noqa: S105 - a prefix, not a secret
# A server secret key shorter than this is refused: it is the key to every pair's secret.
MIN_SERVER_KEY_LENGTH = 32
_VERSION = "v1"
_NONCE_BYTES = 12
_HKDF_INFO = b"kirin-api access-key secrets v1"


class SealError(KirinError):
    """A sealed secret that cannot be opened: ``reason`` is ``unknown_key`` (sealed with a
    server secret key this server is not given) or ``tampered`` (malformed or altered)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def generate_access_key() -> str:
    """A new access key: not a secret (it names the pair in every token), but unguessable."""
    return ACCESS_KEY_PREFIX + secrets.token_hex(16)


def generate_secret_key() -> str:
    """A new secret key: 256 random bits."""
    return SECRET_KEY_PREFIX + secrets.token_urlsafe(32)


def generate_server_key() -> str:
    """A value for ``KIRIN_SECRET_KEY`` (``kirin secret-key generate``)."""
    return secrets.token_urlsafe(32)


class _Key:
    def __init__(self, server_key: str) -> None:
        if len(server_key) < MIN_SERVER_KEY_LENGTH:
            raise ValueError(
                f"a server secret key needs at least {MIN_SERVER_KEY_LENGTH} characters; "
                "make one with `kirin secret-key generate`"
            )
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
            server_key.encode("utf-8")
        )
        self.aead = AESGCM(derived)
        self.id = hashlib.sha256(derived).hexdigest()[:8]


class SecretSealer:
    """Seals with ``keys[0]``; opens what any of ``keys`` sealed (the others are the keys being
    rotated out)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a sealer needs at least one server secret key")
        self._keys = [_Key(key) for key in keys]
        self._by_id = {key.id: key for key in reversed(self._keys)}

    @property
    def current_key_id(self) -> str:
        return self._keys[0].id

    def seal(self, secret: str, bound_to: str) -> str:
        key = self._keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        sealed = key.aead.encrypt(nonce, secret.encode("utf-8"), bound_to.encode("utf-8"))
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{_VERSION}.{key.id}.{body}"

    def open(self, sealed: str, bound_to: str) -> str:
        version, _, rest = sealed.partition(".")
        key_id, _, body = rest.partition(".")
        if version != _VERSION or not body:
            raise SealError("tampered", "the sealed secret is malformed")
        key = self._by_id.get(key_id)
        if key is None:
            raise SealError(
                "unknown_key",
                f"the secret was sealed with server secret key {key_id}, which this server is "
                "not given (KIRIN_SECRET_KEY / KIRIN_PREVIOUS_SECRET_KEYS)",
            )
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = key.aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], bound_to.encode("utf-8")
            )
        except (binascii.Error, ValueError, InvalidTag):
            raise SealError("tampered", "the sealed secret does not open: altered") from None
        return plain.decode("utf-8")

    def reseal(self, sealed: str, bound_to: str) -> str:
        """``sealed`` sealed again with the current key (unchanged if it already is)."""
        if sealed.split(".")[1:2] == [self.current_key_id]:
            return sealed
        return self.seal(self.open(sealed, bound_to), bound_to)
