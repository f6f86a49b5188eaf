from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kirin_api.media.audio import SAMPLE_RATE, read_audio, tone_bed
from tests.media_factory import video_file


def _dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / SAMPLE_RATE)[int(np.argmax(spectrum))])


def test_tone_bed_lasts_the_duration_and_changes_at_cuts() -> None:
    pcm = tone_bed(3.0, seeds=[1, 2], cuts=[1.5])
    assert pcm.samples.shape == (2, 3 * SAMPLE_RATE)
    assert pcm.samples.dtype == np.float32
    assert np.abs(pcm.samples).max() <= 1.0
    first, second = pcm.samples[0, :SAMPLE_RATE], pcm.samples[0, -SAMPLE_RATE:]
    assert _dominant_hz(first) != pytest.approx(_dominant_hz(second), abs=2)
    # Fades at the cut: no click.
    cut = int(1.5 * SAMPLE_RATE)
    assert np.abs(pcm.samples[:, cut - 2 : cut + 2]).max() < 0.05


def test_tone_bed_depends_on_the_seed_only() -> None:
    assert np.array_equal(tone_bed(1.0, [7]).samples, tone_bed(1.0, [7]).samples)
    assert not np.array_equal(tone_bed(1.0, [7]).samples, tone_bed(1.0, [8]).samples)


def test_read_audio_takes_the_reference_track_and_stops_at_the_limit(tmp_path: Path) -> None:
    with_sound = video_file(tmp_path / "a.mp4", seconds=3, audio=True)
    pcm = read_audio(with_sound, max_seconds=2.0)
    assert pcm is not None
    assert pcm.samples.shape == (2, 2 * SAMPLE_RATE)
    assert _dominant_hz(pcm.samples[0, :SAMPLE_RATE]) == pytest.approx(440, abs=5)
    silent = video_file(tmp_path / "b.mp4", seconds=3, audio=False)
    assert read_audio(silent, max_seconds=5) is None
