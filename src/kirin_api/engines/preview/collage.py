"""Pictures placed into the frame: the reference panels of kirin_v1_6_multi_i2v and the subject
cards of ``element_list``.

* Panels: the frame is split into one panel per reference image (1: the whole frame; 2: side by
  side, or stacked in a portrait frame; 3: three columns / rows, or in a square frame one tall
  panel and two stacked; 4: a 2x2 grid), with thin dark gutters. Each panel shows its whole image
  (fitted, never cropped, as the seed asks: "no cropping is applied") over a blurred, darkened
  cover-fit copy of itself, so every reference is fully visible and recognisable.
* Cards: each subject's frontal image, fitted into a card at most 30 % of the frame's height and
  width with a thin white border, lined up from the bottom-right corner leftwards; cards are
  drawn over the graded picture (they keep their own colours) and fade in and out where the
  clip's first or last frame must be an input image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from kirin_api.engines.base import Frame
from kirin_api.engines.preview.stills import contain_size, cover, resized

Box = tuple[int, int, int, int]  # x, y, width, height

GUTTER = 0.015  # of the frame's short side
PANEL_FILL = 0.94  # of the panel the fitted image may take
BACKDROP_DARKEN = 0.45
CARD_SIDE = 0.3  # of the frame, the largest card side
CARD_MARGIN = 0.03  # of the frame's short side
_GUTTER_COLOUR = (18, 18, 22)


def panel_boxes(count: int, width: int, height: int) -> list[Box]:
    """Where each of ``count`` (1..4) panels goes in a ``width`` x ``height`` frame."""
    g = max(2, round(GUTTER * min(width, height)))

    def grid(cols: int, rows: int) -> list[Box]:
        xs = [round(i * (width + g) / cols) for i in range(cols + 1)]
        ys = [round(j * (height + g) / rows) for j in range(rows + 1)]
        return [
            (xs[i], ys[j], xs[i + 1] - xs[i] - g, ys[j + 1] - ys[j] - g)
            for j in range(rows)
            for i in range(cols)
        ]

    if count <= 1:
        return [(0, 0, width, height)]
    portrait = height > width
    if count == 2:
        return grid(1, 2) if portrait else grid(2, 1)
    if count == 3:
        if width == height:
            half = (width - g) // 2
            right = grid(1, 2)
            return [(0, 0, half, height)] + [
                (half + g, y, width - half - g, h) for (_, y, _, h) in right
            ]
        return grid(1, 3) if portrait else grid(3, 1)
    return grid(2, 2)


@dataclass(frozen=True)
class Collage:
    """The composed reference panels and where each reference image lies in it."""

    canvas: Frame
    boxes: tuple[Box, ...]  # the fitted image of each reference, in canvas pixels


def compose_panels(images: Sequence[Frame], width: int, height: int, *, sharp: bool) -> Collage:
    """One ``width`` x ``height`` picture with every image in its own panel."""
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = _GUTTER_COLOUR
    boxes: list[Box] = []
    for image, (x, y, w, h) in zip(images, panel_boxes(len(images), width, height), strict=False):
        backdrop = cover(image, w, h)
        blurred = cv2.GaussianBlur(backdrop, (0, 0), max(w, h) / 40.0)
        canvas[y : y + h, x : x + w] = (blurred * BACKDROP_DARKEN).astype(np.uint8)
        fw, fh = contain_size(image, round(w * PANEL_FILL), round(h * PANEL_FILL))
        fx, fy = x + (w - fw) // 2, y + (h - fh) // 2
        canvas[fy : fy + fh, fx : fx + fw] = resized(image, fw, fh, sharp=sharp)
        boxes.append((fx, fy, fw, fh))
    return Collage(canvas, tuple(boxes))


@dataclass(frozen=True)
class Card:
    """A subject's picture with its border, and where it goes in the frame."""

    picture: Frame
    x: int
    y: int

    @property
    def box(self) -> Box:
        """The card's place, border included."""
        return self.x, self.y, self.picture.shape[1], self.picture.shape[0]


def make_cards(images: Sequence[Frame], width: int, height: int) -> list[Card]:
    """Subject cards lined up from the bottom-right corner leftwards."""
    margin = max(2, round(CARD_MARGIN * min(width, height)))
    border = max(2, round(min(width, height) / 240))
    count = max(1, len(images))
    max_w = min(round(CARD_SIDE * width), (width - (count + 1) * margin) // count)
    max_h = round(CARD_SIDE * height)
    cards: list[Card] = []
    right = width - margin
    for image in images:
        fw, fh = contain_size(image, max_w - 2 * border, max_h - 2 * border)
        picture = np.full((fh + 2 * border, fw + 2 * border, 3), 255, np.uint8)
        picture[border : border + fh, border : border + fw] = resized(image, fw, fh)
        x = right - picture.shape[1]
        cards.append(Card(picture, x, height - margin - picture.shape[0]))
        right = x - margin
    return cards


def draw_cards(frame: Frame, cards: Sequence[Card], opacity: float) -> None:
    """Draw ``cards`` onto ``frame`` (in place) at ``opacity`` (0..1)."""
    if opacity <= 0.0:
        return
    for card in cards:
        x, y, w, h = card.box
        if opacity >= 1.0:
            frame[y : y + h, x : x + w] = card.picture
        else:
            region = frame[y : y + h, x : x + w]
            frame[y : y + h, x : x + w] = cv2.addWeighted(
                region, 1.0 - opacity, card.picture, opacity, 0.0
            )
