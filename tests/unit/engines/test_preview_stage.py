"""Subjects' pictures inside the image models' scenes: element_list subjects and multi-image
references cut out of their pictures and standing in the scene (not cards or panels), and
brushed objects carried along their paths (leaning and stretching, not sliding rigidly)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from kirin_api.contract.job import OutputSpec
from kirin_api.engines.base import Frame
from kirin_api.engines.preview import image_models
from kirin_api.engines.preview.brush import MovingObject, Trajectory
from kirin_api.engines.preview.stage import stand_ins
from tests.media_factory import pattern
from tests.unit.engines.test_preview_image_models import job, render, save

BACKDROP = (235, 240, 245)


def figure_picture(colour: tuple[int, int, int], shape: int) -> tuple[np.ndarray, np.ndarray]:
    """A plain figure (body and head) on a light plain backdrop, and its true mask."""
    picture = np.empty((400, 300, 3), np.uint8)
    picture[:] = BACKDROP
    mask = np.zeros((400, 300), np.uint8)
    for target, value in ((picture, colour), (mask, 255)):
        if shape == 0:
            cv2.ellipse(target, (150, 260), (80, 120), 0, 0, 360, value, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(target, (70, 130), (230, 385), value, -1)
        cv2.circle(target, (150, 85), 55, value, -1, cv2.LINE_AA)
    return picture, mask


def found(frame: Frame, picture: np.ndarray, mask: np.ndarray, height: int) -> tuple[float, float]:
    """(mean error of the figure's own pixels, share of backdrop pixels around it) where the
    figure, scaled to ``height``, matches ``frame`` best."""
    size = (round(picture.shape[1] * height / picture.shape[0]), height)
    template = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
    shape = cv2.resize(mask, size, interpolation=cv2.INTER_AREA)
    inside = cv2.erode(shape, np.ones((5, 5), np.uint8))
    scores = cv2.matchTemplate(frame, template, cv2.TM_SQDIFF, mask=cv2.merge([inside] * 3))
    _, _, (x, y), _ = cv2.minMaxLoc(scores)
    placed = frame[y : y + size[1], x : x + size[0]].astype(int)
    error = float(np.abs(placed - template)[inside > 0].mean())
    around = cv2.dilate(shape, np.ones((9, 9), np.uint8)) == 0
    backdrop = np.all(np.abs(placed - BACKDROP) < 12, axis=2)
    return error, float(backdrop[around].mean())


def test_element_subjects_stand_in_the_picture(tmp_path: Path) -> None:
    image = save(tmp_path / "image.png", pattern(640, 480) // 2)  # dark: no backdrop colour in it
    figures = [figure_picture((200, 40, 40), 0), figure_picture((40, 60, 200), 1)]
    inputs = {"image": image}
    for index, (picture, _) in enumerate(figures):
        inputs[f"element_list.{index}"] = save(tmp_path / f"e{index}.png", picture)
    j = job(
        "kirin_v3_i2v",
        inputs,
        prompt="two friends walking",
        element_list=[{"element_id": 1}, {"element_id": 2}],
    )
    frames = render(j)
    meta = image_models.metadata(j)
    assert meta["elements_cut_out"] == [True, True]
    height = meta["elements"][0][3]
    for picture, mask in figures:
        error, backdrop = found(frames[20], picture, mask, height)
        assert error < 10, error  # the cut-out's own pixels are in the frame
        assert backdrop < 0.05, backdrop  # and not its backdrop: no card
    # They walk: the first element moved right between the middle and the last frame.
    first = image_models._plan(j).cards[0]
    assert first.box(1.0)[0] > first.box(0.0)[0]


def test_multi_image_references_are_figures_of_one_scene(tmp_path: Path) -> None:
    figures = [figure_picture((200, 40, 40), 0), figure_picture((40, 60, 200), 1)]
    inputs = {
        f"image_list.{i}.image": save(tmp_path / f"r{i}.png", picture)
        for i, (picture, _) in enumerate(figures)
    }
    spec = OutputSpec(width=480, height=270, fps=30, frames=31)
    j = job(
        "kirin_v1_6_multi_i2v", inputs, spec=spec, prompt="friends at night", image_list=[{}] * 2
    )
    frames = render(j)
    meta = image_models.metadata(j)
    assert meta["references_cut_out"] == [True, True]
    height = meta["references"][0][3]
    for picture, mask in figures:
        error, backdrop = found(frames[0], picture, mask, height)
        assert error < 10, error
        assert backdrop < 0.05, backdrop
    # One scene behind both: the night scenery, not panels with gutters. The top of the frame
    # is dark sky all across, and no dark vertical gutter splits the frame.
    top = frames[0][: spec.height // 5].astype(int)
    assert top.mean() < 90
    columns = frames[0][: spec.height // 3].mean(axis=(0, 2))
    assert columns.max() - columns.min() < 60


def test_a_photo_without_a_backdrop_stays_whole() -> None:
    # A picture filled to its edges has nothing to cut away: it stands in whole (soft edges).
    [kept] = stand_ins([pattern(300, 400)], 320, 240, tallness=0.5, prompt="", duration=1.0)
    assert not kept.cut
    assert kept.alpha[kept.alpha.shape[0] // 2, kept.alpha.shape[1] // 2] == 1.0


def angle_and_length(frame: Frame) -> tuple[float, float]:
    """The orientation (degrees) and long side (pixels) of the key-coloured object."""
    key = np.all(frame == (0, 255, 0), axis=2).astype(np.uint8)
    contours, _ = cv2.findContours(key, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    (_, _), (w, h), angle = cv2.minAreaRect(max(contours, key=cv2.contourArea))
    return angle, max(w, h)


def test_brushed_objects_lean_and_stretch_on_the_way() -> None:
    picture = np.zeros((240, 320, 3), np.uint8)
    painted = np.zeros((240, 320), bool)
    painted[100:140, 40:80] = True
    picture[painted] = (0, 255, 0)
    mover = MovingObject(picture, painted, Trajectory.through(np.array([[60.0, 120], [260, 120]])))

    def drawn(t: float) -> Frame:
        frame = np.zeros_like(picture)
        mover.draw(frame, t)
        return frame

    start, middle, end = drawn(0.0), drawn(0.5), drawn(1.0)
    assert np.array_equal(start, picture)  # at rest: exactly as painted
    lean, stretch = mover.pose(0.5)
    assert lean < -3.0  # moving right: tipped clockwise on screen
    assert stretch > 1.08
    angle, length = angle_and_length(middle)
    assert 3.0 < min(angle % 90, 90 - angle % 90) < 10  # visibly turned, a little
    assert length > 42  # longer than the painted 40 px square
    assert angle_and_length(end)[1] < 41  # at rest again at the end
