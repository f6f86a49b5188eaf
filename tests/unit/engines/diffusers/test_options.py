"""The diffusers engine's options: every option read and checked, errors name option and rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kirin_api.engines.diffusers.options import (
    OptionsError,
    generation_size,
    parse_options,
)


def parse(**table: Any) -> Any:
    return parse_options("kirin_v1_t2v", {"engine": "diffusers", "weights": "/w", **table})


def test_defaults() -> None:
    options = parse()
    assert options.weights == Path("/w")
    assert options.size == (832, 480)
    assert options.steps == 30
    assert options.frames is None
    assert options.guidance(None) == pytest.approx(5.0)  # cfg_scale 0.5 -> Wan's 5.0
    assert options.guidance(0.0) == pytest.approx(1.0)  # no guidance: one pass per step
    assert options.guidance(1.0) == pytest.approx(9.0)


def test_every_option_is_read() -> None:
    options = parse(
        vace_weights="/v",
        steps=12,
        size="1280x720",
        frames=49,
        fps=24,
        guidance_range=[1, 7],
        flow_shift=5.0,
        negative_prompt="blurry",
        dtype="float32",
        device="cpu",
        seed_offset=3,
        pro_size="1920x1088",
        pro_steps=40,
        max_plate=2.0,
        conditioning_scale=0.8,
        preload=True,
        compile=True,
        attention="native",
        cache="first_block",
        cache_threshold=0.1,
        vae_tiling=True,
        offload="model",
        batch_cfg=False,
    )
    assert options.vace_weights == Path("/v")
    assert (options.steps, options.size, options.frames, options.fps) == (12, (1280, 720), 49, 24)
    assert options.steps_for("pro") == 40
    assert options.steps_for("std") == 12
    assert options.base_size("pro") == (1920, 1088)
    assert options.base_size("std") == (1280, 720)
    assert options.speedups.compile
    assert options.speedups.cache == "first_block"
    assert options.speedups.offload == "model"
    assert not options.speedups.batch_cfg
    assert options.frames_for(10.0) == 49  # a fixed count is used for every duration


def test_frames_follow_the_duration_in_4k_plus_1() -> None:
    options = parse()
    assert options.frames_for(5.0) == 81  # Wan's 81 frames at 16 fps
    assert options.frames_for(10.0) == 161
    assert options.frames_for(3.0) == 49
    assert all(options.frames_for(s) % 4 == 1 for s in (1, 2.5, 7, 15))


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"weights": None}, ["weights is required"]),
        ({"steps": 0}, ["steps", "integer from 1"]),
        ({"steps": "30"}, ["steps", "integer"]),
        ({"size": "830x480"}, ["size", "multiples of 16"]),
        ({"size": "big"}, ["size", "WxH"]),
        ({"frames": 80}, ["frames", "4k + 1"]),
        ({"dtype": "int8"}, ["dtype", "bfloat16"]),
        ({"guidance_range": [5, 1]}, ["guidance_range", "low <= high"]),
        ({"compile": "yes"}, ["compile", "true or false"]),
        ({"stepz": 3}, ["unknown diffusers options", "stepz"]),
        ({"attention": "warp"}, ["attention", "warp"]),
        ({"cache": "lots"}, ["cache", "first_block"]),
        ({"offload": "disk"}, ["offload", "sequential"]),
    ],
)
def test_bad_options_name_the_option_and_the_rule(table: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(OptionsError) as caught:
        parse(**table)
    message = str(caught.value)
    assert "[models.kirin_v1_t2v]" in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("aspect", "expected"),
    [
        (16 / 9, (832, 480)),  # within 5% of the configured size: used as is
        (9 / 16, (480, 832)),  # portrait: transposed
        (1.0, (624, 624)),  # other aspects keep the area, sides multiples of 16
    ],
)
def test_generation_size_follows_the_aspect(aspect: float, expected: tuple[int, int]) -> None:
    assert generation_size((832, 480), aspect) == expected


def test_compile_is_on_by_default_on_a_gpu_only() -> None:
    assert parse(device="cuda").speedups.compile
    assert not parse(device="cpu").speedups.compile
    assert not parse(device="cuda", compile=False).speedups.compile
    assert parse(device="cpu", compile=True).speedups.compile
