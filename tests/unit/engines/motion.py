"""Measure motion between two frames, for tests of camera moves (numpy FFT + OpenCV warps).

Conventions: image x right, y down. ``shift`` is how far the content moved from ``a`` to ``b``
(``b(p) ~ a(p - shift)``); ``scale`` > 1 means the content grew; ``angle`` > 0 means the content
turned counter-clockwise as seen on screen.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


def gray(frame: Image, size: int = 256) -> npt.NDArray[np.float32]:
    """Grey float32 image, downscaled so its longer side is ``size``."""
    g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = g.shape
    k = size / max(h, w)
    return cv2.resize(g, (max(8, round(w * k)), max(8, round(h * k))), interpolation=cv2.INTER_AREA)


def phase_shift(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> tuple[float, float]:
    """Translation (dx, dy) of the content from ``a`` to ``b`` by phase correlation (numpy FFT)."""
    win = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1])).astype(np.float32)
    fa = np.fft.fft2((a - a.mean()) * win)
    fb = np.fft.fft2((b - b.mean()) * win)
    cross = fb * np.conj(fa)
    cross /= np.abs(cross) + 1e-9
    corr = np.fft.ifft2(cross).real
    py, px = np.unravel_index(int(np.argmax(corr)), corr.shape)
    h, w = corr.shape

    def refine(c_m: float, c_0: float, c_p: float) -> float:
        d = c_m - 2 * c_0 + c_p
        return 0.0 if abs(d) < 1e-12 else 0.5 * (c_m - c_p) / d

    dy = py + refine(corr[(py - 1) % h, px], corr[py, px], corr[(py + 1) % h, px])
    dx = px + refine(corr[py, (px - 1) % w], corr[py, px], corr[py, (px + 1) % w])
    if dy > h / 2:
        dy -= h
    if dx > w / 2:
        dx -= w
    return float(dx), float(dy)


def frame_shift(a: Image, b: Image, rows: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float]:
    """Content translation from frame ``a`` to ``b`` in frame-width fractions, over a band of rows.

    ``rows`` picks the band (fractions of the height), e.g. the lower half where near scenery is.
    """
    ga, gb = gray(a, 512), gray(b, 512)
    h = ga.shape[0]
    r0, r1 = int(rows[0] * h), int(rows[1] * h)
    dx, dy = phase_shift(ga[r0:r1], gb[r0:r1])
    return dx / ga.shape[1], dy / ga.shape[1]


def _score(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    """Normalised cross-correlation over the central region (edges hold content that entered)."""
    h, w = a.shape
    ca = a[h // 5 : -h // 5, w // 5 : -w // 5]
    cb = b[h // 5 : -h // 5, w // 5 : -w // 5]
    ca, cb = ca - ca.mean(), cb - cb.mean()
    return float((ca * cb).sum() / (np.sqrt((ca * ca).sum() * (cb * cb).sum()) + 1e-9))


def similarity(
    a: Image,
    b: Image,
    scales: npt.ArrayLike = (1.0,),
    angles: npt.ArrayLike = (0.0,),
    rows: tuple[float, float] = (0.0, 1.0),
) -> tuple[float, float, float, float]:
    """Best (scale, angle_deg, dx, dy) mapping ``a`` onto ``b`` about the centre, by search.

    For each candidate scale/angle, ``a`` is warped about the centre, the remaining translation is
    found by phase correlation, and the candidate with the best correlation wins. dx, dy are in
    pixels of the 256-pixel working image. ``rows`` limits the comparison to a band of rows
    (fractions of the height); the warp still turns about the frame's centre.
    """
    ga, gb = gray(a), gray(b)
    h, w = ga.shape
    r0, r1 = int(rows[0] * h), int(rows[1] * h)
    best = (-2.0, 1.0, 0.0, 0.0, 0.0)
    for s in np.atleast_1d(scales):
        for ang in np.atleast_1d(angles):
            m = cv2.getRotationMatrix2D((w / 2, h / 2), float(ang), float(s))
            warped = cv2.warpAffine(ga, m, (w, h), borderMode=cv2.BORDER_REFLECT)
            dx, dy = phase_shift(warped[r0:r1], gb[r0:r1])
            m[:, 2] += (dx, dy)
            moved = cv2.warpAffine(ga, m, (w, h), borderMode=cv2.BORDER_REFLECT)
            score = _score(moved[r0:r1], gb[r0:r1])
            if score > best[0]:
                best = (score, float(s), float(ang), dx, dy)
    return best[1], best[2], best[3], best[4]


def scale_between(a: Image, b: Image) -> float:
    """How much the content grew from ``a`` to ``b`` (1.0 = same size)."""
    coarse = np.exp(np.linspace(np.log(0.55), np.log(1.8), 41))
    s, _, _, _ = similarity(a, b, scales=coarse)
    fine = s * np.exp(np.linspace(-0.03, 0.03, 13))
    return similarity(a, b, scales=fine)[0]


def rotation_between(a: Image, b: Image) -> float:
    """Angle in degrees the content turned from ``a`` to ``b``; positive = counter-clockwise."""
    coarse = np.arange(-30.0, 30.5, 1.0)
    _, ang, _, _ = similarity(a, b, angles=coarse)
    return similarity(a, b, angles=np.arange(ang - 1.0, ang + 1.01, 0.1))[1]


def mean_abs_diff(a: Image, b: Image) -> float:
    """Mean absolute difference of two frames, in 0..255 units."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
