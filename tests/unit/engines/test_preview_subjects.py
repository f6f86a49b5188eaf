"""The prompt's subject is in kirin_v1_t2v's picture: found, drawn, coloured, animated.

The engine reports each subject's coverage per frame (``TextShot.subject_masks``, from the very
scene it renders); these tests check the mask's size, where it goes, and that the rendered
pixels under it have the named colour.
"""

from __future__ import annotations

import colorsys
from typing import Any

import numpy as np
import pytest

from kirin_api.contract.job import OutputSpec, RenderJob
from kirin_api.engines.base import RenderControl
from kirin_api.engines.preview import PreviewEngine
from kirin_api.engines.preview.subjects import VOCABULARY, find_subjects
from kirin_api.engines.preview.text_shot import TextShot

SPEC = OutputSpec(width=320, height=180, fps=30, frames=61)
STILL = {"type": "simple", "config": {"horizontal": 0}}  # no camera move: only the subject's own
# prompt, hue of the named colour (degrees; None: grey), expected travel ("x": sideways, "up",
# "none")
CASES: list[tuple[str, float | None, str]] = [
    ("a red fox running through snow", 0, "x"),
    ("a white horse galloping on a beach", None, "x"),
    ("a blue car driving through the city", 225, "x"),
    ("a green dinosaur walking in the desert", 125, "x"),
    ("a yellow bird flying over hills", 55, "up"),
    ("a purple robot walking on the moon", 270, "x"),
    ("a brown dog running on the hills", 28, "x"),
    ("an orange fish swimming in the ocean", 32, "x"),
    ("a red house in the mountains", 0, "none"),
    ("a pink elephant standing in a field", 325, "none"),
]


def shot(prompt: str, camera: dict[str, Any] | None = STILL, **params: Any) -> TextShot:
    job = RenderJob(
        task_id="t",
        model="kirin_v1_t2v",
        params={"prompt": prompt, "camera_control": camera, **params},
        spec=SPEC,
        seed=7,
    )
    theme, path, mode = PreviewEngine().check_inputs(job)
    return TextShot.build(job, theme, path, mode)


def centre(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask > 127)
    return float(xs.mean()), float(ys.mean())


def test_the_vocabulary_is_broad() -> None:
    kinds = {kind for kind, _, _ in VOCABULARY.values()}
    assert len(VOCABULARY) >= 60
    for family in ("fox", "person", "car", "house", "tree", "bird", "fish", "ball"):
        assert family in kinds


@pytest.mark.parametrize(("prompt", "hue", "travel"), CASES)
def test_subject_is_drawn_sized_coloured_and_moving(
    prompt: str, hue: float | None, travel: str
) -> None:
    s = shot(prompt)
    assert len(s.figures) == 1
    first, last = s.subject_masks(0)[0], s.subject_masks(60)[0]
    coverage = float((first > 127).mean())
    assert 0.03 <= coverage <= 0.25, (prompt, coverage)
    (x0, y0), (x1, y1) = centre(first), centre(last)
    heading = s.figures[0].subject.heading if s.figures[0].subject else 0
    if travel == "x":
        assert heading * (x1 - x0) > 8.0, (prompt, x0, x1)  # 2 s: clearly on its way
        assert abs(y1 - y0) < abs(x1 - x0)
    elif travel == "up":
        assert y1 - y0 < -4.0, (prompt, y0, y1)
    else:
        # stays put: only its own animation (a swinging trunk) moves the mask's centre
        assert abs(x1 - x0) < 3.0, (prompt, x0, x1)
        assert abs(y1 - y0) < 3.0, (prompt, y0, y1)
    frame = s.frame(0)
    core = first > 250
    r, g, b = np.median(frame[core], axis=0) / 255.0
    h, light, sat = colorsys.rgb_to_hls(r, g, b)
    if hue is None:
        assert sat < 0.25, (prompt, r, g, b)
        assert light > 0.5, (prompt, r, g, b)
    else:
        distance = min(abs(h * 360 - hue), 360 - abs(h * 360 - hue))
        assert distance < 20, (prompt, h * 360, sat)
        assert sat > 0.3, (prompt, h * 360, sat)


def test_the_subject_is_not_a_card() -> None:
    """The mask is a silhouette: much of its bounding box is scenery, not figure."""
    mask = shot("a red fox running through snow").subject_masks(0)[0] > 127
    ys, xs = np.nonzero(mask)
    box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    assert mask.sum() < 0.75 * box


def test_two_subjects_and_unknown_and_landscape() -> None:
    two = shot("a dog and a cat on the hills")
    assert [f.subject.noun for f in two.figures if f.subject] == ["dog", "cat"]
    a, b = (centre(m) for m in two.subject_masks(0))
    assert abs(a[0] - b[0]) > 40  # side by side
    unknown = shot("a zorblat in the valley")
    assert [f.subject.kind for f in unknown.figures if f.subject] == ["abstract"]
    assert shot("rolling green hills under a blue sky").figures == []


def test_negative_prompt_removes_the_subject() -> None:
    assert shot("a red fox running through snow", negative_prompt="fox").figures == []
    assert shot("a woman walking", negative_prompt="people").figures == []
    kept = find_subjects("a dog and a cat", "cat", 1)
    assert [s.noun for s in kept] == ["dog"]


def test_the_engine_reports_its_subjects_and_renders_them() -> None:
    job = RenderJob("t", "kirin_v1_t2v", {"prompt": "a red fox running"}, SPEC, seed=3)
    out = PreviewEngine().render(job, RenderControl())
    assert out.metadata["subjects"] == [
        {"noun": "fox", "kind": "fox", "colour": "red", "action": "run"}
    ]
    frames = list(out.frames)
    theme, path, mode = PreviewEngine().check_inputs(job)
    again = TextShot.build(job, theme, path, mode)
    assert np.array_equal(frames[30], again.frame(30))  # the masks' scene is the engine's


def test_subject_is_lit_by_the_scene() -> None:
    def brightness(prompt: str) -> float:
        s = shot(prompt)
        core = s.subject_masks(0)[0] > 250
        return float(s.frame(0)[core].mean())

    assert brightness("a white horse at night") < 0.7 * brightness("a white horse at noon")
