"""The camera leads every kirin_v1_t2v shot: measured on the whole frame, a second apart.

For every ``camera_control`` field, both signs, on scenes of different kinds (some with many
moving things and a moving subject), the dominant motion of the whole frame between frames a
second apart (phase correlation over the full 320x180 frame, as a viewer would judge it) is the
camera's: content against a truck, pedestal, pan or tilt, growing on zoom in, turning against a
roll. Only the measured frames are rendered, from the scene the engine itself renders.
"""

from __future__ import annotations

from typing import Any

import pytest

from kirin_api.contract.job import OutputSpec, RenderJob
from kirin_api.engines.base import Frame
from kirin_api.engines.preview import PreviewEngine
from kirin_api.engines.preview.text_shot import TextShot
from tests.unit.engines import motion

SPEC = OutputSpec(width=320, height=180, fps=30, frames=150)  # 5 s
PROMPTS = (
    "a field of flowers with birds",  # many birds, two subjects
    "a red fox running through snow",  # a running subject
    "boats on the ocean at sunset",  # drifting water, boats
    "a city street at night",  # skyline, lanterns
    "a forest with balloons",  # trees, balloons
)
PAIRS = ((0, 30), (60, 90), (119, 149))  # start, middle, end: a second apart each
SHIFT_AXES = {"horizontal": (0, -1), "pan": (0, -1), "vertical": (1, 1), "tilt": (1, 1)}


def simple(axis: str, value: float) -> dict[str, Any]:
    config = dict.fromkeys(("horizontal", "vertical", "pan", "tilt", "roll", "zoom"), 0.0)
    config[axis] = value
    return {"type": "simple", "config": config}


def frames_at(prompt: str, camera: dict[str, Any], indices: set[int]) -> dict[int, Frame]:
    job = RenderJob(
        task_id="t",
        model="kirin_v1_t2v",
        params={"prompt": prompt, "camera_control": camera},
        spec=SPEC,
        seed=7,
    )
    theme, path, mode = PreviewEngine().check_inputs(job)
    shot = TextShot.build(job, theme, path, mode)
    return {i: shot.frame(i) for i in sorted(indices)}


def needed() -> set[int]:
    return {i for pair in PAIRS for i in pair}


@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize("axis", sorted(SHIFT_AXES))
def test_shifts_follow_the_camera_every_second(prompt: str, axis: str) -> None:
    component, direction = SHIFT_AXES[axis]
    for sign in (1, -1):
        frames = frames_at(prompt, simple(axis, 7 * sign), needed())
        for a, b in PAIRS:
            shift = motion.frame_shift(frames[a], frames[b])
            along, across = shift[component] * SPEC.width, shift[1 - component] * SPEC.width
            # Camera right/up (+): content left (-x) for horizontal/pan, down (+y) for
            # vertical/tilt; at least a pixel a second, and more than any sideways motion.
            assert direction * sign * along >= 1.0, (prompt, axis, sign, (a, b), shift)
            assert abs(along) > abs(across), (prompt, axis, sign, (a, b), shift)


@pytest.mark.parametrize("prompt", PROMPTS)
def test_zoom_and_roll_follow_the_camera_every_second(prompt: str) -> None:
    for sign in (1, -1):
        zoom = frames_at(prompt, simple("zoom", 7 * sign), needed())
        roll = frames_at(prompt, simple("roll", 7 * sign), needed())
        for a, b in PAIRS:
            scale = motion.scale_between(zoom[a], zoom[b])
            # zoom + is out (content shrinks), - is in (grows)
            assert (scale < 0.99) if sign > 0 else (scale > 1.01), (prompt, sign, (a, b), scale)
            angle = motion.rotation_between(roll[a], roll[b])
            # camera clockwise (+) -> content counter-clockwise (+)
            assert sign * angle > 0.5, (prompt, sign, (a, b), angle)


@pytest.mark.parametrize("axis", ["horizontal", "vertical", "pan", "tilt"])
def test_bigger_values_move_the_whole_frame_more(axis: str) -> None:
    component, _ = SHIFT_AXES[axis]
    prompt = PROMPTS[1]
    small = frames_at(prompt, simple(axis, 3), {60, 90})
    big = frames_at(prompt, simple(axis, 9), {60, 90})
    s = abs(motion.frame_shift(small[60], small[90])[component])
    b = abs(motion.frame_shift(big[60], big[90])[component])
    assert b > s * 1.8, (axis, s, b)
