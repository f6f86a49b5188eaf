"""Shots of a clip: where each starts and ends, its framing, its camera move and its grade.

kirin_v3_i2v with ``multi_shot`` has one shot per ``multi_prompt`` entry; every other clip is one
shot. Shot ``k`` starts on frame ``round(fps * (d_0 + ... + d_{k-1}))`` (``d`` the durations in
seconds) and the cut is hard. A shot's look comes from its own prompt: the framing
(:data:`FRAMINGS`: wide, medium or close, centred where its hash says; never the previous shot's
framing, so every cut is visible), the move (:func:`.framing.choose_move`) and the colour grade
(:func:`.grade.make_grade`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kirin_api.engines.preview.framing import WHOLE, Window, WindowPath, choose_move, ease, path_for
from kirin_api.engines.preview.grade import Grade, make_grade, text_key

FRAMINGS: dict[str, float] = {"wide": 1.0, "medium": 0.7, "close": 0.5}  # s: side in view


@dataclass(frozen=True)
class Shot:
    """Frames ``[start, end)`` filmed along ``path`` and graded by ``grade``.

    ``ramp_in``/``ramp_out``: the grade fades in from the shot's start / out towards its end,
    because that frame must be an input image exactly.
    """

    start: int
    end: int
    prompt: str
    framing: str
    path: WindowPath
    grade: Grade
    ramp_in: bool = False
    ramp_out: bool = False

    def local_time(self, index: int) -> float:
        """Frame ``index``'s time within the shot, 0 on its first frame and 1 on its last."""
        length = self.end - self.start - 1
        return 0.0 if length <= 0 else (index - self.start) / length

    def grade_weight(self, t: float) -> float:
        """How much of the grade frame time ``t`` gets (0 on a pinned frame)."""
        weight = 1.0
        if self.ramp_in:
            weight *= ease(2.0 * t)
        if self.ramp_out:
            weight *= ease(2.0 * (1.0 - t))
        return weight


def shot_spans(params: Mapping[str, Any], frames: int, fps: int) -> list[tuple[int, int, str]]:
    """(first frame, end frame, prompt) of each shot; one shot unless ``multi_shot``."""
    shots = params.get("multi_prompt") if params.get("multi_shot") else None
    if not shots:
        return [(0, frames, str(params.get("prompt") or ""))]
    spans: list[tuple[int, int, str]] = []
    seconds = 0.0
    start = 0
    for index, shot in enumerate(shots):
        seconds += float(shot["duration"])
        end = frames if index == len(shots) - 1 else min(frames, round(seconds * fps))
        spans.append((start, end, str(shot.get("prompt") or "")))
        start = end
    return spans


def _framing_window(kind: str, key: int) -> Window:
    s = FRAMINGS[kind]
    if s >= 1.0:
        return WHOLE
    rng = np.random.default_rng(key)
    room = (1.0 - s) / 2.0
    cx, cy = rng.uniform(-0.8 * room, 0.8 * room, size=2)
    return Window(0.5 + float(cx), 0.5 + float(cy), s)


def plan_shots(
    spans: Sequence[tuple[int, int, str]],
    *,
    seed: int,
    pinned_start: bool,
    pinned_end: bool,
    negative_prompt: str | None = None,
    cfg_scale: float | None = None,
    strength: float = 1.0,
) -> list[Shot]:
    """The shots of a clip, from their spans and the clip's pinned ends (see the module doc)."""
    shots: list[Shot] = []
    previous = ""
    last = len(spans) - 1
    for index, (start, end, prompt) in enumerate(spans):
        first_pinned = index == 0 and pinned_start
        last_pinned = index == last and pinned_end
        key = text_key(f"{index}:{prompt}") ^ (seed & (2**64 - 1))
        if len(spans) == 1 or first_pinned or last_pinned:
            kind = "wide"  # a pinned frame shows the whole image
        else:
            options = [k for k in FRAMINGS if k != previous]
            # The shot before a pinned last shot must not be wide either: the cut would vanish.
            if index == last - 1 and pinned_end:
                options = [k for k in options if k != "wide"]
            kind = options[key % len(options)]
        window = _framing_window(kind, key)
        move = choose_move(prompt, seed, salt=index)
        path = path_for(
            move, window, pinned_start=first_pinned, pinned_end=last_pinned, strength=strength
        )
        shots.append(
            Shot(
                start=start,
                end=end,
                prompt=prompt,
                framing=kind,
                path=path,
                grade=make_grade(prompt, negative_prompt, cfg_scale),
                ramp_in=first_pinned,
                ramp_out=last_pinned,
            )
        )
        previous = kind
    return shots
