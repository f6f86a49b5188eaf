from __future__ import annotations

import base64
import re

import pytest

from kirin_api.contract.keypairs import (
    ACCESS_KEY_PREFIX,
    MIN_SERVER_KEY_LENGTH,
    SECRET_KEY_PREFIX,
    SealError,
    SecretSealer,
    generate_access_key,
    generate_secret_key,
    generate_server_key,
)

OLD_KEY = "old-server-secret-key-0123456789abcdef"
NEW_KEY = "new-server-secret-key-0123456789abcdef"
ACCESS_KEY = "ak_0123456789abcdef0123456789abcdef"
OTHER_ACCESS_KEY = "ak_fedcba9876543210fedcba9876543210"
SECRET = "sk_the-secret-key-of-this-pair-0123456789"


def open_error(sealer: SecretSealer, sealed: str, bound_to: str = ACCESS_KEY) -> SealError:
    with pytest.raises(SealError) as refused:
        sealer.open(sealed, bound_to)
    return refused.value


def test_a_sealed_secret_opens_to_itself() -> None:
    sealer = SecretSealer([NEW_KEY])
    assert sealer.open(sealer.seal(SECRET, ACCESS_KEY), ACCESS_KEY) == SECRET


def test_a_sealed_secret_names_the_key_that_sealed_it() -> None:
    sealer = SecretSealer([NEW_KEY])
    version, key_id, body = sealer.seal(SECRET, ACCESS_KEY).split(".")
    assert version == "v1"
    assert key_id == sealer.current_key_id
    assert re.fullmatch(r"[0-9a-f]{8}", key_id)
    assert body


def test_the_sealed_text_never_contains_the_secret() -> None:
    sealer = SecretSealer([NEW_KEY])
    sealed = sealer.seal(SECRET, ACCESS_KEY)
    assert SECRET not in sealed
    assert SECRET.removeprefix(SECRET_KEY_PREFIX) not in sealed
    assert NEW_KEY not in sealed


def test_sealing_twice_gives_different_ciphertexts() -> None:
    sealer = SecretSealer([NEW_KEY])
    first, second = sealer.seal(SECRET, ACCESS_KEY), sealer.seal(SECRET, ACCESS_KEY)
    assert first != second
    assert sealer.open(first, ACCESS_KEY) == sealer.open(second, ACCESS_KEY) == SECRET


def test_a_secret_opened_for_another_access_key_is_tampered() -> None:
    sealer = SecretSealer([NEW_KEY])
    sealed = sealer.seal(SECRET, ACCESS_KEY)
    assert open_error(sealer, sealed, bound_to=OTHER_ACCESS_KEY).reason == "tampered"


def test_a_flipped_byte_is_tampered() -> None:
    sealer = SecretSealer([NEW_KEY])
    version, key_id, body = sealer.seal(SECRET, ACCESS_KEY).split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[-1] ^= 0x01
    flipped = base64.urlsafe_b64encode(bytes(raw)).decode("ascii").rstrip("=")
    assert open_error(sealer, f"{version}.{key_id}.{flipped}").reason == "tampered"


@pytest.mark.parametrize(
    "sealed",
    [
        "",
        "garbage",
        "v1",
        "v1.",
        "v2.abcdef01.AAAA",
        "v1.{key_id}.",
        "v1.{key_id}.!!",
        "v1.{key_id}.A",
    ],
)
def test_a_malformed_sealed_value_is_tampered(sealed: str) -> None:
    sealer = SecretSealer([NEW_KEY])
    error = open_error(sealer, sealed.format(key_id=sealer.current_key_id))
    assert error.reason == "tampered"


def test_a_value_sealed_with_a_key_this_server_lacks_is_unknown_key() -> None:
    sealed = SecretSealer([OLD_KEY]).seal(SECRET, ACCESS_KEY)
    error = open_error(SecretSealer([NEW_KEY]), sealed)
    assert error.reason == "unknown_key"
    assert SecretSealer([OLD_KEY]).current_key_id in str(error)


def test_the_unknown_key_message_holds_no_key_material() -> None:
    sealed = SecretSealer([OLD_KEY]).seal(SECRET, ACCESS_KEY)
    message = str(open_error(SecretSealer([NEW_KEY]), sealed))
    for material in (OLD_KEY, NEW_KEY, SECRET, sealed.split(".")[2]):
        assert material not in message


def test_a_sealer_with_the_old_key_among_its_keys_opens_what_the_old_key_sealed() -> None:
    sealed = SecretSealer([OLD_KEY]).seal(SECRET, ACCESS_KEY)
    assert SecretSealer([NEW_KEY, OLD_KEY]).open(sealed, ACCESS_KEY) == SECRET


def test_a_rotating_sealer_seals_with_its_first_key() -> None:
    rotating = SecretSealer([NEW_KEY, OLD_KEY])
    assert rotating.current_key_id == SecretSealer([NEW_KEY]).current_key_id
    sealed = rotating.seal(SECRET, ACCESS_KEY)
    assert SecretSealer([NEW_KEY]).open(sealed, ACCESS_KEY) == SECRET


def test_reseal_moves_a_value_to_the_current_key() -> None:
    old = SecretSealer([OLD_KEY])
    rotating = SecretSealer([NEW_KEY, OLD_KEY])
    resealed = rotating.reseal(old.seal(SECRET, ACCESS_KEY), ACCESS_KEY)
    assert resealed.split(".")[1] == rotating.current_key_id != old.current_key_id
    assert SecretSealer([NEW_KEY]).open(resealed, ACCESS_KEY) == SECRET


def test_reseal_leaves_a_value_already_under_the_current_key_unchanged() -> None:
    rotating = SecretSealer([NEW_KEY, OLD_KEY])
    sealed = rotating.seal(SECRET, ACCESS_KEY)
    assert rotating.reseal(sealed, ACCESS_KEY) == sealed


def test_reseal_of_a_value_bound_to_another_access_key_is_tampered() -> None:
    sealed = SecretSealer([OLD_KEY]).seal(SECRET, ACCESS_KEY)
    with pytest.raises(SealError) as refused:
        SecretSealer([NEW_KEY, OLD_KEY]).reseal(sealed, OTHER_ACCESS_KEY)
    assert refused.value.reason == "tampered"


def test_different_server_keys_have_different_key_ids() -> None:
    assert SecretSealer([OLD_KEY]).current_key_id != SecretSealer([NEW_KEY]).current_key_id
    assert SecretSealer([OLD_KEY]).current_key_id == SecretSealer([OLD_KEY]).current_key_id


def test_a_server_key_shorter_than_the_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        SecretSealer(["x" * (MIN_SERVER_KEY_LENGTH - 1)])
    SecretSealer(["x" * MIN_SERVER_KEY_LENGTH])


def test_a_short_previous_key_is_refused_too() -> None:
    with pytest.raises(ValueError, match="at least"):
        SecretSealer([NEW_KEY, "short"])


def test_a_sealer_without_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SecretSealer([])


def test_access_keys_are_prefixed_hex_and_unique() -> None:
    keys = {generate_access_key() for _ in range(100)}
    assert len(keys) == 100
    for key in keys:
        assert key.startswith(ACCESS_KEY_PREFIX)
        assert re.fullmatch(r"ak_[0-9a-f]{32}", key)


def test_secret_keys_are_prefixed_urlsafe_and_unique() -> None:
    keys = {generate_secret_key() for _ in range(100)}
    assert len(keys) == 100
    for key in keys:
        assert key.startswith(SECRET_KEY_PREFIX)
        assert re.fullmatch(r"sk_[A-Za-z0-9_-]{43}", key)


def test_a_generated_server_key_is_long_enough_to_seal_with() -> None:
    key = generate_server_key()
    assert len(key) >= MIN_SERVER_KEY_LENGTH
    assert key != generate_server_key()
    sealer = SecretSealer([key])
    assert sealer.open(sealer.seal(SECRET, ACCESS_KEY), ACCESS_KEY) == SECRET
