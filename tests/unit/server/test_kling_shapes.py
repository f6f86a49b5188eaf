from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kirin_api.contract.errors import (
    ConcurrencyLimited,
    Conflict,
    InsufficientBalance,
    InternalError,
    InvalidMedia,
    InvalidParameter,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    RequestError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from kirin_api.contract.registry import validate_request
from kirin_api.contract.status import TaskStatus
from kirin_api.server.dialects.kling.routes import PRODUCTS, Product, kirin_body
from kirin_api.server.dialects.kling.shapes import status_and_code, task_data
from kirin_api.store.base import TaskRecord
from kirin_api.views import ResultLinks

BASE_URL = "http://testserver/"
CREATED_AT = 1_763_700_000.123
UPDATED_AT = 1_763_700_042.987
VIDEO_URL = "https://example.com/moves.mp4"


class NoPresignStorage:
    """Storage that presigns nothing, so ResultLinks signs its own /files URLs."""

    def presigned_url(self, key: str, expires_in: int) -> str | None:
        return None


def links() -> ResultLinks:
    return ResultLinks(
        storage=NoPresignStorage(),  # type: ignore[arg-type]
        url_secret=b"x" * 32,
        url_ttl_seconds=3600,
        clock=lambda: CREATED_AT,
    )


def record(status: TaskStatus = TaskStatus.PENDING, **changes: Any) -> TaskRecord:
    task = TaskRecord(
        id="task_01JABCDEF",
        account_id="acct_1",
        model="kirin_v1_t2v",
        status=status,
        progress=0.0,
        params={"prompt": "a cat", "watermark_info": {"enabled": False}},
        external_task_id=None,
        callback_url=None,
        created_at=CREATED_AT,
        updated_at=UPDATED_AT,
    )
    return replace(task, **changes)


def video_result(**item: Any) -> dict[str, Any]:
    content = {"type": "video", "key": "results/task_01JABCDEF/video.mp4", "duration": 5}
    return {"content": [{**content, **item}], "job_id": "job_7"}


def data(task: TaskRecord) -> dict[str, Any]:
    return task_data(task, links(), BASE_URL)


def product(path: str) -> Product:
    return next(p for p in PRODUCTS if p.path == path)


T2V = product("/v1/videos/text2video")
I2V = product("/v1/videos/image2video")
ELEMENTS = product("/v1/general/advanced-custom-elements")


# --- task_data: status ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kling"),
    [
        (TaskStatus.PENDING, "submitted"),
        (TaskStatus.PROCESSING, "processing"),
        (TaskStatus.COMPLETED, "succeed"),
        (TaskStatus.FAILED, "failed"),
        (TaskStatus.CANCELLED, "failed"),
    ],
)
def test_statuses_map_to_klings(status: TaskStatus, kling: str) -> None:
    assert data(record(status))["task_status"] == kling


@pytest.mark.parametrize("status", [TaskStatus.PENDING, TaskStatus.PROCESSING])
def test_an_unfinished_task_has_an_empty_status_message(status: TaskStatus) -> None:
    assert data(record(status))["task_status_msg"] == ""


def test_a_failed_task_says_its_message_and_code() -> None:
    task = record(TaskStatus.FAILED, error_code="002001095", error_message="the render failed")
    message = data(task)["task_status_msg"]
    assert "the render failed" in message
    assert "002001095" in message


def test_a_cancelled_task_is_failed_with_the_cancelled_message() -> None:
    shaped = data(record(TaskStatus.CANCELLED))
    assert shaped["task_status"] == "failed"
    assert shaped["task_status_msg"] == "task was cancelled"


# --- task_data: fields ---------------------------------------------------------------------


def test_times_are_integer_milliseconds() -> None:
    shaped = data(record())
    assert shaped["created_at"] == 1_763_700_000_123
    assert shaped["updated_at"] == 1_763_700_042_987
    assert type(shaped["created_at"]) is int
    assert type(shaped["updated_at"]) is int


def test_the_task_id_is_ours() -> None:
    assert data(record())["task_id"] == "task_01JABCDEF"


@pytest.mark.parametrize("status", [TaskStatus.PENDING, TaskStatus.PROCESSING])
def test_nothing_is_deducted_before_completion(status: TaskStatus) -> None:
    assert data(record(status))["final_unit_deduction"] == "0"


def test_a_completed_task_deducts_its_cost() -> None:
    task = record(TaskStatus.COMPLETED, usage_cost="0.35", result=video_result())
    assert data(task)["final_unit_deduction"] == "0.35"


def test_task_info_is_empty_without_an_external_task_id() -> None:
    assert data(record())["task_info"] == {}


def test_task_info_holds_the_external_task_id_when_set() -> None:
    assert data(record(external_task_id="mine-1"))["task_info"] == {"external_task_id": "mine-1"}


@pytest.mark.parametrize("enabled", [True, False])
def test_watermark_info_follows_the_params(enabled: bool) -> None:
    task = record(params={"prompt": "a cat", "watermark_info": {"enabled": enabled}})
    assert data(task)["watermark_info"] == {"enabled": enabled}


def test_watermark_info_is_disabled_when_the_params_lack_it() -> None:
    assert data(record(params={"prompt": "a cat"}))["watermark_info"] == {"enabled": False}


@pytest.mark.parametrize(
    "status", [TaskStatus.PENDING, TaskStatus.PROCESSING, TaskStatus.FAILED, TaskStatus.CANCELLED]
)
def test_an_unfinished_or_failed_task_has_no_result(status: TaskStatus) -> None:
    assert "task_result" not in data(record(status))


# --- task_data: results --------------------------------------------------------------------


def test_a_completed_video_has_an_id_a_url_and_a_duration_string() -> None:
    task = record(TaskStatus.COMPLETED, usage_cost="0.35", result=video_result())
    videos = data(task)["task_result"]["videos"]
    assert len(videos) == 1
    video = videos[0]
    assert video["id"] == "job_7"
    assert video["url"].startswith("http://testserver/")
    assert "results/task_01JABCDEF/video.mp4" in video["url"]
    assert video["duration"] == "5.0"
    assert "watermark_url" not in video


def test_a_fractional_duration_is_a_rounded_string() -> None:
    task = record(TaskStatus.COMPLETED, result=video_result(duration=5.03333333))
    assert data(task)["task_result"]["videos"][0]["duration"] == "5.033"


def test_a_watermarked_video_has_a_watermark_url() -> None:
    result = video_result(watermark_key="results/task_01JABCDEF/video-wm.mp4")
    video = data(record(TaskStatus.COMPLETED, result=result))["task_result"]["videos"][0]
    assert "results/task_01JABCDEF/video-wm.mp4" in video["watermark_url"]
    assert video["watermark_url"] != video["url"]


def test_a_video_without_a_job_id_is_named_by_the_task() -> None:
    result = video_result()
    del result["job_id"]
    video = data(record(TaskStatus.COMPLETED, result=result))["task_result"]["videos"][0]
    assert video["id"] == "task_01JABCDEF"


def test_a_completed_element_has_an_integer_id_and_its_name() -> None:
    task = record(
        TaskStatus.COMPLETED,
        model="kirin_custom_elements",
        params={
            "element_name": "Kiri",
            "element_description": "a fox",
            "reference_type": "video_refer",
            "element_video_list": {"video_url": VIDEO_URL},
        },
        result={"content": [{"type": "element", "element_id": "8123456789"}]},
    )
    result = data(task)["task_result"]
    assert "videos" not in result
    element = result["elements"][0]
    assert element["element_id"] == 8_123_456_789
    assert type(element["element_id"]) is int
    assert element["element_name"] == "Kiri"
    assert element["element_description"] == "a fox"
    assert element["reference_type"] == "video_refer"
    assert element["status"] == "succeed"


# --- the error table -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (InvalidParameter("bad", param="prompt"), (400, 1201)),
        (InvalidRequest("bad"), (400, 1200)),
        (InvalidMedia("bad", param="image"), (400, 1201)),
        (Conflict("bad"), (409, 1201)),
        (InsufficientBalance("poor"), (429, 1102)),
        (ConcurrencyLimited("busy", retry_after=5), (429, 1303)),
        (TooManyRequests("fast", retry_after=1), (429, 1302)),
        (NotFound("gone"), (404, 1203)),
        (MethodNotAllowed("no"), (405, 1202)),
        (Unavailable("down"), (503, 5001)),
        (InternalError("oops"), (500, 5000)),
        (Unauthorized("who"), (401, 1000)),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, RequestError) else None,
)
def test_errors_map_to_klings_status_and_code(
    error: RequestError, expected: tuple[int, int]
) -> None:
    assert status_and_code(error) == expected


def test_an_unauthorized_error_with_a_kling_code_keeps_it() -> None:
    error = Unauthorized("the token has expired")
    error.kling_code = 1004  # type: ignore[attr-defined]
    assert status_and_code(error) == (401, 1004)


# --- kirin_body: model_name ----------------------------------------------------------------


def test_text2video_without_model_name_is_v1_t2v() -> None:
    assert kirin_body(T2V, {"prompt": "a cat"}) == {"model": "kirin_v1_t2v", "prompt": "a cat"}


def test_text2video_kling_v1_6_is_v1_t2v() -> None:
    body = kirin_body(T2V, {"model_name": "kling-v1-6", "prompt": "a cat"})
    assert body == {"model": "kirin_v1_t2v", "prompt": "a cat"}


def test_an_empty_model_name_is_the_default() -> None:
    assert kirin_body(T2V, {"model_name": "", "prompt": "a cat"})["model"] == "kirin_v1_t2v"


def test_image2video_kling_v3_is_v3_i2v() -> None:
    body = kirin_body(I2V, {"model_name": "kling-v3", "image": "https://example.com/a.png"})
    assert body["model"] == "kirin_v3_i2v"
    assert "model_name" not in body


def test_image2video_kling_v1_5_is_v1_i2v() -> None:
    body = kirin_body(I2V, {"model_name": "kling-v1-5", "image": "https://example.com/a.png"})
    assert body["model"] == "kirin_v1_i2v"


def test_the_older_model_field_is_taken_as_model_name() -> None:
    body = kirin_body(I2V, {"model": "kling-v3", "image": "https://example.com/a.png"})
    assert body == {"model": "kirin_v3_i2v", "image": "https://example.com/a.png"}


def test_an_unknown_model_name_is_refused_listing_the_accepted_names() -> None:
    with pytest.raises(InvalidParameter) as refused:
        kirin_body(T2V, {"model_name": "kling-v2-master", "prompt": "a cat"})
    assert refused.value.param == "model_name"
    assert "kling-v2-master" in refused.value.message
    assert "kling-v1" in refused.value.message
    assert "kling-v1-6" in refused.value.message


def test_a_model_name_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidParameter) as refused:
        kirin_body(T2V, {"model_name": 16, "prompt": "a cat"})
    assert refused.value.param == "model_name"


def test_model_for_takes_model_name_out_of_the_body() -> None:
    body: dict[str, Any] = {"model_name": "kling-v1-6", "prompt": "a cat"}
    assert T2V.model_for(body) == "kirin_v1_t2v"
    assert body == {"prompt": "a cat"}


def test_a_product_without_model_names_has_its_fixed_model() -> None:
    body: dict[str, Any] = {"model_name": "kling-v1", "element_name": "Kiri"}
    assert ELEMENTS.model_for(body) == "kirin_custom_elements"
    assert body == {"model_name": "kling-v1", "element_name": "Kiri"}
    assert ELEMENTS.models == ["kirin_custom_elements"]


def test_custom_elements_leaves_model_name_for_the_contract_to_refuse() -> None:
    body = kirin_body(ELEMENTS, {"model_name": "kling-v1", "element_name": "Kiri"})
    assert body["model"] == "kirin_custom_elements"
    assert body["model_name"] == "kling-v1"
    with pytest.raises(InvalidParameter) as refused:
        validate_request(body)
    assert refused.value.param == "model_name"


def test_custom_elements_refuses_a_model_field() -> None:
    with pytest.raises(InvalidParameter) as refused:
        kirin_body(ELEMENTS, {"model": "kling-v1", "element_name": "Kiri"})
    assert refused.value.param == "model"


def test_a_product_lists_each_of_its_models_once() -> None:
    assert T2V.models == ["kirin_v1_t2v"]
    assert I2V.models == ["kirin_v1_i2v", "kirin_v3_i2v"]


@pytest.mark.parametrize("body", [[], "prompt", None, 5])
def test_a_body_that_is_not_an_object_is_an_invalid_request(body: object) -> None:
    with pytest.raises(InvalidRequest):
        kirin_body(T2V, body)


def test_kirin_body_does_not_mutate_the_request_body() -> None:
    request = {"model_name": "kling-v1-6", "prompt": "a cat"}
    kirin_body(T2V, request)
    assert request == {"model_name": "kling-v1-6", "prompt": "a cat"}


# --- kirin_body: element_video_list ----------------------------------------------------------


def test_refer_videos_of_one_video_becomes_the_contracts_video_url() -> None:
    body = kirin_body(
        ELEMENTS,
        {
            "element_name": "Kiri",
            "reference_type": "video_refer",
            "element_video_list": {"refer_videos": [{"video_url": VIDEO_URL}]},
        },
    )
    assert body["element_video_list"] == {"video_url": VIDEO_URL}
    assert validate_request(body).params["element_video_list"] == {"video_url": VIDEO_URL}


@pytest.mark.parametrize(
    "videos",
    [
        pytest.param(
            {"refer_videos": [{"video_url": VIDEO_URL}, {"video_url": VIDEO_URL}]}, id="two"
        ),
        pytest.param({"refer_videos": []}, id="none"),
        pytest.param({"refer_videos": {"video_url": VIDEO_URL}}, id="not a list"),
        pytest.param({"refer_videos": [VIDEO_URL]}, id="item not an object"),
        pytest.param(
            {"refer_videos": [{"video_url": VIDEO_URL}], "video_url": VIDEO_URL}, id="extra key"
        ),
    ],
)
def test_refer_videos_other_than_one_object_is_refused(videos: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter) as refused:
        kirin_body(ELEMENTS, {"element_name": "Kiri", "element_video_list": videos})
    assert refused.value.param == "element_video_list.refer_videos"


def test_an_element_video_list_already_in_the_contracts_shape_is_unchanged() -> None:
    body = kirin_body(ELEMENTS, {"element_video_list": {"video_url": VIDEO_URL}})
    assert body["element_video_list"] == {"video_url": VIDEO_URL}
