"""Figures for the prompt's subjects, drawn with a :class:`~.pen.Pen` per animation frame.

One function per family of kinds (four-legged animals, people, birds, swimmers, vehicles,
buildings, plants, objects), each drawing the figure facing right at animation phase ``p``
(radians: legs swing, wings flap, wheels turn, arms wave). Proportions come from small tables so
a fox, a horse and an elephant share one drawing with different numbers.
"""

from __future__ import annotations

import math

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
        _abstract(pen, p)


def aspect(kind: str) -> float:
    """Canvas width over height for ``kind``."""
    if kind in QUADRUPEDS:
        body, _, _leg, neck = QUADRUPEDS[kind][:4]
        return 0.5 + body + neck * 0.6 + (0.3 if kind in ("fox", "wolf", "dinosaur") else 0.1)
    return _ASPECTS.get(kind, 0.8)


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


def _wheels(pen: Pen, xs: tuple[float, ...], r: float, p: float) -> None:
    for x in xs:
        pen.ellipse(x, GROUND - r, r, r, tone=0.2)
        pen.ellipse(x, GROUND - r, r * 0.5, r * 0.5, tone=0.7)
        a = p
        pen.limb((x - r * 0.45 * math.cos(a), GROUND - r - r * 0.45 * math.sin(a)),
                 (x + r * 0.45 * math.cos(a), GROUND - r + r * 0.45 * math.sin(a)), r * 0.12, 0.3)  # fmt: skip


def _car(pen: Pen, p: float) -> None:
    g = GROUND
    pen.poly(
        [
            (0.05, g - 0.12),
            (0.05, g - 0.32),
            (0.3, g - 0.36),
            (0.42, g - 0.56),
            (0.95, g - 0.56),
            (1.1, g - 0.36),
            (1.35, g - 0.3),
            (1.38, g - 0.12),
        ]
    )
    pen.poly([(0.48, g - 0.52), (0.74, g - 0.52), (0.74, g - 0.37), (0.38, g - 0.37)], 1.5)
    pen.poly([(0.79, g - 0.52), (0.93, g - 0.52), (1.04, g - 0.37), (0.79, g - 0.37)], 1.5)
    _wheels(pen, (0.3, 1.1), 0.13, p)


def _truck(pen: Pen, p: float) -> None:
    g = GROUND
    pen.poly([(0.05, g - 0.14), (0.05, g - 0.8), (1.05, g - 0.8), (1.05, g - 0.14)])
    pen.poly(
        [(1.08, g - 0.14), (1.08, g - 0.6), (1.3, g - 0.6), (1.42, g - 0.38), (1.42, g - 0.14)], 0.9
    )
    pen.poly([(1.14, g - 0.54), (1.28, g - 0.54), (1.36, g - 0.4), (1.14, g - 0.4)], 1.5)
    for x in (0.2, 0.45, 0.7):
        pen.poly([(x, g - 0.7), (x + 0.16, g - 0.7), (x + 0.16, g - 0.52), (x, g - 0.52)], 1.35)
    _wheels(pen, (0.28, 0.6, 1.22), 0.12, p)


def _bicycle(pen: Pen, p: float) -> None:
    _wheels(pen, (0.28, 0.98), 0.2, p)
    g = GROUND
    for a, b in (((0.28, g - 0.2), (0.55, g - 0.2)), ((0.55, g - 0.2), (0.85, g - 0.45)),
                 ((0.45, g - 0.45), (0.85, g - 0.45)), ((0.98, g - 0.2), (0.85, g - 0.55)),
                 ((0.28, g - 0.2), (0.45, g - 0.45))):  # fmt: skip
        pen.limb(a, b, 0.04)
    pen.ellipse(0.45, g - 0.48, 0.06, 0.02, tone=0.3)


def _boat(pen: Pen, p: float) -> None:
    g = GROUND - 0.03 * math.sin(p)
    pen.poly([(0.05, g - 0.28), (1.2, g - 0.28), (1.0, g - 0.06), (0.2, g - 0.06)], 0.8)
    pen.poly([(0.6, g - 0.95), (0.6, g - 0.32), (1.05, g - 0.32)], 1.3)
    pen.poly([(0.56, g - 0.85), (0.56, g - 0.32), (0.25, g - 0.32)], 1.15)
    pen.limb((0.58, g - 0.98), (0.58, g - 0.28), 0.025, 0.4)


def _plane(pen: Pen, p: float) -> None:
    pen.poly([(0.35, 0.48), (0.62, 0.48), (0.4, 0.15)], 0.85)
    pen.ellipse(0.7, 0.5, 0.62, 0.09)
    pen.poly([(0.1, 0.46), (0.24, 0.46), (0.1, 0.24)], 0.9)
    for x in range(6):
        pen.ellipse(0.55 + 0.1 * x, 0.47, 0.025, 0.025, tone=0.4)
    pen.poly([(0.55, 0.53), (0.85, 0.53), (0.6, 0.8)], 1.1)


def _helicopter(pen: Pen, p: float) -> None:
    pen.ellipse(0.6, 0.5, 0.28, 0.18)
    pen.limb((0.35, 0.45), (0.02, 0.4), 0.06)
    pen.ellipse(0.72, 0.44, 0.12, 0.09, tone=1.5)
    span = 0.5 * abs(math.cos(p * 2))
    pen.limb((0.6 - span - 0.05, 0.28), (0.6 + span + 0.05, 0.28), 0.025, 0.3)
    pen.limb((0.6, 0.28), (0.6, 0.34), 0.04, 0.5)
    pen.limb((0.45, 0.72), (0.8, 0.72), 0.03, 0.4)


def _rocket(pen: Pen, p: float) -> None:
    flame = 0.12 + 0.05 * math.sin(p * 3)
    pen.poly([(0.38, GROUND - 0.1), (0.5, GROUND - 0.1 + flame + 0.04), (0.62, GROUND - 0.1)], 1.6)
    pen.poly(
        [(0.38, GROUND - 0.12), (0.38, 0.25), (0.5, 0.05), (0.62, 0.25), (0.62, GROUND - 0.12)]
    )
    pen.poly([(0.38, GROUND - 0.35), (0.25, GROUND - 0.12), (0.38, GROUND - 0.12)], 0.7)
    pen.poly([(0.62, GROUND - 0.35), (0.75, GROUND - 0.12), (0.62, GROUND - 0.12)], 0.7)
    pen.ellipse(0.5, 0.38, 0.06, 0.06, tone=0.4)


def _house(pen: Pen, p: float) -> None:
    g = GROUND
    pen.poly([(0.1, g), (0.1, g - 0.5), (0.9, g - 0.5), (0.9, g)])
    pen.poly([(0.02, g - 0.48), (0.5, g - 0.9), (0.98, g - 0.48)], 0.6)
    pen.poly([(0.42, g), (0.42, g - 0.28), (0.58, g - 0.28), (0.58, g)], 0.45)
    for x in (0.18, 0.68):
        pen.poly([(x, g - 0.4), (x + 0.14, g - 0.4), (x + 0.14, g - 0.26), (x, g - 0.26)], 1.5)


def _castle(pen: Pen, p: float) -> None:
    g = GROUND
    pen.poly([(0.15, g), (0.15, g - 0.5), (0.85, g - 0.5), (0.85, g)])
    for x in (0.05, 0.75):
        pen.poly([(x, g), (x, g - 0.75), (x + 0.2, g - 0.75), (x + 0.2, g)], 0.92)
        pen.poly([(x - 0.02, g - 0.74), (x + 0.1, g - 0.95), (x + 0.22, g - 0.74)], 0.55)
    for x in (0.2, 0.34, 0.48, 0.62):
        pen.poly([(x, g - 0.5), (x, g - 0.57), (x + 0.08, g - 0.57), (x + 0.08, g - 0.5)])
    pen.ellipse(0.5, g - 0.14, 0.1, 0.14, tone=0.3)


def _tower(pen: Pen, p: float) -> None:
    g = GROUND
    pen.poly([(0.3, g), (0.36, 0.15), (0.64, 0.15), (0.7, g)])
    pen.poly([(0.3, 0.16), (0.5, 0.03), (0.7, 0.16)], 0.6)
    for k in range(5):
        y = 0.25 + 0.13 * k
        pen.poly([(0.36, y), (0.64, y), (0.64, y + 0.04), (0.36, y + 0.04)], 0.7)
    pen.ellipse(0.5, 0.2, 0.05, 0.03, tone=1.6)


def _windmill(pen: Pen, p: float) -> None:
    _tower(pen, p)
    for k in range(4):
        a = p / 2 + k * math.pi / 2
        pen.limb((0.5, 0.2), (0.5 + 0.45 * math.cos(a), 0.2 + 0.45 * math.sin(a)), 0.07, 0.9)


def _tree(pen: Pen, p: float) -> None:
    sway = 0.01 * math.sin(p)
    pen.limb((0.5, GROUND), (0.5, GROUND - 0.45), 0.1, 0.45)
    for dx, dy, r in ((0.0, 0.62, 0.3), (-0.2, 0.48, 0.2), (0.2, 0.48, 0.2), (0.0, 0.8, 0.17)):
        pen.ellipse(0.5 + dx + sway, GROUND - dy, r, r * 0.9)


def _palm(pen: Pen, p: float) -> None:
    pen.limb((0.45, GROUND), (0.55, GROUND - 0.7), 0.07, 0.5)
    for k in range(6):
        a = math.pi * (0.1 + 0.16 * k) + 0.04 * math.sin(p)
        tip = (0.55 - 0.38 * math.cos(a), GROUND - 0.7 + 0.2 - 0.25 * math.sin(a) + 0.2)
        pen.limb((0.55, GROUND - 0.72), tip, 0.06)


def _cactus(pen: Pen, p: float) -> None:
    pen.limb((0.5, GROUND), (0.5, 0.12), 0.18)
    pen.limb((0.35, 0.5), (0.22, 0.5), 0.1)
    pen.limb((0.22, 0.52), (0.22, 0.3), 0.1)
    pen.limb((0.65, 0.6), (0.78, 0.6), 0.1)
    pen.limb((0.78, 0.62), (0.78, 0.4), 0.1)


def _flower(pen: Pen, p: float) -> None:
    sway = 0.02 * math.sin(p)
    pen.limb((0.5, GROUND), (0.5 + sway, 0.35), 0.04, 0.45)
    pen.ellipse(0.4, 0.65, 0.1, 0.04, -30, 0.5)
    for k in range(8):
        a = k * math.pi / 4
        pen.ellipse(
            0.5 + sway + 0.14 * math.cos(a), 0.28 + 0.14 * math.sin(a), 0.1, 0.06, math.degrees(a)
        )
    pen.ellipse(0.5 + sway, 0.28, 0.08, 0.08, tone=0.45)


def _mushroom(pen: Pen, p: float) -> None:
    pen.limb((0.5, GROUND), (0.5, 0.45), 0.2, 1.6)
    pen.ellipse(0.5, 0.42, 0.42, 0.3)
    pen.poly([(0.05, 0.44), (0.95, 0.44), (0.95, 0.75), (0.05, 0.75)], 0.0)
    for x, y in ((0.35, 0.3), (0.6, 0.25), (0.75, 0.38)):
        pen.ellipse(x, y, 0.05, 0.04, tone=2.0)


def _object(pen: Pen, p: float, shape: str) -> None:
    if shape == "ball":
        bounce = abs(math.sin(p)) * 0.3
        pen.ellipse(0.5, GROUND - 0.22 - bounce, 0.22, 0.22)
        pen.limb((0.32, GROUND - 0.3 - bounce), (0.68, GROUND - 0.14 - bounce), 0.03, 0.5)
    elif shape == "balloon":
        pen.limb((0.5, 0.6), (0.5 + 0.03 * math.sin(p), GROUND), 0.01, 0.3)
        pen.ellipse(0.5, 0.35, 0.22, 0.28)
    elif shape == "umbrella":
        pen.limb((0.5, 0.3), (0.5, GROUND - 0.05), 0.03, 0.3)
        pen.ellipse(0.5, 0.32, 0.45, 0.22)
        pen.poly([(0.0, 0.33), (1.0, 0.33), (1.0, 0.6), (0.0, 0.6)], 0.0)
    elif shape == "lamp":
        pen.limb((0.5, GROUND), (0.5, 0.2), 0.05, 0.4)
        pen.ellipse(0.5, 0.18, 0.12, 0.1, tone=1.8)
    elif shape == "chair":
        for a, b in (
            ((0.2, 0.2), (0.2, GROUND)),
            ((0.8, 0.55), (0.8, GROUND)),
            ((0.2, 0.55), (0.8, 0.55)),
        ):
            pen.limb(a, b, 0.07)
    else:  # guitar
        pen.ellipse(0.5, 0.7, 0.22, 0.2)
        pen.ellipse(0.5, 0.45, 0.16, 0.14)
        pen.limb((0.5, 0.4), (0.5, 0.05), 0.06, 0.5)
        pen.ellipse(0.5, 0.62, 0.06, 0.06, tone=0.15)


def _abstract(pen: Pen, p: float) -> None:
    """A figure for subjects outside the vocabulary: a stacked, breathing totem of shapes."""
    b = 0.03 * math.sin(p)
    pen.ellipse(0.5, GROUND - 0.18, 0.3, 0.18, tone=0.8)
    pen.poly(
        [
            (0.3, GROUND - 0.3),
            (0.7, GROUND - 0.3),
            (0.6 + b, GROUND - 0.62),
            (0.4 + b, GROUND - 0.62),
        ]
    )
    pen.ellipse(0.5 + b * 1.5, GROUND - 0.75, 0.16, 0.16, tone=1.2)
    pen.ellipse(0.5 + b * 1.5, GROUND - 0.75, 0.06, 0.06, tone=0.4)


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
    "car": _car,
    "truck": _truck,
    "bicycle": _bicycle,
    "boat": _boat,
    "plane": _plane,
    "helicopter": _helicopter,
    "rocket": _rocket,
    "house": _house,
    "castle": _castle,
    "tower": _tower,
    "windmill": _windmill,
    "tree": _tree,
    "palm": _palm,
    "cactus": _cactus,
    "flower": _flower,
    "mushroom": _mushroom,
    "ball": lambda pen, p: _object(pen, p, "ball"),
    "balloon": lambda pen, p: _object(pen, p, "balloon"),
    "umbrella": lambda pen, p: _object(pen, p, "umbrella"),
    "lamp": lambda pen, p: _object(pen, p, "lamp"),
    "chair": lambda pen, p: _object(pen, p, "chair"),
    "guitar": lambda pen, p: _object(pen, p, "guitar"),
    "abstract": _abstract,
}
_ASPECTS = {
    "person": 0.6, "woman": 0.6, "robot": 0.6, "dancer": 0.6, "bird": 1.0, "owl": 1.0,
    "swan": 1.0, "butterfly": 1.0, "fish": 1.0, "turtle": 1.0, "car": 1.45, "truck": 1.5,
    "bicycle": 1.25, "boat": 1.25, "plane": 1.4, "helicopter": 1.1, "rocket": 1.0, "house": 1.0,
    "castle": 1.0, "tower": 1.0, "windmill": 1.0, "tree": 1.0, "palm": 1.0, "cactus": 1.0,
    "flower": 1.0, "mushroom": 1.0, "ball": 1.0, "balloon": 1.0, "umbrella": 1.0, "lamp": 1.0,
    "chair": 1.0, "guitar": 1.0, "abstract": 1.0,
}  # fmt: skip
