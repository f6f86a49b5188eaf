"""The preview engine's camera, measured in the rendered frames (see ``motion.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kirin_api.contract.job import OutputSpec, RenderJob
from kirin_api.engines.base import Frame, RenderCancelled, RenderControl
from kirin_api.engines.preview import PreviewEngine
from tests.unit.engines import motion

SPEC = OutputSpec(width=320, height=180, fps=30, frames=31)
PROMPT = "rolling green hills under a blue sky"


def render(
    camera: dict[str, Any] | None = None,
    prompt: str = PROMPT,
    seed: int = 7,
    spec: OutputSpec = SPEC,
    **params: Any,
) -> list[Frame]:
    job = RenderJob(
        task_id="t",
        model="kirin_v1_t2v",
        params={"prompt": prompt, "camera_control": camera, **params},
        spec=spec,
        seed=seed,
    )
    out = PreviewEngine().render(job, RenderControl())
    assert out.metadata["engine"] == "preview"
    return list(out.frames)


def simple(axis: str, value: float) -> dict[str, Any]:
    config = dict.fromkeys(("horizontal", "vertical", "pan", "tilt", "roll", "zoom"), 0.0)
    config[axis] = value
    return {"type": "simple", "config": config}


def ends(camera: dict[str, Any]) -> tuple[Frame, Frame]:
    frames = render(camera)
    return frames[0], frames[-1]


@pytest.mark.parametrize("sign", [1, -1])
def test_horizontal_moves_content_the_other_way(sign: int) -> None:
    a, b = ends(simple("horizontal", 5 * sign))
    dx, _ = motion.frame_shift(a, b, rows=(0.6, 1.0))  # near scenery: most parallax
    assert -sign * dx > 0.015  # camera right (+) -> content left


@pytest.mark.parametrize("sign", [1, -1])
def test_vertical_moves_content_the_other_way(sign: int) -> None:
    a, b = ends(simple("vertical", 5 * sign))
    _, dy = motion.frame_shift(a, b, rows=(0.4, 1.0))
    assert sign * dy > 0.01  # camera up (+) -> content down (+y)


@pytest.mark.parametrize("sign", [1, -1])
def test_pan_shifts_everything_the_other_way(sign: int) -> None:
    a, b = ends(simple("pan", 5 * sign))
    dx, _ = motion.frame_shift(a, b)
    assert -sign * dx > 0.04  # pan right (+) -> content left


@pytest.mark.parametrize("sign", [1, -1])
def test_tilt_shifts_everything_the_other_way(sign: int) -> None:
    a, b = ends(simple("tilt", 5 * sign))
    _, dy = motion.frame_shift(a, b)
    assert sign * dy > 0.05  # tilt up (+) -> content down


@pytest.mark.parametrize("sign", [1, -1])
def test_roll_turns_content_against_the_camera(sign: int) -> None:
    a, b = ends(simple("roll", 5 * sign))
    angle = motion.rotation_between(a, b)
    assert sign * angle > 5.0  # camera clockwise (+) -> content counter-clockwise (+)


@pytest.mark.parametrize("sign", [1, -1])
def test_zoom_scales_content(sign: int) -> None:
    a, b = ends(simple("zoom", 5 * sign))
    scale = motion.scale_between(a, b)
    if sign < 0:
        assert scale > 1.2  # zoom in -> content grows
    else:
        assert scale < 1 / 1.2  # zoom out -> content shrinks


def test_bigger_values_move_more() -> None:
    small = abs(motion.frame_shift(*ends(simple("pan", 3)))[0])
    big = abs(motion.frame_shift(*ends(simple("pan", 8)))[0])
    assert big > small * 1.8
    s_small = motion.scale_between(*ends(simple("zoom", -3)))
    s_big = motion.scale_between(*ends(simple("zoom", -8)))
    assert s_big > s_small > 1.0
    r_small = motion.rotation_between(*ends(simple("roll", 3)))
    r_big = motion.rotation_between(*ends(simple("roll", 8)))
    assert r_big > r_small > 0.0


def test_down_back_shrinks_and_lifts_content() -> None:
    # First to middle frame: over the whole clip the content shrinks by a quarter, more than a
    # plain shift measurement of the lower half can follow.
    frames = render({"type": "down_back", "config": None})
    a, b = frames[0], frames[len(frames) // 2]
    scales = np.linspace(0.6, 1.1, 26)
    scale, _, _, _ = motion.similarity(a, b, scales=scales, rows=(0.5, 1.0))
    assert scale < 0.95
    # The ground (lower half) rises: the camera sinks, and shrinking pulls it to the centre.
    assert motion.frame_shift(a, b, rows=(0.5, 1.0))[1] < -0.005


def test_forward_up_grows_and_lowers_content() -> None:
    # First to middle frame: by the end the camera has risen above the near ground's top edge
    # (the ground planes stand upright), so the lower half shows the middle ground instead.
    frames = render({"type": "forward_up", "config": None})
    a, b = frames[0], frames[len(frames) // 2]
    scales = np.linspace(0.95, 1.8, 35)
    scale, _, _, _ = motion.similarity(a, b, scales=scales, rows=(0.5, 1.0))
    assert scale > 1.05
    # The ground (lower half) sinks: the camera rises, and growing pushes it from the centre.
    assert motion.frame_shift(a, b, rows=(0.5, 1.0))[1] > 0.005


@pytest.mark.parametrize(("move", "sign"), [("right_turn_forward", 1), ("left_turn_forward", -1)])
def test_turn_then_forward(move: str, sign: int) -> None:
    frames = render({"type": move})
    first, middle, last = frames[0], frames[len(frames) // 2], frames[-1]
    dx, _ = motion.frame_shift(first, middle)
    assert -sign * dx > 0.05  # turning right -> content slides left
    assert motion.scale_between(middle, last) > 1.05  # then pushing in -> content grows


def test_same_job_same_bytes() -> None:
    a, b = render(simple("pan", 4)), render(simple("pan", 4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_frames_match_the_spec() -> None:
    spec = OutputSpec(width=180, height=320, fps=30, frames=12)
    frames = render(None, spec=spec)
    assert len(frames) == 12
    assert all(f.shape == (320, 180, 3) and f.dtype == np.uint8 for f in frames)
    assert all(f.flags["C_CONTIGUOUS"] for f in frames)


def test_different_prompts_look_different() -> None:
    a = render(None, prompt="a quiet night in the city")[0]
    b = render(None, prompt="a red desert at noon")[0]
    c = render(None, prompt="an ocean with boats")[0]
    assert motion.mean_abs_diff(a, b) > 20
    assert motion.mean_abs_diff(a, c) > 20
    assert motion.mean_abs_diff(b, c) > 20


def test_different_seeds_differ() -> None:
    assert motion.mean_abs_diff(render(None, seed=1)[0], render(None, seed=2)[0]) > 3


def test_without_camera_control_the_clip_moves() -> None:
    frames = render(None)
    assert motion.mean_abs_diff(frames[0], frames[-1]) > 2.0


def test_cfg_scale_changes_saturation() -> None:
    def saturation(frame: Frame) -> float:
        f = frame.astype(np.float32)
        return float((f.max(axis=2) - f.min(axis=2)).mean())

    dull = render(None, cfg_scale=0.0)[0]
    vivid = render(None, cfg_scale=1.0)[0]
    assert saturation(vivid) > saturation(dull) + 10


def test_should_stop_cancels() -> None:
    job = RenderJob("t", "kirin_v1_t2v", {"prompt": PROMPT}, SPEC, seed=1)
    produced = 0
    control = RenderControl(should_stop=lambda: produced >= 3)
    frames = PreviewEngine().render(job, control).frames
    with pytest.raises(RenderCancelled):  # noqa: PT012 - the loop is the consumer under test
        for _ in frames:
            produced += 1
    assert produced == 3


def test_progress_reaches_one() -> None:
    seen: list[float] = []
    job = RenderJob("t", "kirin_v1_t2v", {"prompt": PROMPT}, SPEC, seed=1)
    list(PreviewEngine().render(job, RenderControl(report_progress=seen.append)).frames)
    assert seen[-1] == pytest.approx(1.0)
    assert seen == sorted(seen)


def test_supports() -> None:
    engine = PreviewEngine()
    assert engine.name == "preview"
    assert engine.supports("kirin_v1_t2v")
    assert engine.supports("kirin_v3_i2v")
    assert not engine.supports("kirin_custom_elements"), "it makes no video"
