from __future__ import annotations

from kirin_api.contract.apikeys import (
    generate_key,
    hash_key,
    is_well_formed,
    shown_prefix,
)
from kirin_api.contract.ids import new_task_id, ulid


def test_ulids_sort_by_creation_time_and_are_unique() -> None:
    ids = [ulid(1_763_700_000 + i / 1000) for i in range(200)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 200
    assert all(len(i) == 26 for i in ids)
    assert new_task_id().startswith("task_")


def test_keys_are_random_well_formed_and_stored_as_hashes() -> None:
    key, other = generate_key(), generate_key()
    assert key != other
    assert is_well_formed(key)
    assert not is_well_formed(key[:-1])
    assert not is_well_formed("Bearer " + key)
    assert hash_key(key) == hash_key(key) != hash_key(other)
    assert key not in hash_key(key)
    assert key.startswith(shown_prefix(key))
    assert len(shown_prefix(key)) < len(key) // 2
