"""Colour grades from the request's words: what ``prompt``, ``negative_prompt`` and ``cfg_scale``
do to the picture of the image-driven models.

* ``prompt``: its hash gives a light colour cast of its own (each channel within ±6 %), so two
  prompts never look the same; colour names (:data:`.theme.COLOUR_WORDS`) tint the picture towards
  that colour; mood words steer it: ``night``/``dark``/``moody`` (darker, bluer),
  ``sunset``/``golden``/``warm``/``dawn`` (warmer), ``cold``/``winter``/``snow``/``ice`` (cooler),
  ``bright``/``sunny`` (brighter), ``vivid``/``vibrant``/``colorful`` (more saturated),
  ``muted``/``pastel``/``faded`` (less), ``monochrome``/``noir``/``grayscale`` or "black and
  white" (no colour).
* ``negative_prompt``: each chromatic colour named there is desaturated where it occurs (pixels
  whose hue is near that colour's lose their colour); white, black and silver have no hue and are
  ignored.
* ``cfg_scale`` (0..1, default 0.5): how strongly the prompt's grade is applied, from 0.4x at 0
  to 1.6x at 1 ("stronger correlation with the prompt").

A grade is applied with a weight per frame (:meth:`Grade.apply`): the engines ramp it so frames
that must equal an input image (the first frame, or the tail) are not graded at all.
"""

from __future__ import annotations

import colorsys
import hashlib
import re
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.engines.base import Frame
from kirin_api.engines.preview.theme import COLOUR_WORDS

Matrix = npt.NDArray[np.float64]

CAST = 0.06  # the prompt hash's own colour cast, per channel
TINT = 0.22  # how far one colour word pulls the channel gains towards its colour
HUE_WIDTH = 14.0  # hue half-width (of 256) of a negative colour's desaturation
_MOOD_GAINS: dict[str, tuple[float, float, float]] = {
    "night": (0.78, 0.82, 0.95),
    "dark": (0.82, 0.82, 0.85),
    "moody": (0.85, 0.86, 0.92),
    "sunset": (1.1, 0.98, 0.82),
    "golden": (1.08, 1.0, 0.82),
    "warm": (1.08, 1.0, 0.88),
    "dawn": (1.06, 0.98, 0.9),
    "cold": (0.9, 0.98, 1.1),
    "winter": (0.92, 0.98, 1.1),
    "snow": (0.95, 1.0, 1.08),
    "ice": (0.9, 0.98, 1.12),
    "bright": (1.1, 1.1, 1.1),
    "sunny": (1.1, 1.08, 1.0),
}
_SATURATION: dict[str, float] = {
    "vivid": 1.35,
    "vibrant": 1.35,
    "colorful": 1.3,
    "colourful": 1.3,
    "muted": 0.7,
    "pastel": 0.75,
    "faded": 0.7,
    "monochrome": 0.0,
    "noir": 0.0,
    "grayscale": 0.0,
    "greyscale": 0.0,
}
# Rec. 601 luma, as OpenCV's RGB2GRAY: keeps brightness while changing saturation.
_LUMA = np.array([0.299, 0.587, 0.114])


def words(text: str | None) -> list[str]:
    """Lower-case words of ``text``."""
    return re.findall(r"[a-z]+", (text or "").lower())


def text_key(text: str) -> int:
    """A stable 64-bit hash of ``text`` (BLAKE2b), the same on every machine."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _saturation_matrix(s: float) -> Matrix:
    """Mix each pixel with its luma: ``s`` = 0 grey, 1 unchanged, > 1 more colourful."""
    grey = np.tile(_LUMA, (3, 1))
    return np.asarray(s * np.eye(3) + (1.0 - s) * grey, dtype=np.float64)


def _hue(rgb: tuple[float, float, float]) -> float | None:
    """Hue in OpenCV's ``HSV_FULL`` units (0..256), or None for greys."""
    h, s, _ = colorsys.rgb_to_hsv(*rgb)
    return None if s < 0.25 else h * 256.0


@dataclass(frozen=True)
class Grade:
    """A colour transform at full strength, plus the hues that ``negative_prompt`` dulls."""

    matrix: Matrix  # 3x3, applied to RGB column vectors
    negative_hues: tuple[float, ...] = ()
    label: str = "neutral"

    @property
    def is_identity(self) -> bool:
        """True when applying the grade changes nothing."""
        return not self.negative_hues and bool(np.allclose(self.matrix, np.eye(3)))

    def apply(self, frame: Frame, weight: float) -> Frame:
        """``frame`` graded at ``weight`` (0: unchanged, 1: full grade)."""
        if weight <= 0.0 or self.is_identity:
            return frame
        out = frame
        matrix = np.eye(3) + weight * (self.matrix - np.eye(3))
        if not np.allclose(matrix, np.eye(3)):
            # cv2.transform saturates uint8 itself: one vectorised pass, no float frame.
            out = np.asarray(cv2.transform(out, matrix.astype(np.float32)), dtype=np.uint8)
        if self.negative_hues:
            out = self._dull(out, weight)
        return out

    def _dull(self, frame: Frame, weight: float) -> Frame:
        # Per pixel: how close its hue is to a negative colour (a 256-entry table on the hue
        # plane), times how colourful it is, then a blend towards its own grey. All OpenCV
        # passes on uint8/float32 planes: a few ms per 720p frame.
        hue = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV_FULL)[..., 0]
        amount = cv2.LUT(np.ascontiguousarray(hue), self._hue_table(weight))
        w = np.asarray(amount, dtype=np.float32) * np.float32(1.0 / 255.0)
        grey = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        out = cv2.blendLinear(grey, frame, w, np.float32(1.0) - w)
        return np.asarray(out, dtype=np.uint8)

    def _hue_table(self, weight: float) -> npt.NDArray[np.uint8]:
        hues = np.arange(256, dtype=np.float64)
        table = np.zeros(256)
        for hue in self.negative_hues:
            distance = np.minimum(np.abs(hues - hue), 256.0 - np.abs(hues - hue))
            table = np.maximum(table, np.exp(-((distance / HUE_WIDTH) ** 2)))
        return np.round(255.0 * weight * table).astype(np.uint8)


def make_grade(
    prompt: str | None, negative_prompt: str | None = None, cfg_scale: float | None = 0.5
) -> Grade:
    """The grade the words ask for (see the module docstring)."""
    text = prompt or ""
    tokens = words(text)
    rng = np.random.default_rng(text_key(text))
    gains = 1.0 + rng.uniform(-CAST, CAST, size=3)
    labels: list[str] = []
    for word in tokens:
        if word in COLOUR_WORDS:
            colour = np.array(COLOUR_WORDS[word]) + 0.15
            gains = gains * (1.0 + TINT * (colour / colour.mean() - 1.0))
            labels.append(word)
        elif word in _MOOD_GAINS:
            gains = gains * np.array(_MOOD_GAINS[word])
            labels.append(word)
    saturation = 1.0
    for word in tokens:
        if word in _SATURATION:
            saturation = _SATURATION[word]
            labels.append(word)
    joined = " ".join(tokens)
    if "black and white" in joined or "b w" in joined:
        saturation = 0.0
        labels.append("black and white")
    strength = 0.4 + 1.2 * (0.5 if cfg_scale is None else min(1.0, max(0.0, float(cfg_scale))))
    # Strength scales each deviation from neutral; saturation is clamped so a strong "noir"
    # cannot overshoot into inverted colours.
    gains = np.clip(1.0 + strength * (gains - 1.0), 0.3, 2.0)
    saturation = min(2.0, max(0.0, 1.0 + strength * (saturation - 1.0)))
    matrix = np.diag(gains) @ _saturation_matrix(saturation)
    negative: list[float] = []
    for word in dict.fromkeys(words(negative_prompt)):
        if word in COLOUR_WORDS:
            hue = _hue(COLOUR_WORDS[word])
            if hue is not None:
                negative.append(hue)
                labels.append(f"-{word}")
    return Grade(
        matrix=np.asarray(matrix, dtype=np.float64),
        negative_hues=tuple(negative),
        label=",".join(labels) or "cast",
    )
