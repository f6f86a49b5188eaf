"""The prompt's subjects as sprites of the 3D scene: drawn, lit, placed on the ground, animated.

Each :class:`~.subjects.Subject` becomes a :class:`Figure`: a flat, shaded picture standing on
the ground just in front of the near scenery (so it moves with the near ground's parallax under
any camera move) with a soft contact shadow, cycling through animation frames of its gait and
travelling the way its verb says. A figure keeps its body's coverage per frame, so the engine
can report where the subject is in any frame (:meth:`.render.Renderer.figure_mask`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from kirin_api.engines.preview import figures
from kirin_api.engines.preview.camera import Lens
from kirin_api.engines.preview.pen import GROUND, Pen, shade, with_shadow
from kirin_api.engines.preview.scene import Sprite
from kirin_api.engines.preview.subjects import GAIT_SPEED, Subject
from kirin_api.engines.preview.textures import Rgba
from kirin_api.engines.preview.theme import Rgb, Theme

FIGURE_DEPTH = 4.2  # just in front of the near scenery (scene.LAYER_DEPTHS[-1] = 5)
FEET = 0.2  # normalised y of the ground line under the figures (below the frame's centre)
FLIGHT = -0.1  # normalised y of flying figures' middle (above the horizon)
FRAMES = 8  # animation frames per gait cycle
SCALE = 1.5  # figure heights: the vocabulary's size times this, as a fraction of the frame
CYCLES = {
    "run": 2.2,
    "walk": 1.2,
    "fly": 2.5,
    "swim": 1.2,
    "dance": 1.0,
    "drive": 2.0,
    "stand": 0.4,
}
_HUMANS = frozenset({"person", "woman", "robot"})


@dataclass
class Figure(Sprite):
    """A subject's sprite; ``masks`` holds its body's coverage, frame by frame."""

    masks: list[npt.NDArray[np.uint8]] = field(default_factory=list)
    subject: Subject | None = None

    def mask(self, seconds: float) -> npt.NDArray[np.uint8]:
        i = int((seconds * self.frame_rate + self.phase * 3.0) % len(self.frames))
        return self.masks[i]


def scene_light(theme: Theme) -> tuple[Rgb, float]:
    """The light colour (times its strength) and side (-1 left, +1 right) the scene gives."""
    h = theme.sky_horizon
    light = (0.75 + 0.3 * h[0], 0.75 + 0.3 * h[1], 0.75 + 0.3 * h[2])
    if theme.night:
        light = (0.45, 0.5, 0.7)
    side = 1.0 if theme.variant & 2 else -1.0
    return light, side


def _pictures(
    subject: Subject, height: int, light: Rgb, side: float, night: bool
) -> tuple[list[Rgba], list[npt.NDArray[np.uint8]]]:
    """The animation frames (lit, with a shadow, facing the way it travels) and their masks."""
    kind = subject.kind
    if kind in _HUMANS and subject.gait == "dance":
        kind = "dancer"
    pens = []
    for i in range(FRAMES):
        pen = Pen(height, 2.4)
        figures.draw(pen, kind, 2.0 * math.pi * i / FRAMES)
        pens.append(pen)
    # One crop for every frame (the union of their silhouettes), keeping the ground line; the
    # shading runs on the crop only.
    cover = np.zeros(pens[0].alpha.shape, np.bool_)
    for pen in pens:
        cover |= pen.alpha > 0
    cols = np.flatnonzero(cover.any(axis=0))
    rows = np.flatnonzero(cover.any(axis=1))
    if cols.size == 0:
        raise ValueError(f"the figure for {subject.noun!r} drew nothing")
    pad = max(2, height // 20)
    c0, c1 = max(0, int(cols.min()) - pad), min(len(cover[0]), int(cols.max()) + 1 + pad)
    r0, r1 = max(0, int(rows.min()) - pad), height
    if subject.gait == "fly":  # no ground under it: crop to the figure
        r1 = min(height, int(rows.max()) + 1 + pad)
    shaded = [
        shade(pen, subject.colour, light, side * subject.heading, (r0, r1, c0, c1)) for pen in pens
    ]
    strength = 0.25 if night else 0.45
    grounded = subject.gait not in ("fly",)
    out_p, out_m = [], []
    for p, m in shaded:
        if grounded:
            p = with_shadow(np.ascontiguousarray(p), strength, height * GROUND - r0)
        if subject.heading < 0:
            p, m = p[:, ::-1], m[:, ::-1]
        out_p.append(np.ascontiguousarray(p))
        out_m.append(np.ascontiguousarray(m))
    return out_p, out_m


def make_figures(
    subjects: list[Subject], theme: Theme, lens: Lens, duration: float, calm: bool
) -> list[Figure]:
    """One :class:`Figure` per subject (two share the frame side by side).

    ``calm`` (a camera move was asked for): the figures travel at an eighth of their pace, so the
    camera's motion stays what the whole frame does.
    """
    light, side = scene_light(theme)
    frame_h = lens.height / lens.focal  # the frame's height in normalised units
    z = FIGURE_DEPTH
    out: list[Figure] = []
    for n, subject in enumerate(subjects):
        share = 1.0 if len(subjects) == 1 else 0.8
        # The vocabulary's sizes are relative; thin things (birds, fish) get a floor so that
        # every subject reads at a glance (a tenth of the frame or so).
        floor = 0.5 if subject.kind in ("bird", "owl", "butterfly") else 0.3
        size = min(0.85, max(subject.size, floor) * SCALE * share)
        body_h = size * frame_h  # the figure's height, normalised
        canvas = max(48, min(720, round(size * lens.height * 1.15)))
        pictures, masks = _pictures(subject, canvas, light, side, theme.night)
        h, w = pictures[0].shape[:2]
        k = body_h / (canvas * 0.86) * z  # world units per texel
        vx, vy = GAIT_SPEED[subject.gait]
        vx = min(vx, 0.45 / max(duration, 1e-6)) * subject.heading
        if calm:
            vx, vy = vx / 8.0, vy / 8.0
        centre = 0.0 if len(subjects) == 1 else (-0.24 if n == 0 else 0.24)
        xn = centre - vx * duration / 2.0
        if subject.gait == "fly":
            # Its picture's middle on the flight line, starting low enough to climb through it.
            y = -(FLIGHT + vy * duration / 2.0) * z
        else:
            # Its ground row (the canvas's GROUND, the picture being cropped only above and
            # at the sides) on the ground line: the picture's middle is above it.
            y = -FEET * z + k * (h / 2.0 - canvas * (1.0 - GROUND))
        fps = CYCLES[subject.gait] * FRAMES
        bob = 0.012 * z if subject.gait == "dance" else 0.0
        out.append(
            Figure(
                frames=pictures,
                position=(xn * z, y, z - 0.01 * n),
                velocity=(vx * z, vy * z),
                width=k * w,
                bob=bob,
                phase=0.0,
                frame_rate=fps,
                masks=masks,
                subject=subject,
            )
        )
    return out
