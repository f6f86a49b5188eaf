from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from kirin_api.contract.errors import InvalidParameter
from kirin_api.contract.registry import model_schemas, validate_request
from kirin_api.server.dialects.vtrix_cli import (
    CANCELLED_MESSAGE,
    decimal_text,
    for_cli,
    unwrap_input_envelope,
)
from kirin_api.server.dialects.vtrix_spec import model_spec, model_summary
from tests.vtrix_cli import CliError, coerce

ENDPOINT = "http://h/model/v1/generation"
CLI_TYPES = {"string", "int", "float", "boolean", "array", "object"}
IMG_URL = "https://example.com/a.png"


def schemas() -> dict[str, dict[str, Any]]:
    return {schema["id"]: schema for schema in model_schemas()}


def spec_of(model: str) -> dict[str, Any]:
    return model_spec(schemas()[model], ENDPOINT)


def all_specs() -> list[dict[str, Any]]:
    return [model_spec(schema, ENDPOINT) for schema in model_schemas()]


def walk(parameters: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for parameter in parameters:
        yield parameter
        yield from walk(parameter.get("children", []))


def all_parameters() -> Iterator[tuple[str, dict[str, Any]]]:
    for spec in all_specs():
        for parameter in walk(spec["parameters"]):
            yield spec["model_id"], parameter


def by_name(parameters: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {parameter["name"]: parameter for parameter in parameters}


# --- the Vtrix CLI's coercion of --param k=v, reproduced --------------------------------------


def cli_body(model: str, raw: dict[str, str]) -> dict[str, Any]:
    return {"model": model, **coerce(spec_of(model)["parameters"], raw)}


# --- unwrap_input_envelope -------------------------------------------------------------------


def test_a_flat_body_is_unchanged() -> None:
    body = {"model": "kirin_v1_t2v", "prompt": "a cat", "duration": "5"}
    assert unwrap_input_envelope(body) == body


def test_a_body_that_is_not_an_object_is_unchanged() -> None:
    assert unwrap_input_envelope(["model", "input"]) == ["model", "input"]


def test_the_clis_envelope_is_unwrapped_to_the_flat_body() -> None:
    body = {"model": "kirin_v1_t2v", "input": [{"params": {"prompt": "a cat", "mode": "pro"}}]}
    assert unwrap_input_envelope(body) == {
        "model": "kirin_v1_t2v",
        "prompt": "a cat",
        "mode": "pro",
    }


@pytest.mark.parametrize(
    "blocks",
    [
        pytest.param({"params": {"prompt": "a cat"}}, id="input not a list"),
        pytest.param([], id="no blocks"),
        pytest.param([{"params": {}}, {"params": {}}], id="two blocks"),
        pytest.param(["prompt"], id="block not an object"),
        pytest.param([{"params": {"prompt": "a"}, "extra": 1}], id="extra key beside params"),
        pytest.param([{"parameters": {"prompt": "a"}}], id="no params key"),
        pytest.param([{"params": "prompt=a cat"}], id="params not an object"),
        pytest.param([{"params": {"model": "kirin_v1_t2v", "prompt": "a"}}], id="repeats model"),
    ],
)
def test_a_malformed_envelope_is_an_invalid_input(blocks: object) -> None:
    with pytest.raises(InvalidParameter) as refused:
        unwrap_input_envelope({"model": "kirin_v1_t2v", "input": blocks})
    assert refused.value.param == "input"
    assert "input" in refused.value.message


def test_a_body_with_input_and_other_keys_is_unchanged_and_the_contract_refuses_input() -> None:
    body = {"model": "kirin_v1_t2v", "input": [{"params": {"prompt": "a"}}], "prompt": "b"}
    assert unwrap_input_envelope(body) == body
    with pytest.raises(InvalidParameter) as refused:
        validate_request(body)
    assert refused.value.param == "input"


# --- for_cli ---------------------------------------------------------------------------------


def completed_task(duration: object) -> dict[str, Any]:
    return {
        "id": "task_01",
        "status": "completed",
        "output": [
            {
                "content": [{"type": "video", "url": "https://h/v.mp4", "duration": duration}],
                "jobId": "task_01",
            }
        ],
        "usage": {"cost": "0.35", "discount": 0},
    }


@pytest.mark.parametrize(("duration", "text"), [(5.0, "5"), (3.5, "3.5"), (10, "10")])
def test_a_video_duration_is_a_decimal_string_for_the_cli(duration: float, text: str) -> None:
    shaped = for_cli(completed_task(duration))
    assert shaped["output"][0]["content"][0]["duration"] == text
    assert shaped["output"][0]["jobId"] == "task_01"
    assert shaped["status"] == "completed"


def test_a_content_item_without_a_numeric_duration_is_untouched() -> None:
    task = completed_task("5")
    task["output"][0]["content"].append({"type": "element", "element_id": "42"})
    shaped = for_cli(task)
    assert shaped["output"][0]["content"] == task["output"][0]["content"]


def test_a_cancelled_task_is_failed_for_the_cli() -> None:
    shaped = for_cli({"id": "task_01", "status": "cancelled", "error": None})
    assert shaped["status"] == "failed"
    assert shaped["error"]["message"] == CANCELLED_MESSAGE == "task was cancelled"
    assert shaped["error"]["error_message"] == CANCELLED_MESSAGE


@pytest.mark.parametrize("status", ["pending", "processing", "failed"])
def test_other_statuses_are_untouched(status: str) -> None:
    task: dict[str, Any] = {"id": "task_01", "status": status}
    if status == "failed":
        task["error"] = {"code": "002001095", "message": "boom", "error_message": "boom"}
    assert for_cli(task) == task


def test_for_cli_does_not_mutate_its_input() -> None:
    completed, cancelled = completed_task(5.0), {"id": "task_02", "status": "cancelled"}
    before = copy.deepcopy([completed, cancelled])
    for_cli(completed)
    for_cli(cancelled)
    assert [completed, cancelled] == before


# --- decimal_text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5.0, "5"),
        (3.5, "3.5"),
        (10.0, "10"),
        (0.0, "0"),
        (2.125, "2.125"),
        (2.1234, "2.123"),
        (10.0004, "10"),
        (1e20, "100000000000000000000"),
    ],
)
def test_decimal_text_is_the_shortest_decimal_without_an_exponent(
    seconds: float, text: str
) -> None:
    assert decimal_text(seconds) == text


# --- the spec --------------------------------------------------------------------------------


def test_every_top_level_property_except_model_is_listed_in_order() -> None:
    for schema in model_schemas():
        spec = model_spec(schema, ENDPOINT)
        expected = [name for name in schema["parameters"]["properties"] if name != "model"]
        assert [p["name"] for p in spec["parameters"]] == expected, schema["id"]
        assert {"external_task_id", "callback_url", "watermark_info"} <= set(expected)


def test_every_enum_is_a_list_of_strings() -> None:
    enums = 0
    for model, parameter in all_parameters():
        enum = parameter.get("constraints", {}).get("enum")
        if enum is not None:
            enums += 1
            assert isinstance(enum, list), (model, parameter["path"])
            assert enum, (model, parameter["path"])
            assert all(isinstance(option, str) for option in enum), (model, parameter["path"])
    assert enums > 0


def test_min_and_max_are_floats() -> None:
    for model, parameter in all_parameters():
        constraints = parameter.get("constraints", {})
        for name in ("min", "max"):
            if name in constraints:
                assert type(constraints[name]) is float, (model, parameter["path"], name)


def test_length_and_item_limits_are_ints() -> None:
    for model, parameter in all_parameters():
        constraints = parameter.get("constraints", {})
        for name in ("min_length", "max_length", "max_items"):
            if name in constraints:
                assert type(constraints[name]) is int, (model, parameter["path"], name)


def test_types_are_only_the_clis_types() -> None:
    for model, parameter in all_parameters():
        assert parameter["type"] in CLI_TYPES, (model, parameter["path"], parameter["type"])


def test_a_default_among_options_is_one_of_them() -> None:
    for model, parameter in all_parameters():
        constraints = parameter.get("constraints", {})
        if "enum" in constraints and "default" in constraints:
            assert constraints["default"] in constraints["enum"], (model, parameter["path"])


def test_t2v_duration_is_a_string_with_string_options() -> None:
    duration = by_name(spec_of("kirin_v1_t2v")["parameters"])["duration"]
    assert duration["type"] == "string"
    assert duration["constraints"]["enum"] == ["5", "10"]
    assert duration["constraints"]["default"] == "5"
    assert duration["example"] == "5"


def test_camera_control_has_type_and_a_config_of_six_bounded_floats() -> None:
    camera = by_name(spec_of("kirin_v1_t2v")["parameters"])["camera_control"]
    assert camera["type"] == "object"
    children = by_name(camera["children"])
    assert set(children) == {"type", "config"}
    assert children["type"]["required"] is True
    assert children["type"]["path"] == "camera_control.type"
    config = children["config"]
    assert config["type"] == "object"
    assert config["required"] is False
    assert len(config["children"]) == 6
    for axis in config["children"]:
        assert axis["type"] == "float", axis["name"]
        assert axis["constraints"]["min"] == -10.0
        assert axis["constraints"]["max"] == 10.0
        assert axis["path"] == f"camera_control.config.{axis['name']}"


def test_required_flags_match_the_schemas_required() -> None:
    for schema in model_schemas():
        required = set(schema["parameters"]["required"]) - {"model"}
        spec = model_spec(schema, ENDPOINT)
        flagged = {p["name"] for p in spec["parameters"] if p["required"]}
        assert flagged == required, schema["id"]


def test_watermark_info_enabled_is_a_required_boolean_child() -> None:
    for spec in all_specs():
        watermark = by_name(spec["parameters"])["watermark_info"]
        assert watermark["required"] is False
        enabled = by_name(watermark["children"])["enabled"]
        assert enabled["type"] == "boolean"
        assert enabled["required"] is True


def test_the_api_is_a_post_to_the_given_endpoint() -> None:
    for spec in all_specs():
        assert spec["api"]["endpoint"] == ENDPOINT
        assert spec["api"]["method"] == "POST"
        assert spec["api"]["headers"] == {}


def test_the_spec_names_its_model() -> None:
    for schema in model_schemas():
        spec = model_spec(schema, ENDPOINT)
        assert spec["model_id"] == schema["id"]
        assert spec["name"] == model_summary(schema)["name"]
        assert spec["type"] == model_summary(schema)["type"]


def test_the_agent_prompt_mentions_every_top_level_parameter() -> None:
    for spec in all_specs():
        prompt = spec["agent_prompt"]
        assert spec["model_id"] in prompt
        assert ENDPOINT in prompt
        for parameter in spec["parameters"]:
            assert parameter["name"] in prompt, (spec["model_id"], parameter["name"])


def test_the_summary_type_is_element_for_custom_elements_and_video_for_the_others() -> None:
    for schema in model_schemas():
        summary = model_summary(schema)
        expected = "element" if schema["id"] == "kirin_custom_elements" else "video"
        assert summary["type"] == expected, schema["id"]
        assert summary["output_modalities"] == [expected]
        assert summary["id"] == schema["id"]
        assert summary["description"] == schema["description"]


def test_t2v_takes_only_text() -> None:
    assert model_summary(schemas()["kirin_v1_t2v"])["input_modalities"] == ["text"]


def test_motion_control_takes_a_video() -> None:
    inputs = model_summary(schemas()["kirin_v3_motion_control"])["input_modalities"]
    assert "video" in inputs
    assert "image" in inputs


# --- what the CLI builds from the spec passes the contract -------------------------------------


def test_the_cli_coercion_drops_parameters_the_spec_does_not_list() -> None:
    body = cli_body("kirin_v1_t2v", {"prompt": "a cat", "seed": "7", "camera.speed": "1"})
    assert body == {"model": "kirin_v1_t2v", "prompt": "a cat"}


def test_the_cli_coercion_asks_for_a_required_child_of_a_given_object() -> None:
    with pytest.raises(CliError, match=r"camera_control\.type"):
        cli_body("kirin_v1_t2v", {"prompt": "a cat", "camera_control.config.zoom": "5"})


def test_the_cli_coercion_refuses_an_option_outside_the_enum() -> None:
    with pytest.raises(CliError, match="Allowed values: 5, 10"):
        cli_body("kirin_v1_t2v", {"prompt": "a cat", "duration": "7"})


def test_a_cli_t2v_request_passes_the_contract() -> None:
    body = cli_body("kirin_v1_t2v", {"prompt": "a cat", "duration": "10", "mode": "pro"})
    assert body == {"model": "kirin_v1_t2v", "prompt": "a cat", "duration": "10", "mode": "pro"}
    params = validate_request(body).params
    assert params["duration"] == 10
    assert params["mode"] == "pro"


def test_a_cli_t2v_request_with_camera_control_passes_the_contract() -> None:
    raw = {
        "prompt": "a cat",
        "camera_control.type": "simple",
        "camera_control.config.zoom": "-5",
    }
    body = cli_body("kirin_v1_t2v", raw)
    assert body["camera_control"] == {"type": "simple", "config": {"zoom": -5.0}}
    params = validate_request(body).params
    assert params["camera_control"]["type"] == "simple"
    assert params["camera_control"]["config"]["zoom"] == -5


def test_a_cli_i2v_request_passes_the_contract() -> None:
    body = cli_body("kirin_v1_i2v", {"image": IMG_URL, "duration": "5"})
    params = validate_request(body).params
    assert params["image"] == IMG_URL
    assert params["duration"] == 5


def test_a_cli_v3_multi_shot_request_passes_the_contract() -> None:
    shots = [
        {"index": 1, "prompt": "a cat sits", "duration": "2"},
        {"index": 2, "prompt": "the cat jumps", "duration": 3},
    ]
    raw = {
        "image": IMG_URL,
        "multi_shot": "true",
        "shot_type": "customize",
        "duration": "5",
        "multi_prompt": json.dumps(shots),
    }
    body = cli_body("kirin_v3_i2v", raw)
    assert body["multi_shot"] is True
    assert body["multi_prompt"] == shots
    params = validate_request(body).params
    assert params["multi_shot"] is True
    assert [shot["duration"] for shot in params["multi_prompt"]] == [2, 3]
    assert params["duration"] == 5
