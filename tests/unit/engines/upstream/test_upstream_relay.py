"""What an upstream engine relays: the body in Kling's shape, media (private URLs sent as base64
of the fetched file), subjects by their upstream ids, our task id as the external id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kirin_api.contract.errors import TaskErrorKind, TaskFailure
from kirin_api.contract.job import RenderJob
from kirin_api.engines.upstream.kling import kling_body
from kirin_api.engines.upstream.relay import relay_params, set_path
from tests.unit.engines.upstream.common import ELEMENT_KEY, TASK_ID, b64, local_file, make_job

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


def test_relay_sends_a_base64_image_as_the_prepared_file_not_as_sent(tmp_path: Path) -> None:
    sent = b64(b"\x89PNG as the user sent it, with something after it")
    job = make_job(
        {"model": "kirin_v1_i2v", "image": sent},
        inputs={"image": local_file(tmp_path, "image.png", b"pixels written again")},
    )
    assert relay_params(job, False, ELEMENT_KEY)["image"] == b64(b"pixels written again")
