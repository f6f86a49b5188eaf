"""Reading ``--param key=value`` pairs of ``kirin generate``."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kirin_api.user_cli import ParamError, parse_params, parse_value


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("5", 5),
        ("0.5", 0.5),
        ("true", True),
        ("null", None),
        ('"5"', "5"),
        ("[1, 2]", [1, 2]),
        ('{"a": {"b": 1}}', {"a": {"b": 1}}),
        ("a red fox", "a red fox"),
        ("16:9", "16:9"),
        ("NaN", "NaN"),
        ("", ""),
    ],
)
def test_values_are_json_when_they_parse(raw: str, value: object) -> None:
    assert parse_value(raw) == value


def test_at_file_is_raw_base64(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"\x89PNG")
    assert parse_value("@a.png", base_dir=tmp_path) == base64.b64encode(b"\x89PNG").decode()
    with pytest.raises(ParamError, match="cannot read"):
        parse_value("@missing.png", base_dir=tmp_path)


def test_dotted_keys_nest_and_merge() -> None:
    body = parse_params(
        [
            "prompt=a fox",
            "duration=5",
            "camera_control.type=simple",
            "camera_control.config.pan=5",
            'watermark_info={"enabled": true}',
            "prompt_with_equals=a=b",
        ]
    )
    assert body == {
        "prompt": "a fox",
        "duration": 5,
        "camera_control": {"type": "simple", "config": {"pan": 5}},
        "watermark_info": {"enabled": True},
        "prompt_with_equals": "a=b",
    }


def test_numeric_parts_build_lists_in_order() -> None:
    body = parse_params(
        [
            "multi_prompt.0.prompt=one",
            "multi_prompt.0.duration=2",
            "multi_prompt.1.prompt=two",
            'element_list=[{"element_id": 1}]',
            "element_list.1.element_id=2",
        ]
    )
    assert body["multi_prompt"] == [{"prompt": "one", "duration": 2}, {"prompt": "two"}]
    assert body["element_list"] == [{"element_id": 1}, {"element_id": 2}]


@pytest.mark.parametrize(
    "pair",
    ["noequals", "=5", "a..b=1", "list.2.x=1", "obj=[1]", "s=text"],
)
def test_bad_params_are_refused(pair: str) -> None:
    pairs = {"list.2.x=1": ["list.0.x=1", pair], "obj=[1]": ["obj=[1]", "obj.key=1"]}
    pairs["s=text"] = ["s.0=1", "s.x=2"]
    with pytest.raises(ParamError):
        parse_params(pairs.get(pair, [pair]))
