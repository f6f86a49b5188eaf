"""Figures for the prompt's subjects, drawn with a :class:`~.pen.Pen` per animation frame.

One function per family of kinds (four-legged animals, people, birds, swimmers, vehicles,
buildings, plants, objects), each drawing the figure facing right at animation phase ``p``
(radians: legs swing, wings flap, wheels turn, arms wave). Proportions come from small tables so
a fox, a horse and an elephant share one drawing with different numbers.
"""

from __future__ import annotations

import math

from kirin_api.engines.preview import figures_things as things
from kirin_api.engines.preview.pen import GROUND, Pen

# Four-legged: body length, body height, leg length, neck length, neck angle (from vertical,
# forward), head size, snout length, ears (0 none, 1 pointed, 2 round, 3 long), tail (0 stub,
# 1 bushy, 2 thin, 3 tufted), extras.
_Q = tuple[float, float, float, float, float, float, float, int, int, str]
QUADRUPEDS: dict[str, _Q] = {
    "fox": (0.62, 0.24, 0.3, 0.14, 0.7, 0.12, 0.1, 1, 1, ""),
    "dog": (0.6, 0.26, 0.34, 0.14, 0.5, 0.13, 0.09, 2, 2, ""),
    "cat": (0.55, 0.22, 0.3, 0.08, 0.6, 0.12, 0.03, 1, 2, ""),
    "wolf": (0.66, 0.26, 0.36, 0.14, 0.7, 0.13, 0.11, 1, 1, ""),
    "horse": (0.62, 0.22, 0.46, 0.26, 0.55, 0.1, 0.14, 1, 3, "mane"),
    "deer": (0.55, 0.2, 0.48, 0.24, 0.35, 0.1, 0.09, 1, 0, "antlers"),
    "cow": (0.7, 0.3, 0.34, 0.1, 0.9, 0.13, 0.08, 2, 3, "spots"),
    "sheep": (0.6, 0.32, 0.26, 0.06, 0.8, 0.11, 0.05, 2, 0, "fluffy"),
    "goat": (0.55, 0.24, 0.34, 0.12, 0.5, 0.1, 0.07, 1, 0, "horns"),
    "pig": (0.62, 0.3, 0.2, 0.04, 1.2, 0.13, 0.06, 1, 2, ""),
    "lion": (0.66, 0.28, 0.34, 0.1, 0.7, 0.15, 0.07, 2, 3, "lionmane"),
    "tiger": (0.7, 0.24, 0.32, 0.1, 0.8, 0.13, 0.07, 2, 2, "stripes"),
    "bear": (0.7, 0.34, 0.28, 0.08, 1.0, 0.15, 0.08, 2, 0, ""),
    "elephant": (0.7, 0.4, 0.36, 0.02, 0.8, 0.2, 0.0, 2, 2, "trunk"),
    "rabbit": (0.42, 0.26, 0.16, 0.06, 0.3, 0.12, 0.04, 3, 0, ""),
    "giraffe": (0.45, 0.2, 0.5, 0.5, 0.4, 0.09, 0.08, 1, 2, "patches"),
    "camel": (0.6, 0.24, 0.48, 0.26, 0.9, 0.1, 0.1, 2, 2, "hump"),
    "dinosaur": (0.7, 0.3, 0.3, 0.3, 0.5, 0.13, 0.12, 0, 1, "spikes"),
}


def draw(pen: Pen, kind: str, p: float) -> None:
    """Draw ``kind`` at phase ``p`` (unknown kinds draw the abstract figure)."""
    if kind in QUADRUPEDS:
        _quadruped(pen, QUADRUPEDS[kind], p)
    elif kind in _OTHERS:
        _OTHERS[kind](pen, p)
    else:
        things.abstract(pen, p)


def _quadruped(pen: Pen, q: _Q, p: float) -> None:
    body, depth, leg, neck, neck_angle, head, snout, ears, tail, extra = q
    scale = 0.86 / (depth + leg + neck * math.cos(neck_angle) + head * 1.6)
    body, depth, leg, neck, head, snout = (v * scale for v in (body, depth, leg, neck, head, snout))
    bob = abs(math.sin(p)) * 0.015
    x0 = 0.25 + (0.2 if tail == 1 else 0.05)
    top = GROUND - leg - depth - bob
    cy = top + depth / 2
    back, front = x0 + body * 0.18, x0 + body * 0.82
    swing = 0.5
    dark = 0.82
    # far legs (darker), then body, then near legs
    pen.leg(
        (back, cy + depth * 0.2),
        leg + depth * 0.3,
        swing * math.sin(p + math.pi),
        depth * 0.28,
        dark,
    )
    pen.leg((front, cy + depth * 0.2), leg + depth * 0.3, swing * math.sin(p), depth * 0.26, dark)
    if tail == 1:  # bushy, drooping
        pen.ellipse(
            x0 - body * 0.05,
            cy + depth * 0.1,
            body * 0.28,
            depth * 0.22,
            -25 + 8 * math.sin(p),
            0.95,
        )
        pen.ellipse(x0 - body * 0.28, cy + depth * 0.28, body * 0.08, depth * 0.14, -25, 1.25)
    elif tail in (2, 3):
        end = (x0 - body * 0.12, cy + depth * (0.4 + 0.15 * math.sin(p)))
        pen.limb((x0 + body * 0.05, cy - depth * 0.2), end, depth * 0.1)
        if tail == 3:
            pen.ellipse(end[0], end[1], depth * 0.1, depth * 0.14, tone=0.6)
    pen.ellipse(x0 + body / 2, cy, body / 2, depth / 2)
    if extra == "hump":
        pen.ellipse(x0 + body * 0.45, cy - depth * 0.45, body * 0.2, depth * 0.4)
    if extra == "fluffy":
        for k in range(5):
            pen.ellipse(x0 + body * (0.15 + 0.17 * k), cy - depth * 0.35, body * 0.12, depth * 0.25)
    if extra in ("stripes", "spots", "patches"):
        for k in range(6):
            x = x0 + body * (0.15 + 0.13 * k)
            if extra == "stripes":
                pen.limb((x, cy - depth * 0.45), (x - 0.02, cy + depth * 0.1), depth * 0.08, 0.35)
            else:
                pen.ellipse(
                    x, cy + depth * (0.2 if k % 2 else -0.15), depth * 0.12, depth * 0.1, tone=0.4
                )
    if extra == "spikes":
        for k in range(5):
            x = x0 + body * (0.15 + 0.16 * k)
            pen.poly(
                [
                    (x - 0.03, cy - depth * 0.4),
                    (x, cy - depth * 0.75),
                    (x + 0.03, cy - depth * 0.4),
                ],
                0.7,
            )
    shoulder = (front, cy - depth * 0.1)
    head_c = (
        shoulder[0] + math.sin(neck_angle) * neck + head * 0.3,
        shoulder[1] - math.cos(neck_angle) * neck - head * 0.2 + bob * 0.5,
    )
    if neck > 0.01:
        pen.limb(shoulder, head_c, min(depth * 0.6, head * 1.3))
    if extra == "mane":
        pen.limb(
            (shoulder[0] - 0.02, shoulder[1] - depth * 0.3),
            (head_c[0] - head * 0.5, head_c[1]),
            head * 0.5,
            0.5,
        )
    if extra == "lionmane":
        pen.ellipse(head_c[0] - head * 0.2, head_c[1], head * 1.5, head * 1.5, tone=0.65)
    if ears == 1:
        for dx in (-0.5, 0.1):
            ex = head_c[0] + head * dx
            pen.poly(
                [
                    (ex - head * 0.3, head_c[1] - head * 0.5),
                    (ex, head_c[1] - head * 1.5),
                    (ex + head * 0.3, head_c[1] - head * 0.5),
                ]
            )
    elif ears == 2:
        pen.ellipse(
            head_c[0] - head * 0.4, head_c[1] - head * 0.8, head * 0.35, head * 0.35, tone=0.85
        )
    elif ears == 3:
        for dx in (-0.4, 0.0):
            pen.ellipse(head_c[0] + head * dx, head_c[1] - head * 1.6, head * 0.22, head * 0.9, -10)
    if extra == "antlers":
        base = (head_c[0] - head * 0.2, head_c[1] - head * 0.7)
        tip = (base[0] - head * 0.4, base[1] - head * 1.6)
        pen.limb(base, tip, head * 0.15, 0.6)
        pen.limb(
            (base[0] - head * 0.2, base[1] - head * 0.8),
            (base[0] + head * 0.4, base[1] - head * 1.5),
            head * 0.13,
            0.6,
        )
    if extra == "horns":
        pen.limb(
            (head_c[0], head_c[1] - head * 0.7),
            (head_c[0] - head * 0.6, head_c[1] - head * 1.4),
            head * 0.18,
            0.7,
        )
    pen.ellipse(head_c[0], head_c[1], head, head * 0.85)
    if snout > 0:
        pen.ellipse(
            head_c[0] + head * 0.7 + snout * 0.4,
            head_c[1] + head * 0.25,
            snout * 0.8 + head * 0.2,
            head * 0.45,
        )
    if extra == "trunk":
        swing_t = 0.1 * math.sin(p)
        tip = (head_c[0] + head * (0.9 + swing_t), head_c[1] + head * 2.0)
        pen.limb((head_c[0] + head * 0.7, head_c[1] + head * 0.2), tip, head * 0.35)
        pen.ellipse(
            head_c[0] - head * 0.3, head_c[1] + head * 0.1, head * 0.55, head * 0.8, tone=0.8
        )
    pen.ellipse(head_c[0] + head * 0.35, head_c[1] - head * 0.2, head * 0.1, head * 0.1, tone=0.15)
    pen.leg(
        (back + 0.03, cy + depth * 0.2), leg + depth * 0.3, swing * math.sin(p), depth * 0.3, 1.0
    )
    pen.leg(
        (front + 0.03, cy + depth * 0.2),
        leg + depth * 0.3,
        swing * math.sin(p + math.pi),
        depth * 0.28,
        1.0,
    )


def _person(
    pen: Pen, p: float, dress: bool = False, boxy: bool = False, dance: bool = False
) -> None:
    cx = 0.3
    hip = (cx, GROUND - 0.43)
    neck = (cx + 0.01, GROUND - 0.74)
    swing = 0.55 * math.sin(p)
    pen.leg(hip, 0.45, -swing, 0.075, 0.75)
    arm_lift = 1.6 + 0.8 * math.sin(p) if dance else 0.0
    pen.limb(
        neck, (cx - 0.12 * math.sin(p + 0.3) - 0.03, neck[1] + 0.26 - arm_lift * 0.12), 0.06, 0.75
    )
    if dress:
        pen.poly(
            [
                (cx - 0.06, neck[1] + 0.02),
                (cx + 0.07, neck[1] + 0.02),
                (cx + 0.16, hip[1] + 0.14),
                (cx - 0.15, hip[1] + 0.14),
            ]
        )
    elif boxy:
        pen.poly(
            [
                (cx - 0.1, neck[1]),
                (cx + 0.1, neck[1]),
                (cx + 0.1, hip[1] + 0.03),
                (cx - 0.1, hip[1] + 0.03),
            ]
        )
    else:
        pen.limb(neck, hip, 0.13)
    pen.leg(hip, 0.45, swing, 0.08, 1.0)
    pen.limb(neck, (cx + 0.12 * math.sin(p + 0.3) + 0.03, neck[1] + 0.26 - arm_lift * 0.12), 0.065)
    head = (cx + 0.02, neck[1] - 0.1)
    if boxy:
        pen.poly(
            [
                (head[0] - 0.07, head[1] - 0.08),
                (head[0] + 0.08, head[1] - 0.08),
                (head[0] + 0.08, head[1] + 0.07),
                (head[0] - 0.07, head[1] + 0.07),
            ]
        )
        pen.ellipse(head[0] + 0.045, head[1] - 0.01, 0.015, 0.015, tone=1.6)
    else:
        pen.ellipse(head[0], head[1], 0.075, 0.085, tone=1.15)
        pen.ellipse(head[0] - 0.015, head[1] - 0.05, 0.075, 0.045, tone=0.45)  # hair


def _bird(pen: Pen, p: float, owl: bool = False) -> None:
    flap = math.sin(p)
    cx, cy = 0.5, 0.5
    pen.poly(
        [(cx - 0.05, cy - 0.02), (cx + 0.08, cy - 0.02), (cx - 0.1, cy - 0.05 - 0.4 * flap)], 0.8
    )
    pen.ellipse(cx, cy, 0.22 if not owl else 0.15, 0.09 if not owl else 0.16)
    pen.poly([(cx - 0.2, cy), (cx - 0.36, cy - 0.06), (cx - 0.36, cy + 0.06)], 0.85)
    pen.ellipse(cx + 0.2, cy - 0.06, 0.08, 0.075)
    pen.poly([(cx + 0.26, cy - 0.08), (cx + 0.36, cy - 0.05), (cx + 0.26, cy - 0.03)], 0.6)
    pen.ellipse(cx + 0.22, cy - 0.08, 0.015, 0.015, tone=0.1)
    pen.poly(
        [(cx - 0.08, cy - 0.01), (cx + 0.1, cy - 0.01), (cx - 0.14, cy - 0.02 - 0.42 * flap)], 1.1
    )


def _swan(pen: Pen, p: float) -> None:
    pen.ellipse(0.45, GROUND - 0.14, 0.3, 0.13)
    pen.poly([(0.2, GROUND - 0.2), (0.08, GROUND - 0.3), (0.25, GROUND - 0.12)], 0.9)
    pen.limb((0.65, GROUND - 0.18), (0.72, GROUND - 0.55 + 0.02 * math.sin(p)), 0.07)
    pen.ellipse(0.76, GROUND - 0.57, 0.07, 0.055)
    pen.poly([(0.8, GROUND - 0.6), (0.9, GROUND - 0.55), (0.8, GROUND - 0.54)], 0.5)


def _butterfly(pen: Pen, p: float) -> None:
    open_ = 0.35 + 0.65 * abs(math.cos(p))
    for dy, r in ((-0.18, 0.24), (0.15, 0.17)):
        pen.ellipse(0.5, 0.5 + dy, 0.4 * open_, r, 0.0, 1.0)
        pen.ellipse(0.5 - 0.15 * open_, 0.5 + dy, 0.1 * open_, r * 0.4, tone=1.3)
    pen.limb((0.5, 0.22), (0.5, 0.78), 0.05, 0.25)


def _fish(pen: Pen, p: float) -> None:
    wag = 0.08 * math.sin(p)
    pen.poly([(0.22, 0.5), (0.04, 0.32 + wag), (0.04, 0.68 + wag)], 0.9)
    pen.ellipse(0.52, 0.5, 0.34, 0.18)
    pen.poly([(0.45, 0.34), (0.58, 0.18), (0.62, 0.34)], 0.8)
    pen.ellipse(0.5, 0.58, 0.3, 0.08, tone=1.25)
    pen.ellipse(0.74, 0.45, 0.03, 0.03, tone=0.1)


def _turtle(pen: Pen, p: float) -> None:
    for x in (0.3, 0.7):
        pen.leg((x, GROUND - 0.22), 0.2, 0.3 * math.sin(p + x * 6), 0.08, 0.8)
    pen.ellipse(0.86, GROUND - 0.22, 0.09, 0.07)
    pen.ellipse(0.5, GROUND - 0.26, 0.36, 0.2)
    for x in (0.38, 0.5, 0.62):
        pen.ellipse(x, GROUND - 0.3, 0.06, 0.06, tone=0.7)


_OTHERS = {
    "person": lambda pen, p: _person(pen, p),
    "woman": lambda pen, p: _person(pen, p, dress=True),
    "robot": lambda pen, p: _person(pen, p, boxy=True),
    "dancer": lambda pen, p: _person(pen, p, dress=True, dance=True),
    "bird": _bird,
    "owl": lambda pen, p: _bird(pen, p, owl=True),
    "swan": _swan,
    "butterfly": _butterfly,
    "fish": _fish,
    "turtle": _turtle,
    "car": things.car,
    "truck": things.truck,
    "bicycle": things.bicycle,
    "boat": things.boat,
    "plane": things.plane,
    "helicopter": things.helicopter,
    "rocket": things.rocket,
    "house": things.house,
    "castle": things.castle,
    "tower": things.tower,
    "windmill": things.windmill,
    "tree": things.tree,
    "palm": things.palm,
    "cactus": things.cactus,
    "flower": things.flower,
    "mushroom": things.mushroom,
    "ball": lambda pen, p: things.thing(pen, p, "ball"),
    "balloon": lambda pen, p: things.thing(pen, p, "balloon"),
    "umbrella": lambda pen, p: things.thing(pen, p, "umbrella"),
    "lamp": lambda pen, p: things.thing(pen, p, "lamp"),
    "chair": lambda pen, p: things.thing(pen, p, "chair"),
    "guitar": lambda pen, p: things.thing(pen, p, "guitar"),
    "abstract": things.abstract,
}
