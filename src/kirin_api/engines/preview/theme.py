"""From the request's words to a :class:`Theme`: the palette and the kind of scenery.

* The prompt's hash (BLAKE2b) picks the base hue, the colour scheme, the layout variant and the
  default camera move, so different prompts give visibly different videos.
* Words steer it: ``night`` (dark sky, stars, moon), ``sunset``/``dawn`` (warm sky, low sun),
  ``ocean``/``sea``/``beach`` (water bands that roll, boats), ``forest``/``jungle`` (greens,
  trees), ``desert``/``sand`` (dunes, warm sky), ``snow``/``winter`` (white ground, cold light),
  ``city`` (a skyline), and colour names (red, orange, yellow, green, blue, purple, pink, brown,
  white, black, gold, silver, cyan, teal) tint the palette towards that colour.
* ``negative_prompt``: a colour named there is pushed out of the palette (its hue is turned away
  and dulled); ``clouds``, ``birds``/``animals``/``objects``, ``sun``/``moon`` and ``stars``
  remove those things.
* ``cfg_scale`` (0..1, default 0.5): saturation and contrast of the palette, from dull (0) to
  vivid (1); 0.5 leaves the palette as it is.
"""

from __future__ import annotations

import colorsys
import hashlib
import re
from dataclasses import dataclass, replace

Rgb = tuple[float, float, float]  # 0..1

COLOUR_WORDS: dict[str, Rgb] = {
    "red": (0.85, 0.15, 0.12),
    "orange": (0.95, 0.55, 0.12),
    "yellow": (0.95, 0.85, 0.2),
    "gold": (0.9, 0.72, 0.25),
    "green": (0.2, 0.7, 0.25),
    "teal": (0.1, 0.55, 0.55),
    "cyan": (0.2, 0.8, 0.9),
    "blue": (0.15, 0.35, 0.9),
    "purple": (0.55, 0.25, 0.8),
    "pink": (0.95, 0.45, 0.7),
    "brown": (0.5, 0.32, 0.18),
    "white": (0.95, 0.95, 0.95),
    "silver": (0.75, 0.77, 0.8),
    "black": (0.06, 0.06, 0.08),
}
SCENERIES = ("mountains", "hills", "forest", "ocean", "desert", "snow", "city")


@dataclass(frozen=True)
class Theme:
    """Everything about the look that is fixed for the whole clip."""

    sky_top: Rgb
    sky_horizon: Rgb
    layers: tuple[Rgb, Rgb, Rgb]  # far, mid, near
    accent: Rgb  # moving objects, windows, highlights
    scenery: str  # one of SCENERIES
    night: bool
    clouds: bool
    objects: bool
    sun: bool
    stars: bool
    cloud_drift: float  # sky drift, normalised units per second (sign: direction)
    variant: int  # layout choices from the prompt hash
    default_move: int  # which gentle camera move when there is no camera_control
    prompt_key: int  # 64 bits of the prompt's hash, mixed into the seed


def prompt_digest(prompt: str) -> int:
    """A stable 64-bit hash of the prompt (not Python's salted ``hash``)."""
    return int.from_bytes(hashlib.blake2b(prompt.encode("utf-8"), digest_size=8).digest(), "big")


def _words(text: str | None) -> set[str]:
    return set(re.findall(r"[a-z]+", (text or "").lower()))


def _hls(h: float, lightness: float, s: float) -> Rgb:
    r, g, b = colorsys.hls_to_rgb(h % 1.0, min(1.0, max(0.0, lightness)), min(1.0, max(0.0, s)))
    return (r, g, b)


def _mix(a: Rgb, b: Rgb, t: float) -> Rgb:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


def _vivid(c: Rgb, saturation: float, contrast: float) -> Rgb:
    h, lightness, s = colorsys.rgb_to_hls(*c)
    lightness = 0.5 + (lightness - 0.5) * contrast
    return _hls(h, lightness, s * saturation)


def _banish(c: Rgb, banned: list[Rgb]) -> Rgb:
    """Turn ``c`` away from any banned colour whose hue (or greyness) it shares."""
    h, lightness, s = colorsys.rgb_to_hls(*c)
    for b in banned:
        bh, bl, bs = colorsys.rgb_to_hls(*b)
        if bs < 0.15:  # white/black/silver: move the lightness away instead
            if abs(lightness - bl) < 0.3:
                lightness = 0.5 + (0.5 - bl) * 0.6
            continue
        distance = min(abs(h - bh), 1.0 - abs(h - bh))
        if s > 0.12 and distance < 0.1:
            h, s = h + 0.33, s * 0.6
    return _hls(h, lightness, s)


def make_theme(prompt: str, negative_prompt: str | None, cfg_scale: float) -> Theme:
    """Build the clip's :class:`Theme` (see the module docstring for the rules)."""
    key = prompt_digest(prompt)
    bits = key
    words = _words(prompt)
    banned_words = _words(negative_prompt)

    def take(n: int) -> int:
        nonlocal bits
        value = bits % n
        bits //= n
        return value

    hue = take(360) / 360.0
    scheme_shift = (0.08, 0.5, 0.33, -0.08)[take(4)]
    scenery = SCENERIES[take(5)]  # the first five are the "neutral" ones
    variant = take(1 << 16)
    default_move = take(7)
    for word, name in (
        ("forest", "forest"),
        ("jungle", "forest"),
        ("trees", "forest"),
        ("ocean", "ocean"),
        ("sea", "ocean"),
        ("beach", "ocean"),
        ("desert", "desert"),
        ("sand", "desert"),
        ("dunes", "desert"),
        ("snow", "snow"),
        ("winter", "snow"),
        ("city", "city"),
        ("street", "city"),
        ("mountains", "mountains"),
        ("mountain", "mountains"),
        ("hills", "hills"),
    ):
        if word in words:
            scenery = name
            break
    night = bool(words & {"night", "midnight", "stars", "moon", "dark"})
    dusk = bool(words & {"sunset", "dawn", "sunrise", "dusk", "evening"})

    # Base palette from the hash: sky and land hues related by the scheme.
    sky_top = _hls(0.58 + (hue - 0.5) * 0.15, 0.45, 0.55)
    sky_horizon = _hls(0.55 + (hue - 0.5) * 0.2, 0.78, 0.45)
    land = hue + scheme_shift
    layers: tuple[Rgb, Rgb, Rgb] = (
        _hls(land + 0.02, 0.55, 0.25),
        _hls(land, 0.4, 0.45),
        _hls(land - 0.03, 0.28, 0.55),
    )
    accent = _hls(hue + 0.5, 0.55, 0.85)
    scenery_palettes: dict[str, tuple[Rgb, Rgb, Rgb]] = {
        "forest": ((0.35, 0.5, 0.45), (0.13, 0.38, 0.18), (0.08, 0.25, 0.1)),
        "ocean": ((0.35, 0.55, 0.7), (0.1, 0.38, 0.6), (0.05, 0.25, 0.45)),
        "desert": ((0.85, 0.65, 0.45), (0.85, 0.58, 0.32), (0.75, 0.48, 0.25)),
        "snow": ((0.75, 0.8, 0.9), (0.88, 0.9, 0.95), (0.97, 0.97, 1.0)),
    }
    if scenery in scenery_palettes:
        tinted = scenery_palettes[scenery]
        layers = (
            _mix(layers[0], tinted[0], 0.75),
            _mix(layers[1], tinted[1], 0.75),
            _mix(layers[2], tinted[2], 0.75),
        )
    if scenery == "desert":
        sky_top, sky_horizon = (0.3, 0.55, 0.85), (0.95, 0.85, 0.65)
    if scenery == "snow":
        sky_top, sky_horizon = (0.45, 0.6, 0.8), (0.85, 0.9, 0.95)
    if dusk:
        sky_top, sky_horizon = (0.3, 0.25, 0.55), (0.98, 0.55, 0.3)
        layers = (
            _mix(layers[0], (0.45, 0.3, 0.45), 0.5),
            _mix(layers[1], (0.25, 0.15, 0.25), 0.5),
            _mix(layers[2], (0.1, 0.06, 0.1), 0.5),
        )
    if night:
        sky_top, sky_horizon = (0.02, 0.03, 0.1), (0.1, 0.14, 0.3)
        layers = (
            _mix(layers[0], (0.08, 0.1, 0.2), 0.7),
            _mix(layers[1], (0.05, 0.06, 0.12), 0.7),
            _mix(layers[2], (0.02, 0.03, 0.06), 0.7),
        )
        accent = (1.0, 0.85, 0.45)  # lanterns and lit windows
    named = [COLOUR_WORDS[w] for w in sorted(words & COLOUR_WORDS.keys())]
    if named:
        accent = named[0]
        layers = (
            _mix(layers[0], named[-1], 0.12),
            _mix(layers[1], named[0], 0.15),
            _mix(layers[2], named[0], 0.12),
        )
        sky_horizon = _mix(sky_horizon, named[-1], 0.25)

    banned = [COLOUR_WORDS[w] for w in sorted(banned_words & COLOUR_WORDS.keys())]
    cfg = min(1.0, max(0.0, float(cfg_scale)))
    saturation, contrast = 0.4 + 1.2 * cfg, 0.8 + 0.4 * cfg

    def finish(c: Rgb) -> Rgb:
        return _vivid(_banish(c, banned), saturation, contrast)

    theme = Theme(
        sky_top=finish(sky_top),
        sky_horizon=finish(sky_horizon),
        layers=(finish(layers[0]), finish(layers[1]), finish(layers[2])),
        accent=finish(accent),
        scenery=scenery,
        night=night,
        clouds=not night and "clouds" not in banned_words and "cloud" not in banned_words,
        objects=not (banned_words & {"birds", "bird", "animals", "objects", "boats", "lanterns"}),
        sun=not (banned_words & {"sun", "moon"}),
        stars=night and "stars" not in banned_words,
        cloud_drift=(0.006 + (variant % 7) * 0.002) * (1 if variant & 1 else -1),
        variant=variant,
        default_move=default_move,
        prompt_key=key,
    )
    return replace(theme)
