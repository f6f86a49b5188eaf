"""The subject library in every store: ids, idempotent creation, scoping, paging, deletion."""

from __future__ import annotations

import pytest

from kirin_api.contract.errors import InvalidParameter
from kirin_api.store import NewElement, TaskStore
from tests.integration.store.conftest import FakeClock


def _new(account_id: str, task_id: str, name: str = "hero") -> NewElement:
    return NewElement(
        account_id=account_id,
        name=name,
        description="a knight",
        reference_type="image_refer",
        frontal_key=f"elements/{task_id}/frontal.png",
        refer_keys=[f"elements/{task_id}/refer_0.png"],
        source_task_id=task_id,
    )


def test_elements_get_64_bit_ids_and_are_made_once_per_task(store: TaskStore) -> None:
    account = store.ensure_account("a")
    made = store.create_element(_new(account.id, "task_1"))
    assert 10**17 <= made.id < 2**63
    again = store.create_element(_new(account.id, "task_1", name="other"))
    assert again == made
    assert store.get_element(account.id, made.id) == made
    assert made.refer_keys == ["elements/task_1/refer_0.png"]


def test_elements_are_scoped_to_their_account(store: TaskStore) -> None:
    alice, bob = store.ensure_account("alice"), store.ensure_account("bob")
    element = store.create_element(_new(alice.id, "task_a"))
    assert store.get_element(bob.id, element.id) is None
    assert not store.delete_element(bob.id, element.id)
    assert store.list_elements(bob.id, limit=10).elements == []
    assert store.get_element(alice.id, element.id) is not None


def test_elements_page_newest_first_and_deletion_hides_them(
    store: TaskStore, clock: FakeClock
) -> None:
    account = store.ensure_account("a")
    made = []
    for i in range(7):
        clock.advance(1 if i % 2 else 0)  # some share a creation time: the id breaks the tie
        made.append(store.create_element(_new(account.id, f"task_{i}")))
    seen = []
    cursor = None
    while True:
        page = store.list_elements(account.id, limit=3, cursor=cursor)
        seen += [e.id for e in page.elements]
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = [e.id for e in sorted(made, key=lambda e: (e.created_at, e.id), reverse=True)]
    assert seen == expected
    assert store.delete_element(account.id, made[0].id)
    assert not store.delete_element(account.id, made[0].id)
    assert store.get_element(account.id, made[0].id) is None
    assert made[0].id not in [e.id for e in store.list_elements(account.id, limit=10).elements]
    with pytest.raises(InvalidParameter) as error:
        store.list_elements(account.id, limit=3, cursor="nonsense!")
    assert error.value.param == "cursor"
