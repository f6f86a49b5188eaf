"""The virtual camera over a generated plate: moves go the way the seed says, and the view
never leaves the plate (measured on filmed frames, as the preview camera is)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kirin_api.engines.diffusers.plate import _plane, film, plan_plate
from kirin_api.engines.preview.camera import Lens, path_for, plane_homography
from tests.unit.engines import motion

WIDTH, HEIGHT, COUNT = 320, 180, 25


def simple(axis: str, value: float) -> dict[str, Any]:
    config = dict.fromkeys(("horizontal", "vertical", "pan", "tilt", "roll", "zoom"), 0.0)
    config[axis] = value
    return {"type": "simple", "config": config}


def textured_plate(width: int, height: int, frames: int = 3) -> list[np.ndarray]:
    """A still, richly textured plate (smoothed noise): phase correlation locks onto it."""
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (height // 4, width // 4, 3), dtype=np.uint8)
    import cv2

    picture = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return [picture] * frames


def filmed(camera: dict[str, Any], max_plate: float = 1.5) -> list[np.ndarray]:
    shot = plan_plate(path_for(camera, 0), WIDTH, HEIGHT, max_plate)
    plate = textured_plate(round(WIDTH * shot.plate_scale), round(HEIGHT * shot.plate_scale))
    return list(film(plate, shot, WIDTH, HEIGHT, COUNT))


@pytest.mark.parametrize("sign", [1, -1])
def test_horizontal_and_pan_move_content_the_other_way(sign: int) -> None:
    for axis in ("horizontal", "pan"):
        frames = filmed(simple(axis, 3 * sign))
        dx, _ = motion.frame_shift(frames[0], frames[-1])
        assert -sign * dx > 0.02, (axis, dx)


@pytest.mark.parametrize("sign", [1, -1])
def test_vertical_and_tilt_move_content_the_other_way(sign: int) -> None:
    for axis in ("vertical", "tilt"):
        frames = filmed(simple(axis, 3 * sign))
        _, dy = motion.frame_shift(frames[0], frames[-1])
        assert sign * dy > 0.01, (axis, dy)  # camera up -> content down (+y)


def test_zoom_in_enlarges_and_roll_turns() -> None:
    zoomed = filmed(simple("zoom", -6))  # negative zooms in
    assert motion.scale_between(zoomed[0], zoomed[-1]) > 1.2
    rolled = filmed(simple("roll", 4))  # camera clockwise -> content counter-clockwise
    assert motion.rotation_between(rolled[0], rolled[-1]) > 3.0


def test_the_first_frame_is_the_plate_centre() -> None:
    shot = plan_plate(path_for(simple("horizontal", 5), 0), WIDTH, HEIGHT, 1.5)
    plate = textured_plate(round(WIDTH * shot.plate_scale), round(HEIGHT * shot.plate_scale))
    first = next(film(plate, shot, WIDTH, HEIGHT, COUNT))
    h, w = plate[0].shape[:2]
    vw, vh = w / shot.plate_scale, h / shot.plate_scale
    import cv2

    centre = plate[0][
        round((h - vh) / 2) : round((h + vh) / 2), round((w - vw) / 2) : round((w + vw) / 2)
    ]
    expected = cv2.resize(centre, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    assert motion.mean_abs_diff(first, expected) < 6.0


MOVES = [
    simple("horizontal", 10),
    simple("vertical", -10),
    simple("pan", 10),
    simple("tilt", -10),
    simple("roll", 10),
    simple("zoom", 10),
    {"type": "down_back"},
    {"type": "forward_up"},
    {"type": "right_turn_forward"},
    {"type": "left_turn_forward"},
]


@pytest.mark.parametrize("camera", MOVES, ids=lambda c: str(c.get("config") or c["type"]))
def test_every_view_stays_on_the_plate(camera: dict[str, Any]) -> None:
    """Even the strongest moves: the plate grows up to max_plate, then the view narrows."""
    max_plate = 1.5
    path = path_for(camera, 0)
    shot = plan_plate(path, WIDTH, HEIGHT, max_plate)
    assert 1.0 <= shot.plate_scale <= max_plate
    assert shot.view_zoom >= 1.0
    lens = Lens.for_frame(WIDTH, HEIGHT)
    pw, ph = WIDTH * shot.plate_scale, HEIGHT * shot.plate_scale
    plane = _plane(pw, ph, lens, shot.plate_scale)
    corners = np.array([[0, 0, 1], [WIDTH, 0, 1], [0, HEIGHT, 1], [WIDTH, HEIGHT, 1]], float).T
    for pose in path.sample(41):
        zoomed = type(pose)(**{**pose.__dict__, "zoom": pose.zoom * shot.view_zoom})
        back = np.linalg.solve(plane_homography(zoomed, lens, plane), corners)
        xy = back[:2] / back[2]
        assert xy[0].min() >= -0.5
        assert xy[0].max() <= pw + 0.5
        assert xy[1].min() >= -0.5
        assert xy[1].max() <= ph + 0.5


def test_a_gentle_move_needs_no_zoom_and_a_small_plate() -> None:
    shot = plan_plate(path_for(simple("horizontal", 3), 0), WIDTH, HEIGHT, 1.5)
    assert shot.view_zoom == 1.0
    assert 1.0 < shot.plate_scale < 1.2
