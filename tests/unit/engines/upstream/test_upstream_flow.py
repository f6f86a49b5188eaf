"""The whole flow of an upstream engine against a fake upstream service (the foreign system:
httpx.MockTransport): create, wait, download; resume, dedupe, defer, cancel, time out; Kling's
signed tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest

from kirin_api.contract.errors import TaskErrorKind, TaskFailure
from kirin_api.engines.base import DeferTask, RenderCancelled, RenderControl
from kirin_api.engines.upstream import kirin, kling
from kirin_api.engines.upstream.client import RetryPolicy, UpstreamClient
from kirin_api.engines.upstream.kirin import KirinDialect
from kirin_api.engines.upstream.kling import KlingDialect
from kirin_api.engines.upstream.options import UpstreamOptions, parse_options
from kirin_api.engines.upstream.relay import UpstreamEngine
from tests.unit.engines.upstream.common import (
    ACCESS_KEY,
    API_KEY,
    API_KEY_ENV,
    BASE,
    CDN,
    KLING_ENV,
    KLING_TABLE,
    SECRET_KEY,
    TASK_ID,
    VIDEO_BYTES,
    t2v_job,
)

# --- the flow against a fake upstream ------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer of the fake upstream (a fresh httpx.Response each time)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    error: Exception | None = None

    def response(self) -> httpx.Response:
        if self.error is not None:
            raise self.error
        if self.content is not None:
            return httpx.Response(self.status, content=self.content, headers=self.headers)
        return httpx.Response(self.status, json=self.body, headers=self.headers)


class FakeUpstream:
    """The upstream service's side: scripted answers by (method, path), the last one repeated;
    every request recorded."""

    def __init__(self, routes: dict[tuple[str, str], list[Reply]]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        replies = self.routes.get((request.method, request.url.path))
        if not replies:
            return httpx.Response(
                404, json={"error": {"code": "not_found", "message": "no such route"}}
            )
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        return reply.response()

    def seen(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]

    def bodies(self, method: str, path: str) -> list[Any]:
        return [
            json.loads(r.content) for r in self.requests if (r.method, r.url.path) == (method, path)
        ]


class FakeTime:
    """The engine's clock, moved by its own sleeps (no real waiting)."""

    def __init__(self) -> None:
        self.now = 10_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


FIND = ("GET", "/model/v1/generation/tasks")
CREATE = ("POST", "/model/v1/generation")
READ = ("GET", "/model/v1/generation/task/up_1")
CANCEL = ("POST", "/model/v1/generation/task/up_1/cancel")
DOWNLOAD = ("GET", "/results/out.mp4")


def task(status: str, **more: Any) -> dict[str, Any]:
    return {"id": "up_1", "model": "kirin_v1_t2v", "status": status, **more}


def completed(**more: Any) -> dict[str, Any]:
    return task(
        "completed",
        progress=1.0,
        output=[{"type": "video", "content": [{"url": CDN}]}],
        usage={"cost": "0.1400"},
        **more,
    )


def kirin_options(**table: Any) -> UpstreamOptions:
    return parse_options(
        "kirin",
        "kirin_v1_t2v",
        {"base_url": BASE, "api_key_env": API_KEY_ENV, **table},
        {API_KEY_ENV: API_KEY},
        alone=True,
    )


def kirin_engine(
    upstream: FakeUpstream, time: FakeTime, retry: RetryPolicy | None = None
) -> UpstreamEngine:
    client = UpstreamClient(
        BASE,
        kirin.classify,
        transport=httpx.MockTransport(upstream),
        retry=retry,
        sleep=lambda seconds: None,
    )
    return UpstreamEngine(
        kirin_options(), KirinDialect(API_KEY), client, sleep=time.sleep, clock=time.clock
    )


def routes(**by_route: list[Reply]) -> dict[tuple[str, str], list[Reply]]:
    names = {"find": FIND, "create": CREATE, "read": READ, "cancel": CANCEL}
    table = {names[name]: replies for name, replies in by_route.items()}
    table.setdefault(DOWNLOAD, [Reply(content=VIDEO_BYTES)])
    return table


def test_engine_creates_waits_and_downloads_the_video(tmp_path: Path) -> None:
    upstream = FakeUpstream(
        routes(
            find=[Reply(body={"data": []})],
            create=[Reply(body=task("pending", progress=0))],
            read=[
                Reply(body=task("processing", progress=0.5)),
                Reply(body=completed()),
            ],
        )
    )
    progress: list[float] = []
    output = kirin_engine(upstream, FakeTime()).render(
        t2v_job(tmp_path), RenderControl(report_progress=progress.append)
    )
    assert upstream.seen() == [FIND, CREATE, READ, READ, DOWNLOAD]
    assert output.video_path is not None
    assert output.video_path.read_bytes() == VIDEO_BYTES
    assert output.video_path.parent == tmp_path
    assert output.watermarked_path is None
    assert output.metadata["upstream_task_id"] == "up_1"
    assert output.metadata["upstream_cost"] == "0.1400"
    assert pytest.approx(0.45) in progress
    assert progress[-1] == 1.0


def test_engine_sends_the_relayed_task_with_its_api_key(tmp_path: Path) -> None:
    upstream = FakeUpstream(
        routes(find=[Reply(body={"data": []})], create=[Reply(body=completed())])
    )
    kirin_engine(upstream, FakeTime()).render(t2v_job(tmp_path), RenderControl())
    find = upstream.requests[0]
    assert find.url.params["external_task_id"] == TASK_ID
    assert find.url.params["model"] == "kirin_v1_t2v"
    [body] = upstream.bodies(*CREATE)
    assert body["model"] == "kirin_v1_t2v"
    assert body["prompt"] == "a quiet lake"
    assert body["external_task_id"] == TASK_ID
    api_requests = [r for r in upstream.requests if r.url.host == "upstream.example.com"]
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in api_requests)


def test_engine_resumes_a_task_it_finds_without_creating_another(tmp_path: Path) -> None:
    upstream = FakeUpstream(
        routes(
            find=[Reply(body={"data": [task("processing", progress=0.2)]})],
            read=[Reply(body=completed())],
        )
    )
    output = kirin_engine(upstream, FakeTime()).render(t2v_job(tmp_path), RenderControl())
    assert upstream.seen() == [FIND, READ, DOWNLOAD]
    assert CREATE not in upstream.seen()
    assert output.metadata["upstream_task_id"] == "up_1"


def test_engine_takes_a_duplicate_refused_create_as_a_lookup(tmp_path: Path) -> None:
    upstream = FakeUpstream(
        routes(
            find=[Reply(body={"data": []}), Reply(body={"data": [completed()]})],
            create=[Reply(409, {"error": {"code": "conflict", "message": "duplicate id"}})],
        )
    )
    output = kirin_engine(upstream, FakeTime()).render(t2v_job(tmp_path), RenderControl())
    assert upstream.seen() == [FIND, CREATE, FIND, DOWNLOAD]
    assert output.video_path is not None
    assert output.video_path.read_bytes() == VIDEO_BYTES


def test_engine_defers_the_task_when_the_upstream_is_at_its_limit(tmp_path: Path) -> None:
    upstream = FakeUpstream(
        routes(
            find=[Reply(body={"data": []})],
            create=[
                Reply(
                    429,
                    {"error": {"code": "too_many_requests", "message": "slow down"}},
                    headers={"Retry-After": "7"},
                )
            ],
        )
    )
    with pytest.raises(DeferTask) as caught:
        kirin_engine(upstream, FakeTime()).render(t2v_job(tmp_path), RenderControl())
    assert caught.value.seconds == 7
    assert "slow down" in caught.value.reason
    assert upstream.seen() == [FIND, CREATE]


def test_engine_refused_credentials_are_094_naming_the_variable(tmp_path: Path) -> None:
    upstream = FakeUpstream(
        routes(find=[Reply(401, {"error": {"code": "unauthorized", "message": "bad key"}})])
    )
    with pytest.raises(TaskFailure) as caught:
        kirin_engine(upstream, FakeTime()).render(t2v_job(tmp_path), RenderControl())
    assert caught.value.kind is TaskErrorKind.RESOURCE_INSUFFICIENT
    assert API_KEY_ENV in caught.value.message
    assert API_KEY not in caught.value.message
    assert upstream.seen() == [FIND]


def test_engine_keeps_the_kind_and_message_of_a_failed_upstream_task(tmp_path: Path) -> None:
    failed = task(
        "failed", error={"code": "002001097", "message": "the image could not be fetched"}
    )
    upstream = FakeUpstream(
        routes(
            find=[Reply(body={"data": []})],
            create=[Reply(body=task("pending"))],
            read=[Reply(body=failed)],
        )
    )
    with pytest.raises(TaskFailure) as caught:
        kirin_engine(upstream, FakeTime()).render(t2v_job(tmp_path), RenderControl())
    assert caught.value.kind is TaskErrorKind.HTTP_ERROR
    assert "the image could not be fetched" in caught.value.message
    assert "002001097" in caught.value.message
    assert DOWNLOAD not in upstream.seen()


def test_engine_an_unreachable_upstream_is_095_after_retries(tmp_path: Path) -> None:
    refused = Reply(error=httpx.ConnectError("connection refused"))
    upstream = FakeUpstream({FIND: [refused], CREATE: [refused]})
    engine = kirin_engine(upstream, FakeTime(), retry=RetryPolicy(total=5.0, first=0.5))
    with pytest.raises(TaskFailure) as caught:
        engine.render(t2v_job(tmp_path), RenderControl())
    assert caught.value.kind is TaskErrorKind.INTERNAL
    assert "unavailable" in caught.value.message
    assert "connection refused" in caught.value.message
    assert len(upstream.requests) >= 2, "it was retried"
    assert set(upstream.seen()) == {FIND}, "nothing is created without an answer"


def test_engine_cancelled_here_cancels_upstream(tmp_path: Path) -> None:
    upstream = FakeUpstream(
        routes(
            find=[Reply(body={"data": []})],
            create=[Reply(body=task("pending"))],
            cancel=[Reply(body=task("cancelled"))],
        )
    )
    with pytest.raises(RenderCancelled):
        kirin_engine(upstream, FakeTime()).render(
            t2v_job(tmp_path), RenderControl(should_stop=lambda: True, cancelled=lambda: True)
        )
    assert upstream.seen() == [FIND, CREATE, CANCEL]


def test_a_worker_that_stops_leaves_the_upstream_task_running(tmp_path: Path) -> None:
    # Stopping (not cancelled): the next worker finds the upstream task by its id.
    upstream = FakeUpstream(
        routes(find=[Reply(body={"data": []})], create=[Reply(body=task("pending"))])
    )
    with pytest.raises(RenderCancelled):
        kirin_engine(upstream, FakeTime()).render(
            t2v_job(tmp_path), RenderControl(should_stop=lambda: True)
        )
    assert upstream.seen() == [FIND, CREATE]


def test_engine_times_out_a_task_that_never_finishes(tmp_path: Path) -> None:
    upstream = FakeUpstream(
        routes(
            find=[Reply(body={"data": []})],
            create=[Reply(body=task("pending"))],
            read=[Reply(body=task("processing", progress=0.1))],
        )
    )
    time = FakeTime()
    client = UpstreamClient(BASE, kirin.classify, transport=httpx.MockTransport(upstream))
    engine = UpstreamEngine(
        kirin_options(timeout_seconds=60),
        KirinDialect(API_KEY),
        client,
        sleep=time.sleep,
        clock=time.clock,
    )
    with pytest.raises(TaskFailure) as caught:
        engine.render(t2v_job(tmp_path), RenderControl())
    assert caught.value.kind is TaskErrorKind.INTERNAL
    assert "did not finish in 60s" in caught.value.message
    assert time.now - 10_000.0 <= 60 + 30 + 1


KLING_PATH = "/v1/videos/text2video"


def test_kling_engine_signs_with_a_cached_hs256_token(tmp_path: Path) -> None:
    upstream = FakeUpstream(
        {
            ("GET", f"{KLING_PATH}/{TASK_ID}"): [
                Reply(404, {"code": 1203, "message": "task not found"})
            ],
            ("POST", KLING_PATH): [
                Reply(
                    body={
                        "code": 0,
                        "message": "SUCCEED",
                        "data": {"task_id": "k_1", "task_status": "submitted"},
                    }
                )
            ],
            ("GET", f"{KLING_PATH}/k_1"): [
                Reply(
                    body={
                        "code": 0,
                        "data": {
                            "task_id": "k_1",
                            "task_status": "succeed",
                            "task_result": {"videos": [{"id": "v", "url": CDN}]},
                            "final_unit_deduction": "1",
                        },
                    }
                )
            ],
            DOWNLOAD: [Reply(content=VIDEO_BYTES)],
        }
    )
    time = FakeTime()
    options = parse_options("kling", "kirin_v1_t2v", KLING_TABLE, KLING_ENV, alone=True)
    client = UpstreamClient(
        options.base_url,
        kling.classify,
        transport=httpx.MockTransport(upstream),
        sleep=lambda seconds: None,
    )
    dialect = KlingDialect(ACCESS_KEY, SECRET_KEY, None, "kirin_v1_t2v")
    engine = UpstreamEngine(options, dialect, client, sleep=time.sleep, clock=time.clock)

    output = engine.render(t2v_job(tmp_path), RenderControl())

    assert upstream.seen() == [
        ("GET", f"{KLING_PATH}/{TASK_ID}"),
        ("POST", KLING_PATH),
        ("GET", f"{KLING_PATH}/k_1"),
        DOWNLOAD,
    ]
    api_requests = [r for r in upstream.requests if r.url.host == "api-singapore.klingai.com"]
    tokens = {r.headers["authorization"].removeprefix("Bearer ") for r in api_requests}
    assert len(tokens) == 1, "one token, reused"
    claims = jwt.decode(tokens.pop(), SECRET_KEY, algorithms=["HS256"])
    assert claims["iss"] == ACCESS_KEY
    assert abs(claims["exp"] - claims["nbf"] - 1805) <= 1
    [body] = upstream.bodies("POST", KLING_PATH)
    assert body["model_name"] == "kling-v1"
    assert body["duration"] == "5"
    assert body["external_task_id"] == TASK_ID
    assert output.metadata["upstream_task_id"] == "k_1"
    assert output.metadata["upstream_cost"] == "1"


def test_kling_token_is_cached_then_renewed_before_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_763_700_000.0]
    monkeypatch.setattr(kling, "time", SimpleNamespace(time=lambda: now[0]))
    dialect = KlingDialect(ACCESS_KEY, SECRET_KEY, None, "kirin_v1_t2v")
    first = dialect.headers()
    now[0] += 1000  # a token signed now would differ: this one is the cached one
    assert dialect.headers() == first
    now[0] += 600  # within 300 s of its expiry
    renewed = dialect.headers()
    assert renewed != first
    token = renewed["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(
        token, SECRET_KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False}
    )
    assert claims["nbf"] == int(now[0]) - 5
    assert claims["exp"] == int(now[0] + 1800)
