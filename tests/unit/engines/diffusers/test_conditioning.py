"""What VACE is shown: keyframes kept, brushed objects carried along their paths, the still area
kept in every frame, a reference video's structure moving as the video moves."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from kirin_api.engines.diffusers import conditioning
from kirin_api.engines.preview.brush import Trajectory, to_output
from tests.media_factory import mask_bytes, pattern
from tests.unit.engines import motion

W, H, COUNT = 160, 96, 9


def saved(tmp_path: Path, name: str, data: bytes | np.ndarray) -> str:
    path = tmp_path / name
    if isinstance(data, np.ndarray):
        Image.fromarray(data).save(path)
    else:
        path.write_bytes(data)
    return str(path)


def arrays(images: list[Image.Image] | None) -> list[np.ndarray]:
    assert images is not None
    return [np.asarray(image) for image in images]


def test_keyframes_keep_the_first_and_last_frames_and_fill_the_rest(tmp_path: Path) -> None:
    first, last = pattern(W, H, seed=1), pattern(W, H, seed=2)
    inputs = conditioning.keyframes(first, last, COUNT, W, H)
    video, masks = arrays(inputs.video), arrays(inputs.mask)
    assert len(video) == len(masks) == COUNT
    assert np.array_equal(video[0], first)
    assert np.array_equal(video[-1], last)
    assert masks[0].max() == 0
    assert masks[-1].max() == 0
    for frame, mask in zip(video[1:-1], masks[1:-1], strict=True):
        assert (frame == conditioning.GREY).all()
        assert mask.min() == 255
    only_first = conditioning.keyframes(first, None, COUNT, W, H)
    assert arrays(only_first.mask)[-1].min() == 255


def test_the_brush_carries_objects_along_their_paths_and_keeps_the_still_area(
    tmp_path: Path,
) -> None:
    image = pattern(W, H) // 2  # muted, so nothing else in it is magenta
    image[40:60, 20:40] = (255, 0, 255)  # a magenta square: the brushed object
    image_path = saved(tmp_path, "image.png", image)
    dynamic = saved(tmp_path, "dyn.png", mask_bytes(W, H, (20, 40, 40, 60)))
    static = saved(tmp_path, "static.png", mask_bytes(W, H, (100, 0, 160, 30)))
    points = [{"x": 30.0, "y": H - 50.0}, {"x": 90.0, "y": H - 70.0}]  # origin bottom-left
    control = conditioning.brush(image_path, static, [(dynamic, points)], COUNT, W, H)
    video, masks = arrays(control.inputs.video), arrays(control.inputs.mask)
    assert control.objects == 1
    assert masks[0].max() == 0  # the first frame is the image, kept
    assert np.array_equal(video[0], image)
    path = Trajectory.through(to_output(points, (W, H), (W, H)))
    for index in (1, COUNT // 2, COUNT - 1):
        frame, mask = video[index], masks[index]
        magenta = (frame[..., 0] > 200) & (frame[..., 1] < 60) & (frame[..., 2] > 200)
        ys, xs = np.nonzero(magenta)
        expected = path.at(index / (COUNT - 1))
        assert abs(xs.mean() + 0.5 - expected[0]) < 1.5
        assert abs(ys.mean() + 0.5 - expected[1]) < 1.5
        assert mask[5:25, 105:155].max() == 0  # the still area is kept...
        assert np.array_equal(frame[5:25, 105:155], image[5:25, 105:155])  # ...as it is
        assert mask[70:90, 10:60].min() == 255  # elsewhere the model paints


def test_the_still_area_is_pinned_on_the_output(tmp_path: Path) -> None:
    image = pattern(W, H)
    image_path = saved(tmp_path, "image.png", image)
    static = saved(tmp_path, "static.png", mask_bytes(W, H, (0, 0, 60, 40)))
    noise = np.random.default_rng(0).integers(0, 256, (COUNT, H * 2, W * 2, 3), np.uint8)
    pinned = conditioning.pin_still_area(list(noise), image_path, static)
    big = np.asarray(Image.fromarray(image).resize((W * 2, H * 2), Image.BICUBIC))
    for frame in pinned:
        assert np.abs(frame[10:70, 10:110].astype(int) - big[10:70, 10:110]).mean() < 3
    assert np.abs(pinned[0][120:, 200:].astype(int) - noise[0][120:, 200:]).max() == 0


def panning_video(path: Path, width: int = 320, height: int = 180, frames: int = 30) -> Path:
    """Blobs (no repeating pattern, so the shift is unambiguous) panning left 4 px a frame."""
    rng = np.random.default_rng(5)
    small = rng.integers(0, 256, (height // 12, width // 6, 3), dtype=np.uint8)
    world = cv2.resize(small, (width * 2, height), interpolation=cv2.INTER_CUBIC)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            picture = np.ascontiguousarray(world[:, 4 * i : 4 * i + width])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(stream.encode())
    return path


def test_reference_edges_move_with_the_reference(tmp_path: Path) -> None:
    reference = panning_video(tmp_path / "ref.mp4")
    edges = conditioning.edges(str(reference), COUNT, W, H)
    assert len(edges) == COUNT
    assert edges[0].shape == (H, W, 3)
    assert 0.02 < (edges[0] > 0).mean() < 0.6  # lines, not a blank or a solid picture
    dx, _ = motion.frame_shift(edges[0], edges[2])  # 7 source frames: 28 of 320 px
    assert -0.11 < dx < -0.065  # the content moves left, and the edges with it
