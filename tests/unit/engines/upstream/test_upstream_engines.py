"""Upstream engines: how the Kling and Kirin dialects read errors, what is relayed (media,
subjects, ids), the engines file's options, the whole flow against a fake upstream service (the
foreign system: httpx.MockTransport), and the chain that falls through on ``...094``."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest

from kirin_api.contract.errors import TaskErrorKind, TaskFailure
from kirin_api.contract.job import NO_VIDEO, RenderJob
from kirin_api.contract.registry import validate_request
from kirin_api.engines.base import DeferTask, RenderCancelled, RenderControl, RenderOutput
from kirin_api.engines.chain import EngineChain
from kirin_api.engines.upstream import kirin, kling
from kirin_api.engines.upstream.client import RetryPolicy, UpstreamClient
from kirin_api.engines.upstream.kirin import KirinDialect
from kirin_api.engines.upstream.kling import KlingDialect, kling_body
from kirin_api.engines.upstream.options import (
    UpstreamConfigError,
    UpstreamOptions,
    parse_options,
)
from kirin_api.engines.upstream.relay import UpstreamEngine, relay_params, set_path

BASE = "https://upstream.example.com"
CDN = "https://cdn.example.com/results/out.mp4"
ELEMENT_KEY = f"kirin:{BASE}"
TASK_ID = "task_01JTESTRELAY"
API_KEY_ENV = "KIRIN_UPSTREAM_API_KEY"
API_KEY = "sk-upstream-very-secret"
ACCESS_ENV, SECRET_ENV = "KLING_ACCESS_KEY", "KLING_SECRET_KEY"
ACCESS_KEY, SECRET_KEY = "ak-test-access", "sk-test-secret-of-kling-32-bytes-or-more"
VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42 not really a video"


# --- Kling's and Kirin's error answers ---------------------------------------------------------


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1004, 1100, 1101, 1102, 1103, 1304], ids=str
)
def test_kling_credential_codes_are_credentials(code: int) -> None:
    answer = httpx.Response(401, json={"code": code, "message": "auth failed"})
    assert kling.classify(answer) == ("credentials", f"Kling code {code}: auth failed")


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, 1200, "bad_request"),
        (400, 1201, "bad_request"),
        (404, 1203, "not_found"),
        (400, 1301, "refused"),
        (429, 1302, "busy"),
        (429, 1303, "busy"),
        (500, 5000, "unavailable"),
    ],
    ids=lambda value: str(value),
)
def test_kling_codes_have_their_kind(status: int, code: int, kind: str) -> None:
    answer = httpx.Response(status, json={"code": code, "message": "why"})
    classified = kling.classify(answer)
    assert classified is not None
    assert classified[0] == kind
    assert f"Kling code {code}" in classified[1]


def test_kling_success_envelope_is_no_error() -> None:
    answer = httpx.Response(200, json={"code": 0, "message": "SUCCEED", "data": {}})
    assert kling.classify(answer) is None


def test_kling_non_json_bad_gateway_is_unavailable() -> None:
    answer = httpx.Response(502, text="<html>Bad Gateway</html>")
    classified = kling.classify(answer)
    assert classified is not None
    assert classified[0] == "unavailable"


def _kirin_error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": f"it was {code}"}})


def test_kirin_success_is_no_error() -> None:
    assert kirin.classify(httpx.Response(200, json={"id": "t"})) is None
    assert kirin.classify(httpx.Response(201, json={"id": "t"})) is None


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "invalid_parameter", "bad_request"),
        (401, "unauthorized", "credentials"),
        (402, "insufficient_balance", "credentials"),
        (409, "conflict", "conflict"),
        (429, "too_many_requests", "busy"),
        (503, "unavailable", "unavailable"),
    ],
    ids=lambda value: str(value),
)
def test_kirin_error_codes_have_their_kind(status: int, code: str, kind: str) -> None:
    classified = kirin.classify(_kirin_error(status, code))
    assert classified is not None
    assert classified[0] == kind
    assert code in classified[1]
    assert f"it was {code}" in classified[1]


def test_kirin_non_json_server_error_is_unavailable() -> None:
    classified = kirin.classify(httpx.Response(500, text="Internal Server Error"))
    assert classified is not None
    assert classified[0] == "unavailable"


# --- Kling's body --------------------------------------------------------------------------------


def test_kling_body_sends_durations_as_strings() -> None:
    params = {
        "prompt": "a knight",
        "duration": 5,
        "multi_prompt": [{"prompt": "one", "duration": 2}, {"prompt": "two", "duration": 3}],
    }
    body = kling_body(params, None)
    assert body["duration"] == "5"
    assert body["multi_prompt"] == [
        {"prompt": "one", "duration": "2"},
        {"prompt": "two", "duration": "3"},
    ]
    assert params["duration"] == 5, "the relayed params are not changed"
    assert params["multi_prompt"][0]["duration"] == 2


def test_kling_body_wraps_the_element_video_in_refer_videos() -> None:
    body = kling_body({"element_video_list": {"video_url": "https://example.com/v.mp4"}}, None)
    assert body["element_video_list"] == {
        "refer_videos": [{"video_url": "https://example.com/v.mp4"}]
    }


def test_kling_body_adds_model_name_only_when_given() -> None:
    assert kling_body({"prompt": "p"}, "kling-v1-6")["model_name"] == "kling-v1-6"
    assert "model_name" not in kling_body({"prompt": "p"}, None)


# --- what is relayed -----------------------------------------------------------------------------


def make_job(
    body: dict[str, Any],
    *,
    inputs: dict[str, str] | None = None,
    public: frozenset[str] = frozenset(),
    element_refs: dict[int, dict[str, str]] | None = None,
    workdir: Path | None = None,
) -> RenderJob:
    validated = validate_request(body)
    return RenderJob(
        task_id=TASK_ID,
        model=validated.model,
        params=validated.params,
        spec=NO_VIDEO,
        seed=7,
        inputs=inputs or {},
        workdir=str(workdir or ""),
        public_urls=public,
        element_refs=element_refs or {},
    )


def local_file(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode("ascii")


def test_relay_drops_callback_url_and_sends_our_task_id() -> None:
    job = make_job(
        {
            "model": "kirin_v1_t2v",
            "prompt": "a quiet lake",
            "callback_url": "https://example.com/hook",
            "external_task_id": "the-users-own-id",
        }
    )
    params = relay_params(job, False, ELEMENT_KEY)
    assert "callback_url" not in params
    assert params["external_task_id"] == TASK_ID
    assert params["prompt"] == "a quiet lake"
    assert job.params["callback_url"] == "https://example.com/hook", "the job is not changed"


def test_relay_sends_a_private_image_url_as_base64_of_the_fetched_file(tmp_path: Path) -> None:
    content = b"\x89PNG fetched by the worker"
    job = make_job(
        {"model": "kirin_v1_i2v", "image": "http://10.0.0.5/a.png"},
        inputs={"image": local_file(tmp_path, "image.png", content)},
    )
    assert relay_params(job, False, ELEMENT_KEY)["image"] == b64(content)


def test_relay_keeps_a_public_image_url(tmp_path: Path) -> None:
    job = make_job(
        {"model": "kirin_v1_i2v", "image": "https://example.com/a.png"},
        inputs={"image": local_file(tmp_path, "image.png", b"png")},
        public=frozenset({"image"}),
    )
    assert relay_params(job, False, ELEMENT_KEY)["image"] == "https://example.com/a.png"


def test_relay_forwarding_private_urls_keeps_every_url(tmp_path: Path) -> None:
    job = make_job(
        {
            "model": "kirin_v1_i2v",
            "image": "http://10.0.0.5/a.png",
            "image_tail": "http://10.0.0.5/b.png",
        },
        inputs={
            "image": local_file(tmp_path, "a.png", b"a"),
            "image_tail": local_file(tmp_path, "b.png", b"b"),
        },
    )
    params = relay_params(job, True, ELEMENT_KEY)
    assert params["image"] == "http://10.0.0.5/a.png"
    assert params["image_tail"] == "http://10.0.0.5/b.png"


def test_relay_replaces_a_private_dynamic_mask_in_its_group(tmp_path: Path) -> None:
    job = make_job(
        {
            "model": "kirin_v1_i2v",
            "image": "https://example.com/a.png",
            "dynamic_masks": [
                {
                    "mask": "http://192.168.1.9/m.png",
                    "trajectories": [{"x": 1, "y": 2}, {"x": 3, "y": 4}],
                }
            ],
        },
        inputs={"dynamic_masks.0.mask": local_file(tmp_path, "m.png", b"mask")},
        public=frozenset({"image"}),
    )
    params = relay_params(job, False, ELEMENT_KEY)
    assert params["dynamic_masks"][0]["mask"] == b64(b"mask")
    assert params["dynamic_masks"][0]["trajectories"] == [{"x": 1, "y": 2}, {"x": 3, "y": 4}]
    assert params["image"] == "https://example.com/a.png"


def test_relay_replaces_a_private_refer_image_of_a_subject(tmp_path: Path) -> None:
    job = make_job(
        {
            "model": "kirin_custom_elements",
            "element_name": "Mochi",
            "reference_type": "image_refer",
            "element_image_list": {
                "frontal_image": "https://example.com/f.png",
                "refer_images": [
                    {"image_url": "https://example.com/r0.png"},
                    {"image_url": "http://127.0.0.1/r1.png"},
                ],
            },
        },
        inputs={
            "element_image_list.refer_images.1.image_url": local_file(tmp_path, "r1.png", b"r1")
        },
        public=frozenset(
            {"element_image_list.frontal_image", "element_image_list.refer_images.0.image_url"}
        ),
    )
    images = relay_params(job, False, ELEMENT_KEY)["element_image_list"]
    assert images["frontal_image"] == "https://example.com/f.png"
    assert images["refer_images"] == [
        {"image_url": "https://example.com/r0.png"},
        {"image_url": b64(b"r1")},
    ]


def test_relay_refuses_a_private_motion_video_with_094() -> None:
    job = make_job(
        {
            "model": "kirin_v3_motion_control",
            "image_url": "https://example.com/a.png",
            "video_url": "http://10.1.2.3/moves.mp4",
            "character_orientation": "image",
            "mode": "std",
        },
        public=frozenset({"image_url"}),
    )
    with pytest.raises(TaskFailure) as caught:
        relay_params(job, False, ELEMENT_KEY)
    assert caught.value.kind is TaskErrorKind.RESOURCE_INSUFFICIENT
    assert "video_url" in caught.value.message


def v3_with_elements(element_refs: dict[int, dict[str, str]], *ids: int | str) -> RenderJob:
    return make_job(
        {
            "model": "kirin_v3_i2v",
            "image": "https://example.com/a.png",
            "prompt": "a knight walks",
            "element_list": [{"element_id": element_id} for element_id in ids],
        },
        public=frozenset({"image"}),
        element_refs=element_refs,
    )


def test_relay_names_subjects_by_their_upstream_ids() -> None:
    job = v3_with_elements(
        {
            829836802793406551: {ELEMENT_KEY: "9001", "kling:https://other": "1"},
            7: {ELEMENT_KEY: "el-abc"},
        },
        "829836802793406551",
        7,
    )
    params = relay_params(job, False, ELEMENT_KEY)
    assert params["element_list"] == [{"element_id": 9001}, {"element_id": "el-abc"}]
    assert job.params["element_list"][0]["element_id"] == 829836802793406551


def test_relay_refuses_a_subject_unknown_upstream_with_094() -> None:
    job = v3_with_elements({7: {"kling:https://elsewhere.example.com": "1"}}, 7)
    with pytest.raises(TaskFailure) as caught:
        relay_params(job, False, ELEMENT_KEY)
    assert caught.value.kind is TaskErrorKind.RESOURCE_INSUFFICIENT
    assert "element_list.0.element_id" in caught.value.message


def test_set_path_walks_dicts_and_lists() -> None:
    params: dict[str, Any] = {
        "dynamic_masks": [{"mask": "a"}, {"mask": "b"}],
        "element_image_list": {"refer_images": [{"image_url": "x"}, {"image_url": "y"}]},
        "image_list": ["p", "q"],
    }
    set_path(params, "dynamic_masks.0.mask", "A")
    set_path(params, "element_image_list.refer_images.1.image_url", "Y")
    set_path(params, "image_list.1", "Q")
    set_path(params, "image", "top")
    assert params == {
        "dynamic_masks": [{"mask": "A"}, {"mask": "b"}],
        "element_image_list": {"refer_images": [{"image_url": "x"}, {"image_url": "Y"}]},
        "image_list": ["p", "Q"],
        "image": "top",
    }


# --- the engines file's options ------------------------------------------------------------------

KLING_TABLE: dict[str, Any] = {
    "engine": "kling",
    "base_url": "https://api-singapore.klingai.com/",
    "access_key_env": ACCESS_ENV,
    "secret_key_env": SECRET_ENV,
    "max_concurrent": 5,
}
KLING_ENV = {ACCESS_ENV: ACCESS_KEY, SECRET_ENV: SECRET_KEY}


def kling_options(**changes: Any) -> dict[str, Any]:
    return {**KLING_TABLE, **changes}


def test_parse_options_reads_the_secrets_from_the_named_variables() -> None:
    options = parse_options("kling", "kirin_v1_t2v", KLING_TABLE, KLING_ENV, alone=True)
    assert options.secrets == {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
    assert options.secret_env == (ACCESS_ENV, SECRET_ENV)
    assert options.base_url == "https://api-singapore.klingai.com"
    assert options.max_concurrent == 5


def test_parse_options_names_a_missing_variable_without_printing_secrets() -> None:
    environ = {ACCESS_ENV: ACCESS_KEY}
    with pytest.raises(UpstreamConfigError) as caught:
        parse_options("kling", "kirin_v1_t2v", KLING_TABLE, environ, alone=True)
    message = str(caught.value)
    assert SECRET_ENV in message
    assert ACCESS_KEY not in message
    assert SECRET_KEY not in message


def test_parse_options_refuses_an_unknown_option_when_alone() -> None:
    table = kling_options(num_steps=30)
    with pytest.raises(UpstreamConfigError, match="num_steps"):
        parse_options("kling", "kirin_v1_t2v", table, KLING_ENV, alone=True)


def test_parse_options_leaves_other_engines_options_to_them_in_a_chain() -> None:
    table = kling_options(engines=["diffusers", "kling"], num_steps=30)
    options = parse_options("kling", "kirin_v1_t2v", table, KLING_ENV, alone=False)
    assert options.engine == "kling"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("base_url", "ftp://api.klingai.com"),
        ("base_url", None),
        ("max_concurrent", 0),
        ("max_concurrent", "5"),
        ("max_concurrent", True),
        ("poll_interval", 0.0),
        ("poll_interval", 601),
        ("poll_interval", "2"),
        ("forward_private_urls", "yes"),
    ],
    ids=lambda value: repr(value),
)
def test_parse_options_refuses_a_bad_value(option: str, value: Any) -> None:
    with pytest.raises(UpstreamConfigError, match=option):
        parse_options(
            "kling", "kirin_v1_t2v", kling_options(**{option: value}), KLING_ENV, alone=True
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


def t2v_job(tmp_path: Path) -> RenderJob:
    return make_job({"model": "kirin_v1_t2v", "prompt": "a quiet lake"}, workdir=tmp_path)


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


# --- the chain -----------------------------------------------------------------------------------


class FakeEngine:
    """An engine that answers a render with ``outcome`` (an exception is raised)."""

    def __init__(self, name: str, outcome: Callable[[], RenderOutput]) -> None:
        self.name = name
        self._outcome = outcome
        self.calls = 0

    def supports(self, model: str) -> bool:
        return model == "kirin_v1_t2v"

    def render(self, job: RenderJob, control: RenderControl) -> RenderOutput:
        self.calls += 1
        return self._outcome()


def failing(kind: TaskErrorKind) -> Callable[[], RenderOutput]:
    def fail() -> RenderOutput:
        raise TaskFailure(kind, f"cannot ({kind.value})")

    return fail


def rendered() -> RenderOutput:
    return RenderOutput(frames=iter(()), video_path=Path("/tmp/out.mp4"))


def test_chain_falls_through_on_094_to_the_next_engine(tmp_path: Path) -> None:
    first = FakeEngine("diffusers", failing(TaskErrorKind.RESOURCE_INSUFFICIENT))
    second = FakeEngine("kling", rendered)
    output = EngineChain([first, second]).render(t2v_job(tmp_path), RenderControl())
    assert output.video_path == Path("/tmp/out.mp4")
    assert output.metadata["engine"] == "kling"
    assert (first.calls, second.calls) == (1, 1)


def test_chain_raises_other_failures_without_trying_the_next(tmp_path: Path) -> None:
    first = FakeEngine("diffusers", failing(TaskErrorKind.INTERNAL))
    second = FakeEngine("kling", rendered)
    with pytest.raises(TaskFailure) as caught:
        EngineChain([first, second]).render(t2v_job(tmp_path), RenderControl())
    assert caught.value.kind is TaskErrorKind.INTERNAL
    assert second.calls == 0


def test_chain_raises_094_of_the_last_engine(tmp_path: Path) -> None:
    first = FakeEngine("diffusers", failing(TaskErrorKind.RESOURCE_INSUFFICIENT))
    second = FakeEngine("kling", failing(TaskErrorKind.RESOURCE_INSUFFICIENT))
    with pytest.raises(TaskFailure) as caught:
        EngineChain([first, second]).render(t2v_job(tmp_path), RenderControl())
    assert caught.value.kind is TaskErrorKind.RESOURCE_INSUFFICIENT
    assert caught.value.message == "cannot (094)"
    assert (first.calls, second.calls) == (1, 1)


def test_relay_sends_a_base64_image_as_the_prepared_file_not_as_sent(tmp_path: Path) -> None:
    sent = b64(b"\x89PNG as the user sent it, with something after it")
    job = make_job(
        {"model": "kirin_v1_i2v", "image": sent},
        inputs={"image": local_file(tmp_path, "image.png", b"pixels written again")},
    )
    assert relay_params(job, False, ELEMENT_KEY)["image"] == b64(b"pixels written again")
