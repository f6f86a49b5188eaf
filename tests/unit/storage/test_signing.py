"""Signed, expiring URLs of the files the server serves itself."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from kirin_api.storage.signing import sign, signed_path, verify

SECRET = b"s" * 32
KEY = "results/task_01JABC/video.mp4"
NOW = 1_763_700_000
EXPIRES = NOW + 3600


def test_valid() -> None:
    signature = sign(KEY, EXPIRES, SECRET)
    assert "=" not in signature
    assert "+" not in signature
    assert "/" not in signature
    assert len(signature) == 43  # 32 bytes, base64 without padding
    assert verify(KEY, EXPIRES, signature, SECRET, NOW)
    assert verify(KEY, EXPIRES, signature, SECRET, EXPIRES)  # valid up to its last second


def test_tampered_key() -> None:
    signature = sign(KEY, EXPIRES, SECRET)
    assert not verify("results/task_01JXYZ/video.mp4", EXPIRES, signature, SECRET, NOW)


def test_tampered_expiry() -> None:
    signature = sign(KEY, EXPIRES, SECRET)
    assert not verify(KEY, EXPIRES + 1, signature, SECRET, NOW)


def test_tampered_signature() -> None:
    signature = sign(KEY, EXPIRES, SECRET)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert not verify(KEY, EXPIRES, flipped, SECRET, NOW)
    assert not verify(KEY, EXPIRES, "", SECRET, NOW)
    assert not verify(KEY, EXPIRES, "ünïcode", SECRET, NOW)


def test_other_secret() -> None:
    assert not verify(KEY, EXPIRES, sign(KEY, EXPIRES, SECRET), b"t" * 32, NOW)


def test_expired() -> None:
    signature = sign(KEY, EXPIRES, SECRET)
    assert not verify(KEY, EXPIRES, signature, SECRET, EXPIRES + 0.5)
    assert not verify(KEY, EXPIRES, signature, SECRET, EXPIRES + 3600)


def test_signed_path_round_trip() -> None:
    key = "results/task_01JABC/my video#1?.mp4"
    parts = urlsplit(signed_path(key, EXPIRES, SECRET))
    assert parts.path == "/files/results/task_01JABC/my%20video%231%3F.mp4"
    query = parse_qs(parts.query)
    assert query["expires"] == [str(EXPIRES)]
    decoded_key = unquote(parts.path.removeprefix("/files/"))
    assert decoded_key == key
    assert verify(decoded_key, int(query["expires"][0]), query["signature"][0], SECRET, NOW)
