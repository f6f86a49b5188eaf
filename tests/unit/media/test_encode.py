"""encode_mp4, the watermark and probe_video on small clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kirin_api.media.encode import EncodeCancelled, EncodeError, PcmAudio, VideoTarget, encode_mp4
from kirin_api.media.probe import probe_video, read_frames
from kirin_api.media.watermark import make_watermark

W, H, FPS, N = 320, 180, 30, 45


def frames(n: int = N) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:H, 0:W]
    return [
        np.stack([(xx + 3 * i) % 256, yy % 256, np.full_like(xx, 120)], axis=2).astype(np.uint8)
        for i in range(n)
    ]


def test_video_only(tmp_path: Path) -> None:
    out = tmp_path / "v.mp4"
    done: list[int] = []
    stats = encode_mp4(
        iter(frames()),
        [VideoTarget(out)],
        width=W,
        height=H,
        fps=FPS,
        total_frames=N,
        on_frame=done.append,
    )
    info = probe_video(out)
    assert (info.width, info.height, info.frames) == (W, H, N)
    assert info.fps == pytest.approx(FPS)
    assert info.duration == pytest.approx(N / FPS, abs=1e-3)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.faststart
    assert not info.has_audio
    assert stats.frames == N
    assert done[-1] == N
    assert not list(tmp_path.glob(".*part"))


def test_with_audio(tmp_path: Path) -> None:
    rate = 48_000
    t = np.arange(int(N / FPS * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    audio = PcmAudio(np.stack([tone, tone]), rate)
    out = tmp_path / "a.mp4"
    encode_mp4(
        frames(), [VideoTarget(out)], width=W, height=H, fps=FPS, total_frames=N, audio=audio
    )
    info = probe_video(out)
    assert info.has_audio
    assert info.audio_codec == "aac"
    assert info.audio_duration == pytest.approx(N / FPS, abs=0.05)
    assert info.frames == N
    assert info.faststart


def test_watermarked_output_differs_only_in_the_mark(tmp_path: Path) -> None:
    mark = make_watermark(W, H)
    clean, marked = tmp_path / "c.mp4", tmp_path / "m.mp4"
    encode_mp4(
        frames(),
        [VideoTarget(clean), VideoTarget(marked, mark)],
        width=W,
        height=H,
        fps=FPS,
        total_frames=N,
    )
    a, b = read_frames(clean, [10])[0], read_frames(marked, [10])[0]
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2)
    left, top, right, bottom = mark.box
    inside = np.zeros_like(diff, dtype=bool)
    inside[top:bottom, left:right] = True
    assert diff[inside].mean() > 10
    # Outside (away from the block edges the encoder may smear) the two are nearly equal.
    outside = np.ones_like(inside)
    outside[max(0, top - 16) : bottom + 16, max(0, left - 16) : right + 16] = False
    assert diff[outside].mean() < 1.5


def test_watermark_keeps_its_input() -> None:
    f = frames(1)[0]
    before = f.copy()
    out = make_watermark(W, H)(f)
    assert np.array_equal(f, before)
    assert not np.array_equal(out, f)


def test_should_stop_cancels_and_removes_files(tmp_path: Path) -> None:
    out = tmp_path / "x.mp4"
    done: list[int] = []
    with pytest.raises(EncodeCancelled):
        encode_mp4(
            frames(),
            [VideoTarget(out)],
            width=W,
            height=H,
            fps=FPS,
            total_frames=N,
            on_frame=done.append,
            should_stop=lambda: len(done) >= 5,
        )
    assert len(done) == 5
    assert list(tmp_path.iterdir()) == []


def test_wrong_frame_count_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EncodeError, match="expected"):
        encode_mp4(
            frames(10),
            [VideoTarget(tmp_path / "x.mp4")],
            width=W,
            height=H,
            fps=FPS,
            total_frames=N,
        )
    assert list(tmp_path.iterdir()) == []


def test_wrong_frame_shape_is_an_error(tmp_path: Path) -> None:
    bad = [np.zeros((H, W, 4), np.uint8)]
    with pytest.raises(EncodeError, match="shape"):
        encode_mp4(
            bad, [VideoTarget(tmp_path / "x.mp4")], width=W, height=H, fps=FPS, total_frames=1
        )
