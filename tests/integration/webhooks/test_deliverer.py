"""The delivery loop against a real store and a real HTTP receiver on loopback: retries with the
same webhook-id and growing delays, signatures, order, giving up, 410, redirects, SSRF."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kirin_api import verify_webhook
from kirin_api.contract.ids import new_task_id
from kirin_api.net.fetch import SafeFetcher
from kirin_api.storage import open_storage
from kirin_api.store import DeliveryRecord, NewTask, SqliteTaskStore, TaskRecord
from kirin_api.views import ResultLinks, task_object
from kirin_api.webhooks import Deliverer, DeliveryConfig, format_secret
from tests.webhook_receiver import Hit, fail_first, independent_signatures, receive

T2V = "kirin_v1_t2v"
SCHEDULE = (0.2, 0.4, 0.8)
BASE_URL = "http://127.0.0.1:9"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteTaskStore]:
    instance = SqliteTaskStore(tmp_path / "kirin.db")
    instance.migrate()
    yield instance
    instance.close()


@pytest.fixture
def links(tmp_path: Path, store: SqliteTaskStore) -> ResultLinks:
    return ResultLinks(
        storage=open_storage((tmp_path / "files").as_uri()),
        url_secret=store.secret("url-signing"),
        url_ttl_seconds=3600,
    )


def make_deliverer(
    store: SqliteTaskStore,
    links: ResultLinks,
    *,
    schedule: tuple[float, ...] = SCHEDULE,
    timeout: float = 2.0,
    sender: SafeFetcher | None = None,
) -> Deliverer:
    config = DeliveryConfig(
        schedule=schedule,
        base_url=BASE_URL,
        timeout=timeout,
        lease_seconds=timeout + 5,
        poll_interval=0.05,
        threads=2,
    )
    return Deliverer(store, links, config, sender=sender, allow_private=True)


@pytest.fixture
def running(store: SqliteTaskStore, links: ResultLinks) -> Iterator[threading.Event]:
    """Start a deliverer (default config) for the test; stopped at its end."""
    stop = threading.Event()
    threads = make_deliverer(store, links).start(stop)
    yield stop
    stop.set()
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive()


def submit(store: SqliteTaskStore, callback_url: str, account: str = "alice") -> TaskRecord:
    return store.create_task(
        NewTask(
            id=new_task_id(),
            account_id=store.ensure_account(account).id,
            model=T2V,
            params={"prompt": "a cat"},
            external_task_id=None,
            callback_url=callback_url,
            created_at=time.time(),
        )
    )


def deliveries(store: SqliteTaskStore, task: TaskRecord) -> list[DeliveryRecord]:
    found = store.list_deliveries(task.account_id, task.id)
    assert found is not None
    return found


def wait_deliveries(
    store: SqliteTaskStore, task: TaskRecord, states: list[str], timeout: float = 20
) -> list[DeliveryRecord]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = deliveries(store, task)
        if [d.state for d in found] == states:
            return found
        time.sleep(0.02)
    raise AssertionError(f"deliveries never became {states}: {deliveries(store, task)}")


def secret_of(store: SqliteTaskStore, task: TaskRecord) -> str:
    return format_secret(store.webhook_secrets(task.account_id).current)


def test_retried_with_the_same_id_growing_delays_and_a_valid_signature(
    store: SqliteTaskStore, links: ResultLinks, running: threading.Event
) -> None:
    with receive(fail_first(3)) as receiver:
        task = submit(store, receiver.url)
        hits = receiver.wait_for(lambda h: len(h) == 4)
        (done,) = wait_deliveries(store, task, ["delivered"])
    assert [hit.status for hit in hits] == [500, 500, 500, 200]
    assert len({hit.headers["webhook-id"] for hit in hits}) == 1
    assert hits[0].headers["webhook-id"] == done.id
    assert len({hit.body for hit in hits}) == 1
    secret = secret_of(store, task)
    for hit in hits:
        assert verify_webhook(secret, hit.headers, hit.body)["id"] == task.id
        assert set(hit.headers["webhook-signature"].split()) == independent_signatures(secret, hit)
        assert hit.headers["content-type"] == "application/json"
    # The delay after the n-th failure is the n-th of the schedule, plus at most 10% jitter
    # (and a little time to notice and send).
    gaps = [b.at - a.at for a, b in itertools.pairwise(hits)]
    for gap, delay in zip(gaps, SCHEDULE, strict=True):
        assert delay * 0.95 <= gap <= delay * 1.1 + 0.25, (gaps, SCHEDULE)
    assert gaps == sorted(gaps)
    assert (done.attempts, done.last_status_code, done.last_error) == (4, 200, None)
    assert done.delivered_at is not None


def test_every_status_change_is_delivered_in_order_as_get_shows_it(
    store: SqliteTaskStore, links: ResultLinks, running: threading.Event
) -> None:
    # The first attempt of "pending" fails: "processing" and "completed" must wait for it.
    with receive(fail_first(1)) as receiver:
        task = submit(store, receiver.url)
        claimed = store.claim("w", [T2V], 60, 3)
        assert claimed is not None
        result = {
            "content": [{"type": "video", "key": f"results/{task.id}/video.mp4", "duration": 5}]
        }
        assert store.complete(task.id, claimed.attempt, result, "0.1400", {"engine": "preview"})
        hits = receiver.wait_for(lambda h: len(h) == 4)
        wait_deliveries(store, task, ["delivered"] * 3)
    assert [(h.status_reported, h.status) for h in hits] == [
        ("pending", 500),
        ("pending", 200),
        ("processing", 200),
        ("completed", 200),
    ]
    final = store.get_task(task.account_id, task.id)
    assert final is not None
    completed = hits[-1].json
    assert completed == task_object(final, links, BASE_URL)
    assert completed["output"][0]["content"][0]["url"].startswith(BASE_URL + "/files/results/")
    assert hits[2].json["progress"] == 0.0
    assert "output" not in hits[2].json


def test_a_receiver_that_always_fails_is_given_up_on(
    store: SqliteTaskStore, links: ResultLinks, running: threading.Event
) -> None:
    with receive(lambda _i, _p: 500) as receiver:
        task = submit(store, receiver.url)
        (failed,) = wait_deliveries(store, task, ["failed"])
        time.sleep(0.5)
        assert len(receiver.hits) == len(SCHEDULE) + 1
    assert failed.attempts == len(SCHEDULE) + 1
    assert failed.last_status_code == 500
    assert failed.last_error is not None
    assert "gave up after 4 attempts" in failed.last_error
    assert failed.next_attempt_at is None
    assert not running.is_set()
    # The loop lives on: the next task is delivered.
    with receive() as receiver:
        other = submit(store, receiver.url)
        wait_deliveries(store, other, ["delivered"])


def test_a_receiver_that_never_answers_times_out_and_is_given_up_on(
    store: SqliteTaskStore, links: ResultLinks
) -> None:
    stop = threading.Event()
    deliverer = make_deliverer(store, links, schedule=(0.1,), timeout=0.5)
    threads = deliverer.start(stop)
    try:
        with receive(lambda _i, _p: None) as receiver:
            task = submit(store, receiver.url)
            (failed,) = wait_deliveries(store, task, ["failed"])
    finally:
        stop.set()
    assert failed.attempts == 2
    assert failed.last_status_code is None
    assert failed.last_error is not None
    assert "timed out" in failed.last_error
    for thread in threads:
        thread.join(5)


def test_410_stops_every_further_delivery_of_that_task(
    store: SqliteTaskStore, links: ResultLinks, running: threading.Event
) -> None:
    with receive(lambda i, _p: 410 if i == 0 else 200) as receiver:
        task = submit(store, receiver.url)
        wait_deliveries(store, task, ["gone"])
        claimed = store.claim("w", [T2V], 60, 3)
        assert claimed is not None
        store.fail(task.id, claimed.attempt, "002001095", "boom")
        other = submit(store, receiver.url)
        wait_deliveries(store, other, ["delivered"])
        time.sleep(0.3)
        hits = list(receiver.hits)
    assert [d.state for d in deliveries(store, task)] == ["gone", "gone", "gone"]
    assert [(h.json["id"], h.status) for h in hits] == [(task.id, 410), (other.id, 200)]


def test_redirects_are_not_followed(
    store: SqliteTaskStore, links: ResultLinks, running: threading.Event
) -> None:
    with receive(lambda _i, path: 302 if path == "/hook" else 200) as receiver:
        task = submit(store, receiver.url)
        (failed,) = wait_deliveries(store, task, ["failed"])
        hits: list[Hit] = list(receiver.hits)
    assert [h.path for h in hits] == ["/hook"] * (len(SCHEDULE) + 1)
    assert failed.last_status_code == 302
    assert failed.last_error is not None
    assert "redirects are not followed" in failed.last_error


def test_a_name_that_resolves_to_a_private_address_is_never_delivered_to(
    store: SqliteTaskStore, links: ResultLinks
) -> None:
    """Without allow_private, the address is checked (resolved, every answer) at each attempt."""
    with receive() as receiver:
        sender = SafeFetcher(
            allow_private=False, resolver=lambda _host, _port: ["127.0.0.1"], timeout=2
        )
        deliverer = make_deliverer(store, links, schedule=(0.1, 0.1), sender=sender)
        stop = threading.Event()
        deliverer.start(stop)
        try:
            task = submit(store, f"http://hooks.example.com:{receiver.port}/hook")
            (failed,) = wait_deliveries(store, task, ["failed"])
        finally:
            stop.set()
        assert receiver.hits == []
    assert failed.attempts == 3
    assert failed.last_error is not None
    assert "refused address 127.0.0.1" in failed.last_error


def test_a_url_that_can_never_work_fails_at_once(
    store: SqliteTaskStore, links: ResultLinks, running: threading.Event
) -> None:
    task = submit(store, "http://user:pw@127.0.0.1:9/hook")  # the API refuses this at submit
    (failed,) = wait_deliveries(store, task, ["failed"])
    assert failed.attempts == 1


def test_two_deliverers_never_send_one_delivery_twice(
    store: SqliteTaskStore, links: ResultLinks
) -> None:
    stop = threading.Event()
    deliverers = [make_deliverer(store, links) for _ in range(3)]
    try:
        with receive() as receiver:
            for deliverer in deliverers:
                deliverer.start(stop)
            tasks = [submit(store, receiver.url) for _ in range(20)]
            receiver.wait_for(lambda h: len(h) >= 20)
            time.sleep(0.3)
            hits = list(receiver.hits)
    finally:
        stop.set()
    assert sorted(h.json["id"] for h in hits) == sorted(t.id for t in tasks)


def test_signed_with_both_secrets_during_a_rotation(
    store: SqliteTaskStore, links: ResultLinks, running: threading.Event
) -> None:
    account = store.ensure_account("alice").id
    old = format_secret(store.webhook_secrets(account).current)
    new = format_secret(store.rotate_webhook_secret(account, 3600).current)
    with receive() as receiver:
        task = submit(store, receiver.url)
        (hit,) = receiver.wait_for(lambda h: len(h) == 1)
        store.finish_webhook_rotation(account)
        claimed = store.claim("w", [T2V], 60, 3)
        assert claimed is not None
        hits = receiver.wait_for(lambda h: len(h) == 2)
    both = hit.headers["webhook-signature"].split()
    assert len(both) == 2
    assert set(both) == independent_signatures(new, hit) | independent_signatures(old, hit)
    assert both[0] in independent_signatures(new, hit)
    for secret in (old, new):
        assert verify_webhook(secret, hit.headers, hit.body)["id"] == task.id
    after = hits[1]
    assert after.headers["webhook-signature"].split() == list(independent_signatures(new, after))
    verify_webhook(new, after.headers, after.body)
