"""The preview of the image models, measured on the frames (and, once per model, the MP4)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from kirin_api.contract.job import OutputSpec, RenderJob
from kirin_api.engines.base import Frame
from kirin_api.engines.preview import image_models
from kirin_api.engines.preview.brush import Trajectory, to_output
from kirin_api.engines.preview.framing import ease
from kirin_api.media.encode import PcmAudio, VideoTarget, encode_mp4
from kirin_api.media.probe import probe_video, read_frames
from tests.media_factory import mask_bytes, pattern
from tests.unit.engines import motion

SPEC = OutputSpec(width=320, height=240, fps=30, frames=31)
KEY = (0, 255, 128)  # the moving object's colour; brush_image keeps green below 128 elsewhere


# ---------------------------------------------------------------- helpers


def save(path: Path, image: np.ndarray) -> str:
    Image.fromarray(np.ascontiguousarray(image)).save(path)
    return str(path)


def blocks(width: int, height: int, seed: int) -> np.ndarray:
    """A picture of random coloured blocks: easy to find again by template matching."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return np.asarray(cv2.resize(grid, (width, height), interpolation=cv2.INTER_NEAREST))


def job(
    model: str,
    inputs: dict[str, str],
    spec: OutputSpec = SPEC,
    seed: int = 7,
    **params: Any,
) -> RenderJob:
    return RenderJob(task_id="t", model=model, params=params, spec=spec, seed=seed, inputs=inputs)


def render(j: RenderJob) -> list[Frame]:
    frames = list(image_models.frames(j))
    assert len(frames) == j.spec.frames
    for frame in frames:
        assert frame.shape == (j.spec.height, j.spec.width, 3)
        assert frame.dtype == np.uint8
        assert frame.flags["C_CONTIGUOUS"]
    return frames


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.PSNR(np.ascontiguousarray(a), np.ascontiguousarray(b)))


def fitted(image: np.ndarray, spec: OutputSpec) -> np.ndarray:
    return np.asarray(cv2.resize(image, (spec.width, spec.height), interpolation=cv2.INTER_AREA))


def cuts(frames: list[Frame]) -> list[int]:
    """Frame indices where a new scene starts (frame-difference spikes)."""
    diffs = np.array([motion.mean_abs_diff(a, b) for a, b in itertools.pairwise(frames)])
    threshold = max(8.0, 5.0 * float(np.median(diffs)))
    return [i + 1 for i, d in enumerate(diffs) if d > threshold]


def find(frame: Frame, template: np.ndarray, heights: range, k: float = 0.5) -> float:
    """Best normalised correlation of ``template`` in ``frame`` over template heights (px)."""
    small = cv2.resize(frame, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    best = -1.0
    aspect = template.shape[1] / template.shape[0]
    for h in heights:
        th, tw = round(h * k), round(h * aspect * k)
        if th < 8 or tw < 8 or th > small.shape[0] or tw > small.shape[1]:
            continue
        t = cv2.resize(template, (tw, th), interpolation=cv2.INTER_AREA)
        score = float(cv2.matchTemplate(small, t, cv2.TM_CCOEFF_NORMED).max())
        best = max(best, score)
    return best


def key_centroid(frame: Frame) -> tuple[float, float] | None:
    r, g, b = (frame[..., c].astype(int) for c in range(3))
    ys, xs = np.nonzero((r < 90) & (g > 200) & (b > 80) & (b < 180))
    if xs.size < 20:
        return None
    return float(xs.mean()) + 0.5, float(ys.mean()) + 0.5


@pytest.fixture
def image(tmp_path: Path) -> str:
    return save(tmp_path / "image.png", pattern(640, 480))


@pytest.fixture
def tail(tmp_path: Path) -> str:
    return save(tmp_path / "tail.png", pattern(640, 480, seed=3)[::-1, ::-1])


# ---------------------------------------------------------------- kirin_v1_i2v


def test_i2v_first_frame_is_the_image_and_the_clip_moves(image: str) -> None:
    frames = render(job("kirin_v1_i2v", {"image": image}, prompt="a quiet street"))
    source = fitted(pattern(640, 480), SPEC)
    assert psnr(frames[0], source) > 30
    assert motion.mean_abs_diff(frames[0], frames[15]) > 3.0
    # Gentle: no jumps between neighbouring frames.
    assert max(motion.mean_abs_diff(a, b) for a, b in itertools.pairwise(frames)) < 6.0


def test_i2v_travels_to_the_tail_gradually(image: str, tail: str) -> None:
    frames = render(job("kirin_v1_i2v", {"image": image, "image_tail": tail}, prompt="x"))
    assert psnr(frames[0], fitted(pattern(640, 480), SPEC)) > 30
    assert psnr(frames[-1], fitted(pattern(640, 480, seed=3)[::-1, ::-1], SPEC)) > 30
    total = motion.mean_abs_diff(frames[0], frames[-1])
    steps = [motion.mean_abs_diff(a, b) for a, b in itertools.pairwise(frames)]
    assert max(steps) < 0.2 * total  # no cut: the change is spread over the clip
    # Half-way it is a mix of both, not either end.
    assert 0.2 * total < motion.mean_abs_diff(frames[0], frames[15]) < 0.8 * total


def test_morph_follows_motion_between_related_pictures(tmp_path: Path) -> None:
    base = blocks(700, 480, 1)  # big non-repeating blocks: the flow is unambiguous
    first = save(tmp_path / "a.png", base[:, :640])
    last = save(tmp_path / "b.png", base[:, 60:])  # the same scene, content moved left 60 px
    frames = render(job("kirin_v1_i2v", {"image": first, "image_tail": last}, prompt="x"))
    dx, _ = motion.frame_shift(frames[0], frames[15])
    # Half-way the content has travelled about half the way (a dissolve would not move it).
    assert -0.075 < dx < -0.025  # all the way is -0.094


def test_static_mask_area_stays_still(tmp_path: Path, image: str) -> None:
    mask = tmp_path / "static.png"
    mask.write_bytes(mask_bytes(320, 240, (20, 20, 120, 100)))  # half the image's resolution
    frames = render(
        job("kirin_v1_i2v", {"image": image, "static_mask": str(mask)}, prompt="zoom in")
    )
    inside = (slice(20, 100), slice(20, 120))  # output 320x240: the same box
    still = motion.mean_abs_diff(frames[0][inside], frames[-1][inside])
    outside = (slice(120, 240), slice(160, 320))
    moving = motion.mean_abs_diff(frames[0][outside], frames[-1][outside])
    assert still < 0.5
    assert moving > 5.0


def brush_image(tmp_path: Path, boxes: list[tuple[int, int, int, int]]) -> str:
    picture = pattern(640, 480)
    picture[..., 1] //= 2  # no green above 127: only the key is that green, whatever the grade
    for left, top, right, bottom in boxes:
        picture[top:bottom, left:right] = KEY
    return save(tmp_path / "brush.png", picture)


def test_dynamic_mask_follows_its_trajectory(tmp_path: Path) -> None:
    box = (100, 200, 160, 260)  # input pixels, top-left origin; centroid (130, 230)
    image = brush_image(tmp_path, [box])
    mask = tmp_path / "m.png"
    mask.write_bytes(mask_bytes(320, 240, (50, 100, 80, 130)))  # the same box at half size
    start, end = (130.0, 480 - 230.0), (420.0, 120.0)  # bottom-left origin
    params = {
        "prompt": "a ball rolls",
        "dynamic_masks": [
            {"mask": "m", "trajectories": [{"x": start[0], "y": start[1]}, {"x": 420, "y": 120}]}
        ],
    }
    frames = render(
        job("kirin_v1_i2v", {"image": image, "dynamic_masks.0.mask": str(mask)}, **params)
    )
    for i in (0, 8, 15, 23, 30):
        w = ease(i / 30)
        x_in = start[0] + w * (end[0] - start[0])
        y_in = start[1] + w * (end[1] - start[1])
        expected = (x_in * 320 / 640, (480 - y_in) * 240 / 480)  # output px, top-left origin
        found = key_centroid(frames[i])
        assert found is not None, i
        assert abs(found[0] - expected[0]) < 1.5, i
        assert abs(found[1] - expected[1]) < 1.5, i
    # The hole it left is filled: no key colour left at the start place on the last frame.
    assert key_centroid(frames[-1][90:140, 40:90]) is None


def test_several_dynamic_masks_move_independently(tmp_path: Path) -> None:
    boxes = [(60, 60, 120, 120), (500, 380, 560, 440)]
    image = brush_image(tmp_path, boxes)
    inputs = {"image": image}
    groups = []
    for index, (left, top, right, bottom) in enumerate(boxes):
        path = tmp_path / f"m{index}.png"
        path.write_bytes(mask_bytes(640, 480, (left, top, right, bottom)))
        inputs[f"dynamic_masks.{index}.mask"] = str(path)
        cx, cy = (left + right) / 2, 480 - (top + bottom) / 2
        dx = 200 if index == 0 else -200
        groups.append({"mask": "m", "trajectories": [{"x": cx, "y": cy}, {"x": cx + dx, "y": cy}]})
    frames = render(job("kirin_v1_i2v", inputs, prompt="still", dynamic_masks=groups))
    last = frames[-1]
    # Object 0 went right by 100 output px, object 1 left by 100: look where each should be.
    assert key_centroid(last[30:60, 115:145]) is not None  # (90 + 100) / 2-ish box
    assert key_centroid(last[190:220, 165:195]) is not None
    assert key_centroid(last[30:60, 30:60]) is None  # object 0 left its place
    assert key_centroid(last[190:220, 250:280]) is None  # object 1 too


def test_trajectory_goes_through_every_point_in_output_pixels() -> None:
    points = [{"x": 0, "y": 0}, {"x": 320, "y": 240}, {"x": 640, "y": 0}]
    out = to_output(points, (640, 480), (320, 240))
    assert out.tolist() == [[0, 240], [160, 120], [320, 240]]
    path = Trajectory.through(out)
    assert path.at(0.0) == (0.0, 240.0)
    assert path.at(1.0) == (320.0, 240.0)
    # The middle point is reached half-way along (symmetric path, arc-length parameter).
    x, y = path.point(0.5)
    assert abs(x - 160) < 1
    assert abs(y - 120) < 1


# ---------------------------------------------------------------- words


def test_negative_colour_is_desaturated(tmp_path: Path) -> None:
    picture = np.zeros((480, 640, 3), np.uint8)
    picture[:, :320] = (220, 30, 30)  # red
    picture[:, 320:] = (30, 60, 220)  # blue
    path = save(tmp_path / "rb.png", picture)
    plain = render(job("kirin_v1_i2v", {"image": path}, prompt="still"))[-1]
    dull = render(job("kirin_v1_i2v", {"image": path}, prompt="still", negative_prompt="red"))[-1]

    def saturation(frame: Frame, cols: slice) -> float:
        hsv = cv2.cvtColor(np.ascontiguousarray(frame[60:180, cols]), cv2.COLOR_RGB2HSV)
        return float(hsv[..., 1].mean())

    assert saturation(dull, slice(20, 140)) < 0.5 * saturation(plain, slice(20, 140))
    assert abs(saturation(dull, slice(180, 300)) - saturation(plain, slice(180, 300))) < 5


def test_cfg_scale_sets_the_grade_strength(image: str) -> None:
    source = fitted(pattern(640, 480), SPEC)
    weak, strong = (
        render(job("kirin_v1_i2v", {"image": image}, prompt="still blue night", cfg_scale=c))[-1]
        for c in (0.0, 1.0)
    )
    assert motion.mean_abs_diff(strong, source) > 1.5 * motion.mean_abs_diff(weak, source)


def test_prompt_words_pick_the_camera_move(image: str) -> None:
    frames = render(job("kirin_v1_i2v", {"image": image}, prompt="slowly zoom in"))
    assert motion.scale_between(frames[0], frames[-1]) > 1.07
    frames = render(job("kirin_v1_i2v", {"image": image}, prompt="pan right"))
    dx, _ = motion.frame_shift(frames[0], frames[-1])
    assert dx < -0.01  # the view travels right: the content slides left


def test_same_job_same_frames(tmp_path: Path, image: str, tail: str) -> None:
    j = job("kirin_v1_i2v", {"image": image, "image_tail": tail}, prompt="red sky")
    a, b = render(j), render(job("kirin_v1_i2v", dict(j.inputs), prompt="red sky"))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    other = render(job("kirin_v1_i2v", dict(j.inputs), prompt="green sky"))
    assert not np.array_equal(a[15], other[15])


# ---------------------------------------------------------------- kirin_v3_i2v

SHOTS = [
    {"index": 1, "prompt": "a wide view of the valley", "duration": "1"},
    {"index": 2, "prompt": "a close look at the red door", "duration": "2"},
    {"index": 3, "prompt": "the sky at night", "duration": "1"},
]
SHOT_SPEC = OutputSpec(width=320, height=240, fps=30, frames=120, audio=True)


def multi_shot(inputs: dict[str, str], **extra: Any) -> RenderJob:
    return job(
        "kirin_v3_i2v",
        inputs,
        spec=SHOT_SPEC,
        multi_shot=True,
        shot_type="customize",
        multi_prompt=SHOTS,
        sound="on",
        duration="4",
        **extra,
    )


def test_v3_multi_shot_cuts_exactly_at_the_shot_boundaries(image: str) -> None:
    frames = render(multi_shot({"image": image}))
    assert cuts(frames) == [30, 90]
    assert psnr(frames[0], fitted(pattern(640, 480), SPEC)) > 30
    # Shots look different from each other (framing and grade), not just at the cut.
    assert motion.mean_abs_diff(frames[40], frames[100]) > 10
    meta = image_models.metadata(multi_shot({"image": image}))
    assert meta["shots"] == 3
    assert meta["shot_starts"] == [0, 30, 90]


def test_v3_multi_shot_with_a_tail_ends_on_it(image: str, tail: str) -> None:
    frames = render(multi_shot({"image": image, "image_tail": tail}))
    assert cuts(frames) == [30, 90]
    assert psnr(frames[0], fitted(pattern(640, 480), SPEC)) > 30
    assert psnr(frames[-1], fitted(pattern(640, 480, seed=3)[::-1, ::-1], SPEC)) > 30


def test_v3_sound_on_has_audio_of_the_clip_length_off_has_none(image: str) -> None:
    track = image_models.audio(multi_shot({"image": image}))
    assert track is not None
    assert track.samples.shape[1] / track.sample_rate == pytest.approx(4.0)
    assert float(np.abs(track.samples).max()) > 0.05
    # The chord changes at the cuts: the spectrum of each shot differs.
    rate = track.sample_rate
    a = np.abs(np.fft.rfft(track.samples[0, int(0.2 * rate) : int(0.8 * rate)]))
    b = np.abs(np.fft.rfft(track.samples[0, int(1.2 * rate) : int(1.8 * rate)]))
    assert int(np.argmax(a)) != int(np.argmax(b))
    silent = job("kirin_v3_i2v", {"image": image}, prompt="x", sound="off")
    assert image_models.audio(silent) is None


def test_v3_only_tail_ends_on_it(tail: str) -> None:
    frames = render(job("kirin_v3_i2v", {"image_tail": tail}, prompt="a calm lake"))
    end = fitted(pattern(640, 480, seed=3)[::-1, ::-1], SPEC)
    assert psnr(frames[-1], end) > 30
    assert motion.mean_abs_diff(frames[0], end) > 3.0  # it settles onto it, from elsewhere


def test_v3_elements_appear(tmp_path: Path, image: str) -> None:
    subjects = [blocks(400, 300, 10), blocks(300, 400, 11)]
    inputs = {"image": image}
    for index, subject in enumerate(subjects):
        inputs[f"element_list.{index}"] = save(tmp_path / f"e{index}.png", subject)
    j = job(
        "kirin_v3_i2v",
        inputs,
        prompt="x",
        element_list=[{"element_id": 1}, {"element_id": 2}],
    )
    frames = render(j)
    assert psnr(frames[0], fitted(pattern(640, 480), SPEC)) > 30  # faded in after frame 0
    for subject in subjects:
        assert find(frames[20], subject, range(30, 90, 2)) > 0.8
        assert find(frames[0], subject, range(30, 90, 2)) < 0.8
    assert len(image_models.metadata(j)["elements"]) == 2


def test_v3_pro_renders_the_pro_size(image: str) -> None:
    spec = OutputSpec(width=1440, height=1080, fps=30, frames=3)
    frames = render(job("kirin_v3_i2v", {"image": image}, spec=spec, prompt="x", mode="pro"))
    assert frames[0].shape == (1080, 1440, 3)
    assert psnr(frames[0], fitted(pattern(640, 480), spec)) > 30


# ---------------------------------------------------------------- kirin_v1_6_multi_i2v


@pytest.mark.parametrize("count", [1, 2, 3, 4])
@pytest.mark.parametrize("size", [(320, 180), (180, 320), (240, 240)])
def test_multi_every_reference_is_recognisable(
    tmp_path: Path, count: int, size: tuple[int, int]
) -> None:
    references = [blocks(480 + 60 * i, 400, 20 + i) for i in range(count)]
    inputs = {
        f"image_list.{i}.image": save(tmp_path / f"r{i}.png", r) for i, r in enumerate(references)
    }
    spec = OutputSpec(width=size[0], height=size[1], fps=30, frames=31)
    j = job(
        "kirin_v1_6_multi_i2v",
        inputs,
        spec=spec,
        prompt="friends at a party",
        image_list=[{"image": "x"}] * count,
    )
    frames = render(j)
    assert motion.mean_abs_diff(frames[0], frames[-1]) > 1.0  # gently moving
    for reference in references:
        assert find(frames[15], reference, range(20, max(size), 2), k=1.0) > 0.8


# ---------------------------------------------------------------- encoded, decoded


def encoded(j: RenderJob, path: Path) -> list[Frame]:
    track = image_models.audio(j)
    encode_mp4(
        image_models.frames(j),
        [VideoTarget(path)],
        width=j.spec.width,
        height=j.spec.height,
        fps=j.spec.fps,
        total_frames=j.spec.frames,
        audio=None if track is None else PcmAudio(track.samples, track.sample_rate),
    )
    return read_frames(path)


def test_encoded_i2v_with_tail(tmp_path: Path, image: str, tail: str) -> None:
    # The input's own size: at 320x240 yuv420 alone costs the pattern's sharp colour edges
    # about 30 dB, whatever the engine does.
    spec = OutputSpec(width=640, height=480, fps=30, frames=60)
    j = job("kirin_v1_i2v", {"image": image, "image_tail": tail}, spec=spec, prompt="x")
    frames = encoded(j, tmp_path / "out.mp4")
    assert len(frames) == 60
    assert psnr(frames[0], fitted(pattern(640, 480), spec)) > 30
    assert psnr(frames[-1], fitted(pattern(640, 480, seed=3)[::-1, ::-1], spec)) > 30


def test_encoded_v3_multi_shot(tmp_path: Path, image: str) -> None:
    frames = encoded(multi_shot({"image": image}), tmp_path / "out.mp4")
    assert len(frames) == 120
    assert cuts(frames) == [30, 90]
    info = probe_video(tmp_path / "out.mp4")
    assert info.has_audio


def test_encoded_multi_i2v(tmp_path: Path) -> None:
    references = [blocks(480, 400, 30 + i) for i in range(3)]
    inputs = {
        f"image_list.{i}.image": save(tmp_path / f"r{i}.png", r) for i, r in enumerate(references)
    }
    spec = OutputSpec(width=640, height=360, fps=30, frames=30)
    j = job("kirin_v1_6_multi_i2v", inputs, spec=spec, prompt="x", image_list=[{}] * 3)
    frames = encoded(j, tmp_path / "out.mp4")
    for reference in references:
        assert find(frames[15], reference, range(60, 360, 2)) > 0.8
