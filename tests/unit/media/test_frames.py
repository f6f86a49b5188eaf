"""Fitting clips to the contract: exact frame count, first and last frames kept, size covered."""

from __future__ import annotations

import numpy as np

from kirin_api.media.frames import clip_positions, cover, resample_clip


def solid(value: int, width: int = 64, height: int = 36) -> np.ndarray:
    return np.full((height, width, 3), value, np.uint8)


def test_positions_span_the_clip_exactly() -> None:
    positions = clip_positions(150, 81)
    assert len(positions) == 150
    assert positions[0] == (0, 1, 0.0)
    lo, _hi, weight = positions[-1]
    assert lo == 80
    assert weight == 0.0
    assert clip_positions(1, 5) == [(0, 1, 0.0)]


def test_a_16fps_clip_becomes_30fps_of_the_contract_size() -> None:
    clip = [solid(v) for v in range(0, 81 * 3, 3)]  # brightness ramps with time
    out = list(resample_clip(clip, 150, 128, 72))
    assert len(out) == 150
    assert all(f.shape == (72, 128, 3) and f.dtype == np.uint8 for f in out)
    assert out[0][0, 0, 0] == 0
    assert out[-1][0, 0, 0] == 240
    values = [int(f[0, 0, 0]) for f in out]
    assert values == sorted(values)  # blended in between, never out of order


def test_cover_crops_the_middle_without_bars() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, 50:150] = 255  # the middle half is white
    out = cover(image, 50, 50)
    assert out.shape == (50, 50, 3)
    assert out.min() == 255  # only the middle is kept
