"""Property-based fuzzing of ``POST /model/v1/generation``: no input ever gets a 5xx."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kirin_api.contract.registry import KNOWN_MODELS, model_schemas
from tests.e2e.harness import Kirin
from tests.media_factory import b64, image_bytes

PARAM_NAMES = sorted(
    {name for model in model_schemas() for name in model["parameters"].get("properties", {})}
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["5", "10", "std", "pro", "16:9", "simple", "on", "yes", "image", "video"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)

bodies = st.one_of(
    st.fixed_dictionaries(
        {"model": st.sampled_from(KNOWN_MODELS) | st.text(max_size=20)},
        optional={name: json_values for name in PARAM_NAMES if name != "model"},
    ),
    st.dictionaries(st.text(max_size=20), json_values, max_size=6),
    json_values,
)


@pytest.fixture(scope="module")
def client(kirin: Kirin) -> httpx.Client:
    # Valid bodies make tasks: cancel-free, they just queue for this module's own server.
    return kirin.client(kirin.create_key(account="fuzzer"))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_no_body_gets_a_server_error(client: httpx.Client, body: Any) -> None:
    # json.dumps writes NaN and Infinity as Python's json module reads them: hostile on purpose.
    response = client.post("/model/v1/generation", content=json.dumps(body))
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        error = response.json()["error"]
        assert error["code"]
        assert error["message"]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_no_raw_bytes_get_a_server_error(client: httpx.Client, raw: bytes) -> None:
    response = client.post("/model/v1/generation", content=raw)
    assert response.status_code < 500, response.text


def _valid_bodies() -> list[dict[str, Any]]:
    image = b64(image_bytes(320, 320))
    return [
        {
            "model": "kirin_v1_t2v",
            "prompt": "a cat",
            "camera_control": {"type": "simple", "config": {"pan": 1}},
        },
        {
            "model": "kirin_v1_i2v",
            "image": image,
            "dynamic_masks": [
                {"mask": image, "trajectories": [{"x": 1, "y": 1}, {"x": 2, "y": 2}]}
            ],
        },
        {"model": "kirin_v1_6_multi_i2v", "prompt": "x", "image_list": [{"image": image}]},
        {
            "model": "kirin_v3_i2v",
            "image": image,
            "multi_shot": True,
            "shot_type": "customize",
            "duration": "5",
            "multi_prompt": [{"index": 1, "prompt": "a", "duration": "5"}],
        },
        {
            "model": "kirin_v3_motion_control",
            "image_url": image,
            # Loopback: this server refuses it by address, so no task ever reaches out.
            "video_url": "http://127.0.0.1:9/v.mp4",
            "character_orientation": "video",
            "mode": "std",
        },
        {
            "model": "kirin_custom_elements",
            "element_name": "x",
            "reference_type": "image_refer",
            "element_image_list": {"frontal_image": image, "refer_images": [{"image_url": image}]},
        },
    ]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside a JSON value that a mutation can replace."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_mutation_of_a_valid_body_gets_a_server_error(
    client: httpx.Client, data: st.DataObject
) -> None:
    body = copy.deepcopy(data.draw(st.sampled_from(_valid_bodies())))
    path = data.draw(st.sampled_from([p for p in _paths(body) if p != ("model",)]))
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = data.draw(json_values)
    response = client.post("/model/v1/generation", content=json.dumps(body))
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert response.json()["error"]["code"] in {
            "invalid_parameter",
            "invalid_media",
            "invalid_request",
        }
