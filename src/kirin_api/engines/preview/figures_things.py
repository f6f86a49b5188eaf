"""Figures of things for the preview's subjects: vehicles, buildings, plants, objects.

Drawn like the animals and people of :mod:`.figures` (facing right, unit coordinates, phase
``p`` turning wheels, rotors and sails, swaying plants), and looked up through it.
"""

from __future__ import annotations

import math

from kirin_api.engines.preview.pen import GROUND, Pen


def wheels(pen: Pen, xs: tuple[float, ...], r: float, p: float) -> None:
    for x in xs:
        pen.ellipse(x, GROUND - r, r, r, tone=0.2)
        pen.ellipse(x, GROUND - r, r * 0.5, r * 0.5, tone=0.7)
        dx, dy = r * 0.45 * math.cos(p), r * 0.45 * math.sin(p)  # a spoke, turning
        pen.limb((x - dx, GROUND - r - dy), (x + dx, GROUND - r + dy), r * 0.12, 0.3)


def car(pen: Pen, p: float) -> None:
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
    wheels(pen, (0.3, 1.1), 0.13, p)


def truck(pen: Pen, p: float) -> None:
    g = GROUND
    pen.poly([(0.05, g - 0.14), (0.05, g - 0.8), (1.05, g - 0.8), (1.05, g - 0.14)])
    pen.poly(
        [(1.08, g - 0.14), (1.08, g - 0.6), (1.3, g - 0.6), (1.42, g - 0.38), (1.42, g - 0.14)], 0.9
    )
    pen.poly([(1.14, g - 0.54), (1.28, g - 0.54), (1.36, g - 0.4), (1.14, g - 0.4)], 1.5)
    for x in (0.2, 0.45, 0.7):
        pen.poly([(x, g - 0.7), (x + 0.16, g - 0.7), (x + 0.16, g - 0.52), (x, g - 0.52)], 1.35)
    wheels(pen, (0.28, 0.6, 1.22), 0.12, p)


def bicycle(pen: Pen, p: float) -> None:
    wheels(pen, (0.28, 0.98), 0.2, p)
    g = GROUND
    for a, b in (((0.28, g - 0.2), (0.55, g - 0.2)), ((0.55, g - 0.2), (0.85, g - 0.45)),
                 ((0.45, g - 0.45), (0.85, g - 0.45)), ((0.98, g - 0.2), (0.85, g - 0.55)),
                 ((0.28, g - 0.2), (0.45, g - 0.45))):  # fmt: skip
        pen.limb(a, b, 0.04)
    pen.ellipse(0.45, g - 0.48, 0.06, 0.02, tone=0.3)


def boat(pen: Pen, p: float) -> None:
    g = GROUND - 0.03 * math.sin(p)
    pen.poly([(0.05, g - 0.28), (1.2, g - 0.28), (1.0, g - 0.06), (0.2, g - 0.06)], 0.8)
    pen.poly([(0.6, g - 0.95), (0.6, g - 0.32), (1.05, g - 0.32)], 1.3)
    pen.poly([(0.56, g - 0.85), (0.56, g - 0.32), (0.25, g - 0.32)], 1.15)
    pen.limb((0.58, g - 0.98), (0.58, g - 0.28), 0.025, 0.4)


def plane(pen: Pen, p: float) -> None:
    pen.poly([(0.35, 0.48), (0.62, 0.48), (0.4, 0.15)], 0.85)
    pen.ellipse(0.7, 0.5, 0.62, 0.09)
    pen.poly([(0.1, 0.46), (0.24, 0.46), (0.1, 0.24)], 0.9)
    for x in range(6):
        pen.ellipse(0.55 + 0.1 * x, 0.47, 0.025, 0.025, tone=0.4)
    pen.poly([(0.55, 0.53), (0.85, 0.53), (0.6, 0.8)], 1.1)


def helicopter(pen: Pen, p: float) -> None:
    pen.ellipse(0.6, 0.5, 0.28, 0.18)
    pen.limb((0.35, 0.45), (0.02, 0.4), 0.06)
    pen.ellipse(0.72, 0.44, 0.12, 0.09, tone=1.5)
    span = 0.5 * abs(math.cos(p * 2))
    pen.limb((0.6 - span - 0.05, 0.28), (0.6 + span + 0.05, 0.28), 0.025, 0.3)
    pen.limb((0.6, 0.28), (0.6, 0.34), 0.04, 0.5)
    pen.limb((0.45, 0.72), (0.8, 0.72), 0.03, 0.4)


def rocket(pen: Pen, p: float) -> None:
    flame = 0.12 + 0.05 * math.sin(p * 3)
    pen.poly([(0.38, GROUND - 0.1), (0.5, GROUND - 0.1 + flame + 0.04), (0.62, GROUND - 0.1)], 1.6)
    pen.poly(
        [(0.38, GROUND - 0.12), (0.38, 0.25), (0.5, 0.05), (0.62, 0.25), (0.62, GROUND - 0.12)]
    )
    pen.poly([(0.38, GROUND - 0.35), (0.25, GROUND - 0.12), (0.38, GROUND - 0.12)], 0.7)
    pen.poly([(0.62, GROUND - 0.35), (0.75, GROUND - 0.12), (0.62, GROUND - 0.12)], 0.7)
    pen.ellipse(0.5, 0.38, 0.06, 0.06, tone=0.4)


def house(pen: Pen, p: float) -> None:
    g = GROUND
    pen.poly([(0.1, g), (0.1, g - 0.5), (0.9, g - 0.5), (0.9, g)])
    pen.poly([(0.02, g - 0.48), (0.5, g - 0.9), (0.98, g - 0.48)], 0.6)
    pen.poly([(0.42, g), (0.42, g - 0.28), (0.58, g - 0.28), (0.58, g)], 0.45)
    for x in (0.18, 0.68):
        pen.poly([(x, g - 0.4), (x + 0.14, g - 0.4), (x + 0.14, g - 0.26), (x, g - 0.26)], 1.5)


def castle(pen: Pen, p: float) -> None:
    g = GROUND
    pen.poly([(0.15, g), (0.15, g - 0.5), (0.85, g - 0.5), (0.85, g)])
    for x in (0.05, 0.75):
        pen.poly([(x, g), (x, g - 0.75), (x + 0.2, g - 0.75), (x + 0.2, g)], 0.92)
        pen.poly([(x - 0.02, g - 0.74), (x + 0.1, g - 0.95), (x + 0.22, g - 0.74)], 0.55)
    for x in (0.2, 0.34, 0.48, 0.62):
        pen.poly([(x, g - 0.5), (x, g - 0.57), (x + 0.08, g - 0.57), (x + 0.08, g - 0.5)])
    pen.ellipse(0.5, g - 0.14, 0.1, 0.14, tone=0.3)


def tower(pen: Pen, p: float) -> None:
    g = GROUND
    pen.poly([(0.3, g), (0.36, 0.15), (0.64, 0.15), (0.7, g)])
    pen.poly([(0.3, 0.16), (0.5, 0.03), (0.7, 0.16)], 0.6)
    for k in range(5):
        y = 0.25 + 0.13 * k
        pen.poly([(0.36, y), (0.64, y), (0.64, y + 0.04), (0.36, y + 0.04)], 0.7)
    pen.ellipse(0.5, 0.2, 0.05, 0.03, tone=1.6)


def windmill(pen: Pen, p: float) -> None:
    tower(pen, p)
    for k in range(4):
        a = p / 2 + k * math.pi / 2
        pen.limb((0.5, 0.2), (0.5 + 0.45 * math.cos(a), 0.2 + 0.45 * math.sin(a)), 0.07, 0.9)


def tree(pen: Pen, p: float) -> None:
    sway = 0.01 * math.sin(p)
    pen.limb((0.5, GROUND), (0.5, GROUND - 0.45), 0.1, 0.45)
    for dx, dy, r in ((0.0, 0.62, 0.3), (-0.2, 0.48, 0.2), (0.2, 0.48, 0.2), (0.0, 0.8, 0.17)):
        pen.ellipse(0.5 + dx + sway, GROUND - dy, r, r * 0.9)


def palm(pen: Pen, p: float) -> None:
    pen.limb((0.45, GROUND), (0.55, GROUND - 0.7), 0.07, 0.5)
    for k in range(6):
        a = math.pi * (0.1 + 0.16 * k) + 0.04 * math.sin(p)
        tip = (0.55 - 0.38 * math.cos(a), GROUND - 0.7 + 0.2 - 0.25 * math.sin(a) + 0.2)
        pen.limb((0.55, GROUND - 0.72), tip, 0.06)


def cactus(pen: Pen, p: float) -> None:
    pen.limb((0.5, GROUND), (0.5, 0.12), 0.18)
    pen.limb((0.35, 0.5), (0.22, 0.5), 0.1)
    pen.limb((0.22, 0.52), (0.22, 0.3), 0.1)
    pen.limb((0.65, 0.6), (0.78, 0.6), 0.1)
    pen.limb((0.78, 0.62), (0.78, 0.4), 0.1)


def flower(pen: Pen, p: float) -> None:
    sway = 0.02 * math.sin(p)
    pen.limb((0.5, GROUND), (0.5 + sway, 0.35), 0.04, 0.45)
    pen.ellipse(0.4, 0.65, 0.1, 0.04, -30, 0.5)
    for k in range(8):
        a = k * math.pi / 4
        pen.ellipse(
            0.5 + sway + 0.14 * math.cos(a), 0.28 + 0.14 * math.sin(a), 0.1, 0.06, math.degrees(a)
        )
    pen.ellipse(0.5 + sway, 0.28, 0.08, 0.08, tone=0.45)


def mushroom(pen: Pen, p: float) -> None:
    pen.limb((0.5, GROUND), (0.5, 0.45), 0.2, 1.6)
    pen.ellipse(0.5, 0.42, 0.42, 0.3)
    pen.poly([(0.05, 0.44), (0.95, 0.44), (0.95, 0.75), (0.05, 0.75)], 0.0)
    for x, y in ((0.35, 0.3), (0.6, 0.25), (0.75, 0.38)):
        pen.ellipse(x, y, 0.05, 0.04, tone=2.0)


def thing(pen: Pen, p: float, shape: str) -> None:
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


def abstract(pen: Pen, p: float) -> None:
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
