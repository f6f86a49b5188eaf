"""Pictures of subjects standing in the scene: ``element_list`` subjects and multi-image
references, cut out of their pictures and placed on the ground with a shadow.

Each picture becomes a :class:`StandIn`: its foreground cut out (:func:`.cutout.from_borders`;
a picture whose borders are not a plain backdrop, a photo filled edge to edge, is kept whole,
with soft edges), scaled to a share of the frame's height, standing on a ground line near the
bottom of the frame with a soft contact shadow, and moving like the prompt's subject: the
verb (``walking``, ``running``, ``dancing``, ``standing``...) sets its pace and a small step
bob. Stand-ins share the width, side by side: several references are figures of one scene.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.engines.base import Frame
from kirin_api.engines.preview import cutout
from kirin_api.engines.preview.motion_layers import contact_shadow
from kirin_api.engines.preview.stills import contain_size, resized
from kirin_api.engines.preview.subjects import GAIT_SPEED, VERBS

Mask = npt.NDArray[np.float32]
GROUND = 0.93  # the ground line, fraction of the frame's height from the top
EDGE = 0.04  # soft edge of a picture kept whole, fraction of its short side
STEP_BOB = 0.012  # height of a walking step's bob, fraction of the figure's height
STEPS_PER_S = {"run": 3.0, "walk": 1.8, "dance": 1.2, "fly": 1.0, "swim": 0.8, "drive": 0.0}


@dataclass
class StandIn:
    """One subject's picture standing in the scene."""

    picture: Frame  # (h, w, 3)
    alpha: Mask  # (h, w) 0..1
    shadow: Mask  # (h, w) darkening under it
    foot: tuple[float, float]  # frame point under its feet at t = 0 (pixels)
    velocity: float  # pixels per second along x
    steps: float  # bobs per second
    cut: bool  # True: its foreground was cut out; False: kept whole

    @functools.cached_property
    def shadow_rows(self) -> tuple[int, int]:
        """The rows of :attr:`shadow` that darken anything."""
        rows = np.flatnonzero(self.shadow.max(axis=1) > 0.004)
        return (int(rows.min()), int(rows.max()) + 1) if rows.size else (0, 0)

    def box(self, seconds: float) -> tuple[int, int, int, int]:
        """x, y, width, height of its picture in the frame at ``seconds``."""
        h, w = self.picture.shape[:2]
        bob = abs(math.sin(math.pi * self.steps * seconds)) * STEP_BOB * h
        x = round(self.foot[0] + self.velocity * seconds - w / 2)
        y = round(self.foot[1] - h - bob)
        return x, y, w, h

    def draw(self, frame: Frame, seconds: float, opacity: float = 1.0) -> None:
        """Composite the shadow and the figure onto ``frame`` (in place)."""
        if opacity <= 0.0:
            return
        x, y, w, h = self.box(seconds)
        fh, fw = frame.shape[:2]
        x0, y0, x1, y1 = max(0, x), max(0, y), min(fw, x + w), min(fh, y + h)
        if x1 <= x0 or y1 <= y0:
            return
        crop = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
        region = frame[y0:y1, x0:x1]
        # The shadow only where it is (a band at the feet), then the figure.
        s0, s1 = self.shadow_rows
        s0, s1 = max(s0, y0 - y), min(s1, y1 - y)
        if s1 > s0:
            band = region[s0 - (y0 - y) : s1 - (y0 - y)]
            shade = self.shadow[s0:s1, x0 - x : x1 - x] * np.float32(opacity)
            band[...] = cv2.blendLinear(np.zeros_like(band), band, shade, 1.0 - shade)
        weight = self.alpha[crop] * np.float32(opacity)
        region[...] = cv2.blendLinear(
            np.ascontiguousarray(self.picture[crop]), region, weight, 1.0 - weight
        )


def _soft_whole(height: int, width: int) -> Mask:
    ramp = max(2, round(EDGE * min(width, height)))
    wx = np.clip(np.minimum(np.arange(width), np.arange(width)[::-1]) / ramp, 0, 1)
    wy = np.clip(np.minimum(np.arange(height), np.arange(height)[::-1]) / ramp, 0, 1)
    return (wy[:, None] * wx[None, :]).astype(np.float32)


def gait_of(prompt: str | None) -> str:
    """The gait the prompt's verb asks for (``stand`` when it names none)."""
    words = re.findall(r"[a-z]+", (prompt or "").lower())
    return next((VERBS[w] for w in words if w in VERBS), "stand")


def stand_ins(
    images: Sequence[Frame],
    width: int,
    height: int,
    *,
    tallness: float,
    prompt: str | None,
    duration: float,
    sharp: bool = False,
) -> list[StandIn]:
    """The pictures as figures side by side on the ground, each ``tallness`` of the frame tall
    at most, travelling (slowly, staying in their share of the width) as the prompt's verb says.
    """
    gait = gait_of(prompt)
    count = max(1, len(images))
    share = width / count  # each figure's slot along the ground
    out: list[StandIn] = []
    for i, image in enumerate(images):
        fw, fh = contain_size(image, round(share * 0.9), round(height * tallness))
        picture = resized(image, fw, fh, sharp=sharp)
        found = cutout.from_borders(picture)
        alpha = found if found is not None else _soft_whole(fh, fw)
        # Travel at most a third of its slot over the clip, alternating directions.
        speed = GAIT_SPEED[gait][0] * width
        speed = min(speed, share / 3 / max(duration, 1e-6)) * (1 if i % 2 == 0 else -1)
        centre = share * (i + 0.5) - speed * duration / 2
        foot = (centre, height * GROUND)
        steps = STEPS_PER_S.get(gait, 0.0)
        out.append(
            StandIn(
                picture=picture,
                alpha=alpha,
                shadow=contact_shadow(alpha),
                foot=foot,
                velocity=speed,
                steps=steps,
                cut=found is not None,
            )
        )
    return out
