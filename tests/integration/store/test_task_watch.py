"""The read behind live events: the states of many tasks in one statement, on every store."""

from __future__ import annotations

from kirin_api.contract.ids import ulid
from kirin_api.store import NewTask, TaskStore
from tests.integration.store.conftest import FakeClock


def test_task_states_answer_the_tasks_that_exist(store: TaskStore, clock: FakeClock) -> None:
    account = store.ensure_account("a")
    made = []
    for _ in range(3):
        clock.advance(0.01)
        made.append(
            store.create_task(
                NewTask(
                    id="task_" + ulid(clock()),
                    account_id=account.id,
                    model="kirin_v1_t2v",
                    params={"prompt": "x"},
                    external_task_id=None,
                    callback_url=None,
                    created_at=clock(),
                )
            )
        )
    store.request_cancel(account.id, made[1].id)
    ids = [task.id for task in made] + [f"task_missing_{i}" for i in range(1200)]
    states = store.task_states(ids)
    assert states == {
        made[0].id: ("pending", 0.0),
        made[1].id: ("cancelled", 0.0),
        made[2].id: ("pending", 0.0),
    }
