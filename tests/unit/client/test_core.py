"""The sans-IO core driven by hand: retry decisions, polling, the create-retry recovery."""

from __future__ import annotations

import json

import httpx
import pytest

from kirin_api.client import errors as e
from kirin_api.client._core import Fetch, PollPolicy, RetryPolicy, Send, Sleep
from tests.unit.client.conftest import (
    FakeClock,
    answers,
    drive,
    error_body,
    make_core,
    task_body,
)


def _sleeps(actions: list[object]) -> list[float]:
    return [a.seconds for a in actions if isinstance(a, Sleep)]


def _sends(actions: list[object]) -> list[httpx.Request]:
    return [a.request for a in actions if isinstance(a, Send | Fetch)]


# -- the retry policy -----------------------------------------------------------------------------


def test_backoff_is_exponential_bounded_and_jittered() -> None:
    policy = RetryPolicy(max_retries=10, initial_delay=0.5, max_delay=4.0, jitter=0.25)
    no_jitter = [policy.delay(n, None, 0.0) for n in range(6)]
    assert no_jitter == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    full_jitter = [policy.delay(n, None, 0.999) for n in range(6)]
    for low, high in zip(full_jitter, no_jitter, strict=True):
        assert low is not None
        assert high is not None
        assert high * 0.75 <= low < high


def test_retry_after_is_honoured_never_earlier() -> None:
    policy = RetryPolicy()
    for rand in (0.0, 0.5, 0.999):
        delay = policy.delay(0, 3.0, rand)
        assert delay is not None
        assert 3.0 <= delay <= 3.3


def test_no_retry_past_max_retries_or_a_huge_retry_after() -> None:
    policy = RetryPolicy(max_retries=2, max_retry_after=60)
    assert policy.delay(2, None, 0.5) is None
    assert policy.delay(0, 3600, 0.5) is None
    assert RetryPolicy(max_retries=0).delay(0, None, 0.5) is None


def test_poll_interval_follows_the_hint_within_bounds() -> None:
    poll = PollPolicy(initial_interval=0.5, factor=2, max_interval=3, min_interval=0.1, max_hint=30)
    assert poll.interval(0, 1.0, 0.5) == 1.0
    assert poll.interval(5, 0.0, 0.5) == 0.1
    assert poll.interval(0, 999.0, 0.5) == 30
    assert [poll.interval(n, None, 0.0) for n in range(4)] == [0.5, 1.0, 2.0, 3.0]


# -- requests -------------------------------------------------------------------------------------


def test_requests_carry_auth_timeout_and_drop_unset_params() -> None:
    core = make_core()
    request = core.build("GET", "/model/v1/generation/tasks", params={"limit": 5, "cursor": None})
    assert request.headers["authorization"] == "Bearer kirin_sk_test"
    assert request.url == "http://kirin.test/model/v1/generation/tasks?limit=5"
    assert request.extensions["timeout"]["read"] == 60.0
    download = core.build_download("https://bucket.example/v.mp4?sig=1")
    assert "authorization" not in download.headers  # never leak the key to a storage host


def test_a_get_is_retried_on_429_and_5xx_then_answers() -> None:
    core = make_core()
    task, actions = drive(
        core.get("task_1"),
        answers(
            (429, error_body("too_many_requests"), {"Retry-After": "2"}),
            (503, error_body("unavailable")),
            task_body("processing"),
        ),
    )
    assert task.status == "processing"
    assert len(_sends(actions)) == 3
    first, second = _sleeps(actions)
    assert 2.0 <= first <= 2.2  # the server's Retry-After
    assert second == pytest.approx(1.0 * (1 - 0.25 * 0.5))  # backoff, second retry


def test_a_get_gives_up_after_max_retries_with_the_last_error() -> None:
    core = make_core(retry=RetryPolicy(max_retries=2))
    with pytest.raises(e.InternalServerError) as caught:
        drive(core.get("task_1"), answers(*[(500, error_body("internal_error"))] * 3))
    assert caught.value.status_code == 500


def test_4xx_other_than_429_is_not_retried() -> None:
    core = make_core()
    with pytest.raises(e.NotFoundError):
        drive(core.get("nope"), answers((404, error_body("not_found", param="task_id"))))


def test_connection_errors_are_retried_then_translated() -> None:
    core = make_core(retry=RetryPolicy(max_retries=1))
    request = httpx.Request("GET", "http://kirin.test/x")
    with pytest.raises(e.APIConnectionError) as caught:
        drive(
            core.get("task_1"),
            answers(httpx.ConnectError("refused", request=request), httpx.ReadError("reset")),
        )
    assert isinstance(caught.value.__cause__, httpx.ReadError)
    with pytest.raises(e.RequestTimeoutError):
        drive(core.get("t"), answers(*[httpx.ReadTimeout("slow", request=request)] * 2))


def test_a_create_without_external_id_is_sent_exactly_once() -> None:
    core = make_core()
    for failure in (
        (500, error_body("internal_error")),
        (429, error_body("too_many_requests"), {"Retry-After": "1"}),
        httpx.ConnectError("refused"),
    ):
        with pytest.raises(e.KirinError):
            _, actions = drive(core.create("kirin_v1_t2v", {"prompt": "x"}), answers(failure))
    _result, actions = drive(core.create("kirin_v1_t2v", {"prompt": "x"}), answers(task_body()))
    assert json.loads(actions[0].request.content) == {"model": "kirin_v1_t2v", "prompt": "x"}


def test_a_create_with_external_id_is_retried() -> None:
    core = make_core()
    task, actions = drive(
        core.create("kirin_v1_t2v", {"prompt": "x", "external_task_id": "ext-1"}),
        answers(httpx.ReadError("reset"), task_body(external_task_id="ext-1")),
    )
    assert task.external_task_id == "ext-1"
    assert len(_sends(actions)) == 2


def test_a_409_on_retry_means_the_first_attempt_landed() -> None:
    core = make_core()
    landed = task_body("processing", id="task_landed", external_task_id="ext-1")
    task, actions = drive(
        core.create("kirin_v1_t2v", {"prompt": "x", "external_task_id": "ext-1"}),
        answers(
            (502, error_body("bad_gateway")),
            (409, error_body("conflict", param="external_task_id")),
            {"object": "list", "data": [landed], "next_cursor": None},
        ),
    )
    assert task.id == "task_landed"
    lookup = _sends(actions)[-1]
    assert lookup.url.params["external_task_id"] == "ext-1"


def test_a_409_on_the_first_attempt_is_a_real_conflict() -> None:
    core = make_core()
    with pytest.raises(e.ConflictError) as caught:
        drive(
            core.create("kirin_v1_t2v", {"prompt": "x", "external_task_id": "ext-1"}),
            answers((409, error_body("conflict", param="external_task_id"))),
        )
    assert caught.value.param == "external_task_id"


def test_a_409_on_retry_for_another_model_stays_a_conflict() -> None:
    core = make_core()
    other = task_body(model="kirin_v1_i2v", external_task_id="ext-1")
    with pytest.raises(e.ConflictError):
        drive(
            core.create("kirin_v1_t2v", {"prompt": "x", "external_task_id": "ext-1"}),
            answers(
                httpx.ReadError("reset"),
                (409, error_body("conflict")),
                {"object": "list", "data": [other], "next_cursor": None},
            ),
        )


# -- waiting ---------------------------------------------------------------------------------------


def test_wait_follows_the_servers_poll_hint(clock: FakeClock) -> None:
    core = make_core(clock)
    seen: list[str] = []
    task, actions = drive(
        core.wait("task_1", timeout=60, on_update=lambda t: seen.append(t.status)),
        answers(
            (200, task_body("pending"), {"Retry-After": "2"}),
            (200, task_body("processing", progress=0.5), {"Retry-After": "3"}),
            task_body("completed"),
        ),
        clock,
    )
    assert task.status == "completed"
    assert _sleeps(actions) == [2.0, 3.0]
    assert seen == ["pending", "processing", "completed"]


def test_wait_falls_back_to_a_bounded_backoff(clock: FakeClock) -> None:
    core = make_core(clock, poll=PollPolicy(initial_interval=0.5, factor=2, max_interval=2))
    _, actions = drive(
        core.wait("task_1", timeout=None),
        answers(*[task_body("processing")] * 6, task_body("completed")),
        clock,
    )
    sleeps = _sleeps(actions)
    assert len(sleeps) == 6
    assert all(s <= 2.0 for s in sleeps)
    assert sleeps[0] < sleeps[1] < sleeps[2]


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_wait_returns_a_task_that_did_not_complete(status: str, clock: FakeClock) -> None:
    core = make_core(clock)
    task, _ = drive(core.wait("task_1"), answers(task_body("pending"), task_body(status)), clock)
    assert task.status == status
    if status == "failed":
        assert task.error is not None
        assert task.error.code == "002001095"


def test_wait_raises_only_when_the_timeout_passes(clock: FakeClock) -> None:
    core = make_core(clock)
    hint = {"Retry-After": "4"}
    with pytest.raises(e.WaitTimeoutError) as caught:
        drive(
            core.wait("task_1", timeout=10),
            answers(*[(200, task_body("processing", progress=0.25), hint)] * 10),
            clock,
        )
    assert caught.value.task.progress == 0.25
    assert clock.now == pytest.approx(1010.0)  # slept 4 + 4 + 2 (the rest), polled, gave up
    assert isinstance(caught.value, e.APITimeoutError)


def test_create_and_wait(clock: FakeClock) -> None:
    core = make_core(clock)
    task, actions = drive(
        core.create_and_wait("kirin_v1_t2v", {"prompt": "x"}),
        answers(task_body("pending"), task_body("completed")),
        clock,
    )
    assert task.video_url == "http://kirin.test/files/v.mp4?sig=1"
    assert [r.method for r in _sends(actions)] == ["POST", "GET"]


# -- downloads -------------------------------------------------------------------------------------


def test_download_refreshes_an_expired_url_once(tmp_path: object) -> None:
    from pathlib import Path

    core = make_core()
    done = task_body("completed")
    path, actions = drive(
        core.download("task_1", Path(str(tmp_path)), watermarked=True),
        answers(done, (403, error_body("forbidden")), done, (200, {})),
    )
    assert path == Path(str(tmp_path)) / "task_1.watermarked.mp4"
    fetches = [a for a in actions if isinstance(a, Fetch)]
    assert len(fetches) == 2
    assert str(fetches[0].request.url) == "http://kirin.test/files/w.mp4?sig=1"


def test_download_of_an_unfinished_task_raises_no_result() -> None:
    core = make_core()
    with pytest.raises(e.NoResultError):
        drive(core.download("task_1", "x.mp4"), answers(task_body("processing")))
    failed = drive(core.get("t"), answers(task_body("failed")))[0]
    with pytest.raises(e.NoResultError):
        drive(core.download(failed, "x.mp4"), answers())
    no_mark = task_body("completed")
    del no_mark["output"][0]["content"][0]["watermark_url"]
    plain = drive(core.get("t"), answers(no_mark))[0]
    with pytest.raises(e.NoResultError, match="watermark"):
        drive(core.download(plain, "x.mp4", watermarked=True), answers())
