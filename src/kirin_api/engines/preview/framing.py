"""A 2D camera over a still: which part of the picture each frame shows, and the moves.

A :class:`Window` is the part of the source picture in view: its centre ``(cx, cy)`` in
fractions of the source's width and height, and ``s``, the fraction of each side in view
(1 = the whole picture, 0.5 = a 2x close-up). Windows never leave the picture (no borders):
:meth:`Window.clamped` keeps them inside.

A :class:`WindowPath` eases from one window to another over a shot, optionally with a "breath"
(a push-in that returns) for shots whose both ends are pinned to images.

Moves (:data:`MOVES`) and the words that ask for them (:func:`choose_move`): ``push_in`` (zoom in,
push in, closer, dolly in), ``pull_out`` (zoom out, pull back, pull out, wider, reveal),
``drift_left``/``drift_right`` (pan left/right: the view travels that way, the content slides
the other), ``rise``/``sink`` (tilt up/down, rise, up / down, sink), ``still`` (static, still,
locked: a barely moving breath). Without such words the prompt's hash and the seed pick one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from kirin_api.engines.base import Frame
from kirin_api.engines.preview.grade import text_key, words
from kirin_api.engines.preview.stills import resized

MOVES = ("push_in", "pull_out", "drift_left", "drift_right", "rise", "sink", "still")
# Moves a hash may pick when the words name none (still and pull_out only when asked for).
DEFAULT_MOVES = ("push_in", "drift_left", "drift_right", "rise", "push_in", "sink")
PUSH = 1.12  # zoom factor of push_in / pull_out over a shot
DRIFT_ZOOM = 1.08  # a drift zooms in this much to have room to travel
BREATH = 0.05  # push-in at mid-shot when both ends are pinned
STILL_ZOOM = 1.02

_PHRASES: tuple[tuple[str, str], ...] = (
    ("zoom in", "push_in"),
    ("push in", "push_in"),
    ("dolly in", "push_in"),
    ("closer", "push_in"),
    ("zoom out", "pull_out"),
    ("pull back", "pull_out"),
    ("pull out", "pull_out"),
    ("wider", "pull_out"),
    ("reveal", "pull_out"),
    ("pan left", "drift_left"),
    ("pan right", "drift_right"),
    ("tilt up", "rise"),
    ("tilt down", "sink"),
    ("static", "still"),
    ("still", "still"),
    ("locked", "still"),
    ("left", "drift_left"),
    ("right", "drift_right"),
    ("rise", "rise"),
    ("up", "rise"),
    ("down", "sink"),
    ("sink", "sink"),
)


def ease(x: float) -> float:
    """Smoothstep on [0, 1]: starts and ends at rest."""
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


@dataclass(frozen=True)
class Window:
    """The part of the source in view (see the module docstring)."""

    cx: float = 0.5
    cy: float = 0.5
    s: float = 1.0

    def clamped(self) -> Window:
        """The nearest window that lies inside the picture."""
        s = min(1.0, max(0.05, self.s))
        room = (1.0 - s) / 2.0
        return Window(
            cx=min(0.5 + room, max(0.5 - room, self.cx)),
            cy=min(0.5 + room, max(0.5 - room, self.cy)),
            s=s,
        )

    def zoomed(self, factor: float) -> Window:
        """This window magnified ``factor`` times about its centre."""
        return replace(self, s=self.s / factor).clamped()

    def shifted(self, dx: float, dy: float) -> Window:
        """This window moved by (dx, dy) fractions of the picture, kept inside."""
        return Window(self.cx + dx, self.cy + dy, self.s).clamped()

    @property
    def is_whole(self) -> bool:
        """True when the window shows exactly the whole picture."""
        return abs(self.s - 1.0) < 1e-9 and abs(self.cx - 0.5) < 1e-9 and abs(self.cy - 0.5) < 1e-9


WHOLE = Window()


def lerp(a: Window, b: Window, w: float) -> Window:
    """The window ``w`` of the way from ``a`` to ``b`` (scale interpolated geometrically)."""
    return Window(
        cx=a.cx + w * (b.cx - a.cx),
        cy=a.cy + w * (b.cy - a.cy),
        s=a.s * (b.s / a.s) ** w,
    )


@dataclass(frozen=True)
class WindowPath:
    """Eases from ``start`` to ``end`` over a shot; ``breath`` pushes in and back out."""

    start: Window
    end: Window
    breath: float = 0.0
    label: str = "still"

    def at(self, t: float) -> Window:
        """The window at shot time ``t`` in [0, 1]."""
        window = lerp(self.start, self.end, ease(t))
        if self.breath:
            window = window.zoomed(1.0 + self.breath * math.sin(math.pi * min(1.0, max(0.0, t))))
        return window


def moved(framing: Window, move: str, strength: float = 1.0) -> Window:
    """Where ``move`` takes ``framing`` by the end of a shot (for pull_out: where it starts)."""
    if move in ("push_in", "pull_out"):
        return framing.zoomed(1.0 + (PUSH - 1.0) * strength)
    if move == "still":
        return framing.zoomed(1.0 + (STILL_ZOOM - 1.0) * strength)
    tight = framing.zoomed(1.0 + (DRIFT_ZOOM - 1.0) * strength)
    far = 1.0  # shifted() clamps: travel as far as the zoom leaves room for
    dx = {"drift_left": -far, "drift_right": far}.get(move, 0.0)
    dy = {"rise": -far, "sink": far}.get(move, 0.0)
    return tight.shifted(dx * (1.0 - tight.s) / 2.0, dy * (1.0 - tight.s) / 2.0)


def path_for(
    move: str,
    framing: Window = WHOLE,
    *,
    pinned_start: bool = False,
    pinned_end: bool = False,
    strength: float = 1.0,
) -> WindowPath:
    """The window path of one shot.

    A pinned end shows ``framing`` exactly (the whole picture, so that frame is the image):
    with the start pinned the move plays forwards from it (a pull-out, which would need a
    border, becomes a push-in); with only the end pinned it plays backwards and settles on it;
    with both pinned the shot breathes (pushes in and back out).
    """
    if pinned_start and pinned_end:
        return WindowPath(framing, framing, breath=BREATH * strength, label="breath")
    target = moved(framing, move, strength)
    if pinned_end:
        return WindowPath(target, framing, label=f"settle:{move}")
    if move == "pull_out" and not pinned_start:
        return WindowPath(target, framing, label=move)
    label = "push_in" if move == "pull_out" else move
    return WindowPath(framing, target, label=label)


def choose_move(prompt: str | None, seed: int, *, salt: int = 0) -> str:
    """The move ``prompt``'s words ask for, else one picked by its hash and ``seed``."""
    text = " ".join(words(prompt))
    padded = f" {text} "
    for phrase, move in _PHRASES:
        if f" {phrase} " in padded:
            return move
    pick = (text_key(text) ^ (seed & (2**64 - 1)) ^ salt) % len(DEFAULT_MOVES)
    return DEFAULT_MOVES[pick]


def view(source: Frame, window: Window, width: int, height: int, *, sharp: bool = False) -> Frame:
    """The ``window`` of ``source`` as a ``width`` x ``height`` frame.

    ``sharp`` (pro) resizes a whole-picture window bicubically. A moving window is always
    sampled bilinearly: its source (the plan's master) was already scaled bicubically, once, to
    the output size plus the camera's margin, so each frame samples it at about 1:1, where
    bicubic looks the same and costs 3x as much (28 ms a 1080p frame on one thread).
    """
    if window.is_whole:
        return resized(source, width, height, sharp=sharp)
    h, w = source.shape[:2]
    sx, sy = window.s * w / width, window.s * h / height
    # Output pixel (u, v) samples source (sx*u + ox, sy*v + oy): pixel centres line up.
    ox = window.cx * w - window.s * w / 2.0 + 0.5 * sx - 0.5
    oy = window.cy * h - window.s * h / 2.0 + 0.5 * sy - 0.5
    matrix = np.array([[sx, 0.0, ox], [0.0, sy, oy]], dtype=np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    out = cv2.warpAffine(
        source, matrix, (width, height), flags=flags, borderMode=cv2.BORDER_REFLECT
    )
    return np.asarray(out, dtype=np.uint8)
