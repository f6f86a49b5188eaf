"""kirin_v3_motion_control in the preview engine, measured on the frames it renders.

References are small videos made here (``media_factory.video_file`` and :func:`make_video`); jobs
are built directly, with the spec the contract would give (round(duration x 30) frames).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from kirin_api.contract.job import OutputSpec, RenderJob
from kirin_api.engines.base import Frame
from kirin_api.engines.preview import motion_transfer
from kirin_api.media.encode import PcmAudio, VideoTarget, encode_mp4
from kirin_api.media.probe import probe_video, read_frames
from tests import media_factory
from tests.unit.engines import motion

WIDTH, HEIGHT = 320, 240


@pytest.fixture(autouse=True)
def _fresh_analysis() -> None:
    # Each test's files are new; clearing keeps one test's analysis from standing in another's.
    motion_transfer._cached_choices.cache_clear()


def make_video(
    path: Path,
    frame_at: Callable[[int, int], np.ndarray],
    *,
    seconds: float = 2.0,
    fps: int = 30,
    size: tuple[int, int] = (400, 300),
) -> Path:
    """An MP4 without sound whose frame ``i`` of ``n`` is ``frame_at(i, n)`` (RGB, ``size``)."""
    count = round(seconds * fps)
    with av.open(str(path), "w", format="mp4") as out:
        stream: Any = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"crf": "18"}
        for i in range(count):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_at(i, count)), "rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def panning(offset: Callable[[int, int], int], size: tuple[int, int] = (400, 300)) -> Any:
    """Frames that show a window of a wide pattern, ``offset(i, n)`` px from its left edge."""
    base = media_factory.pattern(size[0] * 3, size[1], seed=5)

    def frame_at(i: int, n: int) -> np.ndarray:
        x = size[0] + offset(i, n)
        return base[:, x : x + size[0]]

    return frame_at


def image_file(path: Path, picture: np.ndarray) -> str:
    ok, data = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    assert ok
    path.write_bytes(data.tobytes())
    return str(path)


def job_for(
    video: Path,
    image: str,
    *,
    orientation: str = "image",
    keep: str = "yes",
    mode: str = "std",
    element: str | None = None,
    prompt: str | None = None,
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> RenderJob:
    info = probe_video(video)
    spec = OutputSpec(
        width=size[0],
        height=size[1],
        fps=30,
        frames=round(info.duration * 30),
        audio=keep == "yes" and info.has_audio,
    )
    params: dict[str, Any] = {
        "character_orientation": orientation,
        "mode": mode,
        "keep_original_sound": keep,
        "prompt": prompt,
    }
    inputs = {"image_url": image, "video_url": str(video)}
    if element is not None:
        params["element_list"] = [{"element_id": 1}]
        inputs["element_list.0"] = element
    return RenderJob("t", "kirin_v3_motion_control", params, spec, seed=3, inputs=inputs)


def render(job: RenderJob) -> list[Frame]:
    return list(motion_transfer.frames(job))


def dx_track(frames: list[Frame], stride: int = 1) -> np.ndarray:
    """Horizontal content shift between frames ``stride`` apart, in frame-width fractions."""
    return np.array(
        [
            motion.frame_shift(frames[i], frames[i + stride])[0]
            for i in range(0, len(frames) - stride, stride)
        ]
    )


@pytest.fixture
def picture(tmp_path: Path) -> str:
    return image_file(tmp_path / "image.png", media_factory.pattern(480, 360, seed=11))


def test_length_and_size_follow_the_reference(tmp_path: Path, picture: str) -> None:
    video = media_factory.video_file(tmp_path / "ref.mp4", seconds=2.5, audio=False)
    job = job_for(video, picture)
    frames = render(job)
    assert job.spec.frames == round(probe_video(video).duration * 30) == 75
    assert len(frames) == 75
    assert all(f.shape == (HEIGHT, WIDTH, 3) and f.dtype == np.uint8 for f in frames)


def test_a_24_fps_reference_is_resampled_to_30(tmp_path: Path, picture: str) -> None:
    def offset(i: int, n: int) -> int:
        return -round(i * 3)  # the content moves right, 3 px per reference frame

    video = make_video(tmp_path / "ref24.mp4", panning(offset), seconds=2.0, fps=24)
    job = job_for(video, picture)
    frames = render(job)
    assert len(frames) == job.spec.frames == 60
    shifts = dx_track(frames, stride=3)
    assert (shifts > 0).all()  # steady, no frozen or backward steps from the rate change


def test_global_motion_track_correlates_with_the_reference(tmp_path: Path, picture: str) -> None:
    # Back and forth with changing speed: a constant pan would make correlation meaningless.
    def offset(i: int, n: int) -> int:
        return round(60 * np.sin(2 * np.pi * 1.5 * i / n))

    video = make_video(tmp_path / "sway.mp4", panning(offset), seconds=2.0)
    job = job_for(video, picture)
    reference = dx_track(read_frames(video), stride=2)
    output = dx_track(render(job), stride=2)
    assert reference.shape == output.shape
    assert np.corrcoef(reference, output)[0, 1] > 0.8


@pytest.mark.parametrize("direction", [1, -1])
def test_output_moves_the_way_the_reference_does(
    tmp_path: Path, picture: str, direction: int
) -> None:
    def offset(i: int, n: int) -> int:
        return -direction * round(150 * i / n)  # window moves left: content moves right

    video = make_video(tmp_path / "pan.mp4", panning(offset), seconds=2.0)
    reference = dx_track(read_frames(video), stride=5)
    output = dx_track(render(job_for(video, picture)), stride=5)
    assert np.sign(np.median(reference)) == direction
    assert np.sign(np.median(output)) == direction
    assert (np.sign(output) == direction).mean() > 0.9


def test_a_static_reference_gives_a_still_video(tmp_path: Path, picture: str) -> None:
    still = media_factory.pattern(400, 300, seed=2)
    video = make_video(tmp_path / "still.mp4", lambda i, n: still, seconds=1.5)
    frames = render(job_for(video, picture))
    assert max(motion.mean_abs_diff(frames[0], f) for f in frames) < 0.5
    assert motion_transfer.metadata(job_for(video, picture))["subject_found"] is False


def test_a_moving_subject_moves_its_region_of_the_image(tmp_path: Path) -> None:
    # A static background with a textured square walking right, as a static camera sees a
    # person: the background stays still, the image's matching region moves right. The image is
    # smoothed noise, so a patch of it matches in one place only.
    noise = np.random.default_rng(1).integers(0, 256, (360, 480, 3)).astype(np.uint8)
    picture = image_file(tmp_path / "noise.png", cv2.GaussianBlur(noise, (0, 0), 2.0))
    background = media_factory.pattern(400, 300, seed=4) // 2
    square = media_factory.pattern(80, 100, seed=9)
    square[:, :, 2] = 255 - square[:, :, 2]

    def frame_at(i: int, n: int) -> np.ndarray:
        frame = background.copy()
        x = 60 + round(200 * i / n)
        frame[100:200, x : x + 80] = square
        return frame

    video = make_video(tmp_path / "walk.mp4", frame_at, seconds=2.0)
    job = job_for(video, picture)
    frames = render(job)
    meta = motion_transfer.metadata(job)
    assert meta["subject_found"] is True
    first, last = frames[0], frames[-1]
    # The corners (background) do not move.
    assert motion.mean_abs_diff(first[:40, :40], last[:40, :40]) < 1.0
    assert motion.mean_abs_diff(first[-40:, -40:], last[-40:, -40:]) < 1.0
    # The image's patch where the square started is found again further right at the end.
    sx, sy = WIDTH / 400, HEIGHT / 300
    top, left = round(110 * sy), round(70 * sx)
    patch = first[top : top + round(80 * sy), left : left + round(60 * sx)]
    scores = cv2.matchTemplate(last, patch, cv2.TM_CCOEFF_NORMED)
    _, best, _, (x, y) = cv2.minMaxLoc(scores)
    assert best > 0.8
    assert abs((x - left) - 200 * sx * 59 / 60) < 12  # moved as far as the square did
    assert abs(y - top) < 6


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.mean(axis=0)))
    return float(np.fft.rfftfreq(samples.shape[1], 1 / rate)[int(np.argmax(spectrum))])


def test_original_sound_is_kept(tmp_path: Path, picture: str) -> None:
    video = media_factory.video_file(tmp_path / "ref.mp4", seconds=2.0, audio=True)
    job = job_for(video, picture, keep="yes")
    track = motion_transfer.audio(job)
    assert track is not None
    expected = job.spec.duration * track.sample_rate
    assert abs(track.samples.shape[1] - expected) <= track.sample_rate / 30
    assert track.samples.dtype == np.float32
    assert abs(dominant_hz(track.samples, track.sample_rate) - 440) < 5


def test_no_sound_when_not_kept_or_silent(tmp_path: Path, picture: str) -> None:
    loud = media_factory.video_file(tmp_path / "loud.mp4", seconds=2.0, audio=True)
    silent = media_factory.video_file(tmp_path / "silent.mp4", seconds=2.0, audio=False)
    assert motion_transfer.audio(job_for(loud, picture, keep="no")) is None
    assert motion_transfer.audio(job_for(silent, picture, keep="yes")) is None


def detail_side(frame: Frame) -> float:
    """Gradient energy of the right half minus the left half, over the total (-1..1)."""
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    half = energy.shape[1] // 2
    left, right = float(energy[:, :half].sum()), float(energy[:, half:].sum())
    return (right - left) / (right + left)


@pytest.mark.parametrize(
    ("orientation", "content_moves", "mirrored"),
    [("video", -1, True), ("video", 1, False), ("image", -1, False), ("image", 1, False)],
)
def test_character_orientation(
    tmp_path: Path, orientation: str, content_moves: int, mirrored: bool
) -> None:
    # The image "faces right": all its detail is on the right half (the rule: detail is the
    # front). orientation video mirrors it when the reference's content moves the other way.
    image = np.full((360, 480, 3), 128, np.uint8)
    image[:, 240:] = media_factory.pattern(240, 360, seed=8)
    path = image_file(tmp_path / "facing.png", image)
    assert motion_transfer.image_facing(image) == 1

    def offset(i: int, n: int) -> int:
        return -content_moves * round(120 * i / n)

    video = make_video(tmp_path / "pan.mp4", panning(offset), seconds=1.5)
    job = job_for(video, path, orientation=orientation)
    first = render(job)[0]
    meta = motion_transfer.metadata(job)
    assert meta["mirrored"] is mirrored
    assert meta["video_direction"] == content_moves
    side = detail_side(first)
    assert side < -0.3 if mirrored else side > 0.3


def test_element_is_cut_out_and_composited(tmp_path: Path, picture: str) -> None:
    # A figure (a yellow head, a purple body, a "K") on a plain green backdrop: the figure is
    # found in every frame, and the backdrop is not (no rectangular card).
    subject = np.zeros((400, 300, 3), np.uint8)
    subject[:] = (30, 200, 90)
    cv2.circle(subject, (150, 130), 80, (250, 220, 40), -1)
    cv2.rectangle(subject, (60, 250), (240, 380), (200, 40, 160), -1)
    cv2.putText(subject, "K", (110, 160), cv2.FONT_HERSHEY_SIMPLEX, 3, (10, 10, 10), 8)
    element = image_file(tmp_path / "element.png", subject)
    video = media_factory.video_file(tmp_path / "ref.mp4", seconds=1.5, audio=False)
    job = job_for(video, picture, orientation="video", element=element)
    frames = render(job)
    height = round(HEIGHT * motion_transfer.ELEMENT_HEIGHT)
    size = (round(300 * height / 400), height)
    template = cv2.resize(subject, size, interpolation=cv2.INTER_AREA)
    figure = np.zeros(subject.shape[:2], np.uint8)
    cv2.circle(figure, (150, 130), 80, 255, -1)
    cv2.rectangle(figure, (60, 250), (240, 380), 255, -1)
    shape = cv2.resize(figure, size, interpolation=cv2.INTER_AREA)
    inside = cv2.erode(shape, np.ones((5, 5), np.uint8))
    backdrop_only = cv2.dilate(shape, np.ones((7, 7), np.uint8)) == 0
    weights = cv2.merge([inside] * 3)
    for frame in (frames[0], frames[len(frames) // 2], frames[-1]):
        scores = cv2.matchTemplate(frame, template, cv2.TM_SQDIFF, mask=weights)
        _, _, (x, y), _ = cv2.minMaxLoc(scores)
        placed = frame[y : y + size[1], x : x + size[0]].astype(int)
        assert placed.shape[:2] == template.shape[:2]
        error = np.abs(placed - template)[inside > 0].mean()
        assert error < 8, error  # the figure's own pixels are there
        green = np.all(np.abs(placed - (30, 200, 90)) < 40, axis=2)
        assert green[backdrop_only].mean() < 0.05  # and its backdrop is not
    # Without element_list (or with orientation image, where the contract refuses it) it is not.
    plain = render(job_for(video, picture, orientation="video"))[0]
    scores = cv2.matchTemplate(plain, template, cv2.TM_SQDIFF, mask=weights)
    _, _, (x, y), _ = cv2.minMaxLoc(scores)
    placed = plain[y : y + size[1], x : x + size[0]].astype(int)
    assert np.abs(placed - template)[inside > 0].mean() > 30


def striped_scene(x: int, size: tuple[int, int] = (400, 300)) -> np.ndarray:
    """Blue and cream stripes with a plain red figure (a body and a head) centred at ``x``."""
    w, h = size
    stripes = ((np.arange(w) // 12) % 2).astype(bool)
    row = np.where(stripes[:, None], (40, 120, 200), (230, 230, 210)).astype(np.uint8)
    scene = np.ascontiguousarray(np.broadcast_to(row[None], (h, w, 3)))
    cv2.ellipse(scene, (x, 170), (30, 70), 0, 0, 360, (220, 30, 30), -1, cv2.LINE_AA)
    cv2.circle(scene, (x, 85), 22, (220, 30, 30), -1, cv2.LINE_AA)
    return scene


def red(frame: Frame) -> np.ndarray:
    f = frame.astype(int)
    return (f[..., 0] > 150) & (f[..., 1] < 100) & (f[..., 2] < 100)


def test_a_moving_figure_leaves_no_debris(tmp_path: Path) -> None:
    # The case: a plain figure walking across stripes. Wherever it was, only background
    # stays: no pixel of its colour outside its current mask (and the mask's soft rim).
    video = make_video(
        tmp_path / "walk.mp4", lambda i, n: striped_scene(100 + round(200 * i / n)), seconds=3.0
    )
    picture = image_file(tmp_path / "figure.png", striped_scene(100))
    job = job_for(video, picture)
    frames = render(job)
    image = cv2.resize(striped_scene(100), (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    assert np.array_equal(frames[0], image)  # the first frame is the image, cut-out and all
    indices = [0, 30, len(frames) // 2, 75, len(frames) - 1]
    masks = motion_transfer.subject_masks(job, indices)
    for index, mask in zip(indices, masks, strict=True):
        assert mask is not None
        outside = red(frames[index]) & (mask < 0.02)
        assert outside.sum() == 0, (index, int(outside.sum()))
    # And it did move with the reference: about 200 reference px = 160 output px.
    first, last = masks[0], masks[-1]
    assert first is not None
    assert last is not None
    travel = np.nonzero(last > 0.5)[1].mean() - np.nonzero(first > 0.5)[1].mean()
    assert abs(travel - 160) < 16, travel


def test_the_first_frame_is_the_image(tmp_path: Path) -> None:
    # A reference that pans from its first frame on: still no magnification at frame 0.
    video = make_video(tmp_path / "pan.mp4", panning(lambda i, n: 3 * i), seconds=1.0)
    image = media_factory.pattern(WIDTH, HEIGHT, seed=11)
    job = job_for(video, image_file(tmp_path / "same.png", image))
    frames = render(job)
    assert np.array_equal(frames[0], image)
    assert motion.mean_abs_diff(frames[0], frames[-1]) > 5  # and then it does move


def test_same_job_same_frames(tmp_path: Path, picture: str) -> None:
    video = media_factory.video_file(tmp_path / "ref.mp4", seconds=1.0, audio=False)
    job = job_for(video, picture, prompt="a dancer in a red coat", mode="pro")
    first = render(job)
    motion_transfer._cached_choices.cache_clear()
    again = render(job)
    assert len(first) == len(again)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


def test_prompt_grades_the_picture_subtly(tmp_path: Path, picture: str) -> None:
    video = media_factory.video_file(tmp_path / "ref.mp4", seconds=1.0, audio=False)
    plain = render(job_for(video, picture))[0]
    graded = render(job_for(video, picture, prompt="a dancer in a red coat"))[0]
    difference = motion.mean_abs_diff(plain, graded)
    assert 0.2 < difference < 8.0


def test_encoded_output_keeps_length_motion_and_sound(tmp_path: Path, picture: str) -> None:
    video = media_factory.video_file(tmp_path / "ref.mp4", seconds=2.0, audio=True)
    job = job_for(video, picture)
    track = motion_transfer.audio(job)
    assert track is not None
    out = tmp_path / "out.mp4"
    spec = job.spec
    encode_mp4(
        motion_transfer.frames(job),
        [VideoTarget(out)],
        width=spec.width,
        height=spec.height,
        fps=spec.fps,
        total_frames=spec.frames,
        audio=PcmAudio(track.samples, track.sample_rate),
    )
    info = probe_video(out)
    assert info.frames == spec.frames == 60
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.has_audio
    decoded = read_frames(out)
    shifts = dx_track(decoded, stride=5)
    # media_factory's video pans right: its content moves left, and so does the output's.
    assert (shifts < 0).all()
