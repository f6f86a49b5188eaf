"""Cut a figure out of a picture: OpenCV's GrabCut, seeded from a rough region or the borders.

Used for ``element_list`` subjects and reference images (a frontal image of a thing, usually on
a plainer background: the borders are background) and for the character of motion control (the
reference video's moving region, mapped onto the image, says roughly where it is; GrabCut finds
its actual outline in the image's colours).

GrabCut runs on a copy at most :data:`SIDE` pixels on its long side (about 0.1 s a picture on
one core; once per clip) and its hard mask is scaled back and softened by a pixel. Its colour models
start from k-means on OpenCV's random generator, which is seeded on every call: the same picture
gives the same cut-out.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.engines.base import Frame

Mask = npt.NDArray[np.float32]
SIDE = 160
ITERATIONS = 3
BORDER = 0.04  # the band along the picture's edges taken as background, fraction of each side
# A cut-out smaller than this share of the picture (or of its seed) failed: the caller falls
# back to its own estimate.
MIN_SHARE = 0.01
# A border band whose colours spread more than this (mean per-channel standard deviation, grey
# levels) is a photo's content, not a backdrop.
PLAIN_BORDER = 40.0


def _small(picture: Frame) -> tuple[Frame, float]:
    h, w = picture.shape[:2]
    k = min(1.0, SIDE / max(h, w))
    if k == 1.0:
        return np.ascontiguousarray(picture), 1.0
    size = (max(8, round(w * k)), max(8, round(h * k)))
    return np.asarray(cv2.resize(picture, size, interpolation=cv2.INTER_AREA), np.uint8), k


def _grabcut(small: Frame, labels: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_] | None:
    if not ((labels == cv2.GC_PR_FGD) | (labels == cv2.GC_FGD)).any():
        return None
    if not ((labels == cv2.GC_BGD) | (labels == cv2.GC_PR_BGD)).any():
        return None
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(12345)  # this thread's generator: k-means starts the same way every time
    try:
        cv2.grabCut(
            small,
            labels,
            (0, 0, 0, 0),  # no rectangle: the labels start it
            bgd,
            fgd,
            ITERATIONS,
            cv2.GC_INIT_WITH_MASK,
        )
    except cv2.error:  # a degenerate picture (one colour): no cut-out
        return None
    fg: npt.NDArray[np.bool_] = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    return fg


def _clean(fg: npt.NDArray[np.bool_], keep: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.uint8]:
    """The components of ``fg`` worth keeping (touching ``keep``, else the largest), holes shut."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(fg.shape, np.uint8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if keep is not None:
        touching = np.unique(labels[keep & fg])
        chosen = [int(t) for t in touching if t != 0 and areas[t - 1] >= areas.max() * 0.05]
    else:
        chosen = []
    if not chosen:  # from the borders: every sizeable piece (a head apart from its body)
        chosen = [i + 1 for i, area in enumerate(areas) if area >= areas.max() * 0.1]
    out = np.isin(labels, chosen).astype(np.uint8)
    # Shut small holes (eyes, a dark belt): the figure is one piece.
    out = np.asarray(cv2.morphologyEx(out, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)), np.uint8)
    return out


def _full_size(mask: npt.NDArray[np.uint8], shape: tuple[int, ...]) -> Mask:
    h, w = shape[:2]
    big = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    soft = cv2.GaussianBlur(big, (0, 0), 1.0)
    return np.asarray(np.clip(soft, 0.0, 1.0), np.float32)


def from_borders(picture: Frame) -> Mask | None:
    """The picture's foreground, its borders taken as background; None when none stands out.

    A picture whose borders are not a backdrop (a photo filled to its edges: the border band's
    colours vary widely) has no foreground to cut: None as well.
    """
    small, _ = _small(picture)
    h, w = small.shape[:2]
    by, bx = max(1, round(h * BORDER)), max(1, round(w * BORDER))
    sides = (small[:by], small[-by:], small[:, :bx], small[:, -bx:])
    band = np.concatenate([side.reshape(-1, 3) for side in sides]).astype(np.float32)
    if float(band.std(axis=0).mean()) > PLAIN_BORDER:
        return None
    labels = np.full((h, w), cv2.GC_PR_FGD, np.uint8)
    labels[:by], labels[-by:], labels[:, :bx], labels[:, -bx:] = (cv2.GC_BGD,) * 4
    fg = _grabcut(small, labels)
    if fg is None:
        return None
    mask = _clean(fg, None)
    share = float(mask.mean())
    if share < MIN_SHARE or share > 0.97:
        return None
    # Keep only the inner half of the soft edge: the backdrop's colour would show as a halo.
    soft = _full_size(mask, picture.shape)
    return np.asarray(np.clip(soft * 2.0 - 1.0, 0.0, 1.0), np.float32)


def from_seed(picture: Frame, seed: Mask) -> Mask | None:
    """The figure near ``seed`` (a rough 0..1 region, picture-sized); None if the cut fails."""
    small, _ = _small(picture)
    h, w = small.shape[:2]
    rough = cv2.resize(seed.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5
    if not rough.any():
        return None
    reach = max(3, round(0.1 * max(h, w)))
    near = cv2.dilate(rough.astype(np.uint8), np.ones((reach, reach), np.uint8)).astype(bool)
    far = cv2.dilate(near.astype(np.uint8), np.ones((reach * 3, reach * 3), np.uint8)).astype(bool)
    labels = np.full((h, w), cv2.GC_BGD, np.uint8)
    labels[far] = cv2.GC_PR_BGD
    labels[near] = cv2.GC_PR_FGD
    fg = _grabcut(small, labels)
    if fg is None:
        return None
    # The seed says roughly where the figure is: the outline may move within reach of it, not
    # wander off over a busy picture.
    mask = _clean(fg & near, rough)
    area, seeded = float(mask.sum()), float(rough.sum())
    if area < MIN_SHARE * h * w or not 0.3 * seeded <= area <= 3.0 * seeded:
        return None
    return _full_size(mask, picture.shape)
