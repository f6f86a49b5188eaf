"""The preview scene: textured planes at depths (sky, far, mid, near) and moving sprites.

Scenery is laid out "as the base camera sees it": a layer's texture maps to normalised base-view
coordinates ``(xn, yn) = ((u - cx) / f, (v - cy) / f)`` and lies on the plane ``z = depth``, so
the world point of texture pixel ``(s, t)`` is ``depth * (xn, -yn, 1)``. Layers repeat along x
(the renderer wraps them); along y each texture is made tall enough to fill every view the camera
path will take (:func:`view_rows`), so no frame ever shows past a texture's edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.engines.preview.camera import CameraPath, Lens, Matrix, plane_homography
from kirin_api.engines.preview.textures import (
    Rgba,
    draw_balloon,
    draw_bird,
    draw_boat,
    draw_glow,
    periodic_noise,
    ridge,
    to_rgba,
)
from kirin_api.engines.preview.theme import Rgb, Theme

SKY_DEPTH = 1.0e5  # far enough that camera translations make no parallax on it
LAYER_DEPTHS = (60.0, 18.0, 5.0)  # far, mid, near
# Contrast of the fine grain (pebbles, grass, ripples) per layer: on the near ground only. It is
# what makes its parallax readable and must outweigh the moving objects' edges in the frame; a
# second grainy layer, moving at a third of its speed, would compete with it.
GRAIN = (0.0, 0.0, 0.16)
PERIOD = 4.0  # width of one repeat of every layer, in normalised units (about 3.5 frames)
_MARGIN = 0.04  # extra normalised rows above/below what the views need (bilinear + rounding)


@dataclass
class Layer:
    """One textured plane; ``texture`` is premultiplied RGBA, seamless along x."""

    texture: Rgba
    depth: float
    x0: float  # normalised x of texture column 0
    y0: float  # normalised y of texture row 0
    step: float  # normalised units per texel
    drift: float = 0.0  # normalised units per second the content slides along x
    opaque: bool = False

    def plane(self, seconds: float) -> Matrix:
        """Texture coordinates -> world points at time ``seconds``."""
        a = np.array(
            [
                [self.step, 0.0, self.x0 - self.drift * seconds],
                [0.0, self.step, self.y0],
                [0.0, 0.0, 1.0],
            ]
        )
        plane: Matrix = self.depth * np.diag([1.0, -1.0, 1.0]) @ a
        return plane


@dataclass
class Sprite:
    """A small flat picture moving through the world (birds, balloons, boats, the sun)."""

    frames: list[Rgba]  # animation frames, premultiplied RGBA
    position: tuple[float, float, float]  # world centre at t = 0
    velocity: tuple[float, float]  # world units per second along x and y
    width: float  # world width of the picture
    bob: float = 0.0  # vertical bobbing amplitude (world units)
    phase: float = 0.0
    frame_rate: float = 8.0  # animation frames per second

    @property
    def depth(self) -> float:
        return self.position[2]

    def texture(self, seconds: float) -> Rgba:
        i = int((seconds * self.frame_rate + self.phase * 3.0) % len(self.frames))
        return self.frames[i]

    def plane(self, seconds: float) -> Matrix:
        """Texture coordinates -> world points at time ``seconds``."""
        h, w = self.frames[0].shape[:2]
        k = self.width / w
        x = self.position[0] + self.velocity[0] * seconds
        y = self.position[1] + self.velocity[1] * seconds
        y += self.bob * math.sin(2.0 * math.pi * 0.4 * seconds + self.phase)
        return np.array(
            [[k, 0.0, x - k * w / 2.0], [0.0, -k, y + k * h / 2.0], [0.0, 0.0, self.depth]]
        )


@dataclass
class Scene:
    """Everything the renderer draws, far to near."""

    sky: Layer
    items: list[Layer | Sprite] = field(default_factory=list)  # sorted far to near


def view_rows(lens: Lens, path: CameraPath, depth: float) -> tuple[float, float]:
    """The normalised y range of the plane at ``depth`` that any view on ``path`` shows."""
    corners = np.array(
        [[0, 0, 1], [lens.width, 0, 1], [0, lens.height, 1], [lens.width, lens.height, 1]],
        np.float64,
    ).T
    flip = depth * np.diag([1.0, -1.0, 1.0])
    lo, hi = math.inf, -math.inf
    for pose in path.sample():
        back = np.linalg.inv(plane_homography(pose, lens, flip)) @ corners
        ys = back[1] / back[2]
        lo, hi = min(lo, float(ys.min())), max(hi, float(ys.max()))
    return lo - _MARGIN, hi + _MARGIN


def _columns(lens: Lens, density: float) -> tuple[int, float]:
    """Texture width (a multiple of 64 so noise cells divide it) and its normalised step."""
    width = max(64, round(PERIOD * lens.focal * density / 64) * 64)
    return width, PERIOD / width


def _gradient(rows: npt.NDArray[np.float64], top: Rgb, bottom: Rgb, y_top: float, y_bottom: float):  # type: ignore[no-untyped-def]
    t = np.clip((rows - y_top) / (y_bottom - y_top), 0.0, 1.0)[:, None]
    return (np.array(top) * (1 - t) + np.array(bottom) * t).astype(np.float32)


def make_sky(
    theme: Theme,
    rng: np.random.Generator,
    lens: Lens,
    path: CameraPath,
    density: float,
    calm: bool = False,
) -> Layer:
    """The sky: a vertical gradient with clouds (day) or stars (night), drifting slowly."""
    width, step = _columns(lens, density * 0.5)  # soft anyway: half resolution is plenty
    lo, hi = view_rows(lens, path, SKY_DEPTH)
    rows = np.arange(lo, hi, step)
    colour_rows = _gradient(rows, theme.sky_top, theme.sky_horizon, -0.7, 0.1)
    colour = np.repeat(colour_rows[:, None, :], width, axis=1)
    if theme.clouds:
        noise = periodic_noise(rng, len(rows), width, cell=64, octaves=3)
        # Clouds thin out towards the horizon and above the top of the frame.
        band = np.clip(1.0 - np.abs(rows + 0.35) / 0.35, 0.0, 1.0)[:, None].astype(np.float32)
        cover = np.clip((noise - 0.1) * 2.2, 0.0, 1.0) * band
        white = (
            np.array([0.9, 0.9, 0.9], np.float32) + np.array(theme.sky_horizon, np.float32) * 0.1
        )
        colour += (white - colour) * cover[..., None] * 0.85
    if theme.stars:
        n = int(width * len(rows) * 0.002)
        ys, xs = rng.integers(0, len(rows), n), rng.integers(0, width, n)
        keep = rows[ys] < 0.05
        colour[ys[keep], xs[keep]] = rng.uniform(0.6, 1.0, (int(keep.sum()), 1))
    texture = to_rgba(colour, np.ones(colour.shape[:2], np.float32))
    # Under a requested camera move the clouds barely drift: the camera leads the shot.
    drift = (theme.cloud_drift * (0.15 if calm else 1.0)) if theme.clouds else 0.0
    return Layer(texture, SKY_DEPTH, -PERIOD / 2, float(rows[0]), step, drift, opaque=True)


@dataclass(frozen=True)
class _LayerStyle:
    top: float  # normalised y of the skyline's mean
    amplitude: float  # skyline height variation
    roughness: float
    haze: float  # how much the layer fades into the horizon colour
    drift: float = 0.0


def _style(scenery: str, index: int, variant: int) -> _LayerStyle:
    wobble = ((variant >> (4 * index)) % 16) / 16.0 - 0.5
    if scenery == "ocean":
        return (
            _LayerStyle(0.02 + 0.03 * wobble, 0.05, 0.3, 0.45),
            _LayerStyle(0.03, 0.004, 0.1, 0.15, drift=0.004),
            _LayerStyle(0.09 + 0.02 * wobble, 0.01, 0.2, 0.0, drift=0.012),
        )[index]
    if scenery == "desert":
        return (
            _LayerStyle(0.0, 0.05, 0.2, 0.4),
            _LayerStyle(0.0 + 0.03 * wobble, 0.05, 0.15, 0.15),
            _LayerStyle(0.07 + 0.03 * wobble, 0.04, 0.1, 0.0),
        )[index]
    jagged = 0.9 if scenery in ("mountains", "snow") else 0.4
    return (
        _LayerStyle(-0.06 + 0.05 * wobble, 0.14, jagged, 0.45),
        _LayerStyle(-0.01 + 0.03 * wobble, 0.06, 0.4, 0.15),
        _LayerStyle(0.07 + 0.03 * wobble, 0.03, 0.5, 0.0),
    )[index]


def make_layer(
    theme: Theme,
    rng: np.random.Generator,
    lens: Lens,
    path: CameraPath,
    index: int,
    density: float,
    detail: bool,
    calm: bool = False,
) -> Layer:
    """Scenery layer ``index`` (0 far, 1 mid, 2 near) for the theme's scenery."""
    depth = LAYER_DEPTHS[index]
    style = _style(theme.scenery, index, theme.variant)
    width, step = _columns(lens, density * (0.6 if index == 0 else 1.0))
    lo, hi = view_rows(lens, path, depth)
    lo = min(lo, style.top - style.amplitude * 2.5 - 0.05)
    rows = np.arange(lo, max(hi, lo + 4 * step), step)
    xs = np.arange(width, dtype=np.float64) * step
    skyline = style.top + style.amplitude * ridge(rng, xs, PERIOD, style.roughness)
    # Full-texture arithmetic in float32 (half the memory traffic of float64).
    rows32 = rows.astype(np.float32)[:, None]
    below_skyline = rows32 - skyline.astype(np.float32)[None, :]  # normalised units
    # Soft (one texel) edge: alpha ramps where the row crosses the skyline.
    alpha = np.clip(below_skyline * np.float32(1.0 / step) + np.float32(0.5), 0.0, 1.0)
    base = np.array(theme.layers[index], np.float32)
    base = base * (1 - style.haze) + np.array(theme.sky_horizon, np.float32) * style.haze
    noise = periodic_noise(rng, len(rows), width, cell=32, octaves=4 if detail else 3)
    shade = 1.0 + 0.18 * noise
    # Darker (or, in haze, lighter) further below the skyline: depth cue without lighting.
    below = np.clip(below_skyline * np.float32(2.0), 0.0, 1.0)
    shade *= 1.0 - np.float32(0.25 * (1.0 - style.haze)) * below
    if theme.scenery in ("ocean", "desert"):
        # Waves / sand ripples: horizontal stripes bent by the noise.
        freq = 140.0 if theme.scenery == "ocean" else 90.0
        stripes = np.sin(rows32 * np.float32(freq * (1.0 + index)) + noise * np.float32(3.0))
        shade += np.float32(0.07) * stripes
    if detail:
        shade += 0.05 * rng.standard_normal(shade.shape).astype(np.float32)
    colour: npt.NDArray[np.float32] = cv2.merge((shade, shade, shade))  # type: ignore[assignment]
    colour *= base
    if GRAIN[index]:
        # Fine grain a few pixels across (pebbles, tufts, ripples), added in absolute terms so
        # that dark ground carries it as well as light. Texel-sized speckle on top carries the
        # finest frequencies, where thin moving edges (birds) would otherwise decide what the
        # whole frame's motion looks like.
        grain = periodic_noise(rng, len(rows), width, cell=4, octaves=2)
        grain += np.float32(0.6) * rng.standard_normal(grain.shape, np.float32)
        grain *= np.float32(GRAIN[index])
        colour += grain[..., None]
    if theme.scenery == "snow" and index == 0:
        caps = np.clip((np.float32(style.amplitude * 1.2) - below_skyline) * np.float32(12), 0, 1)
        colour += (1.0 - colour) * (caps[..., None] * np.float32(0.8))
    if theme.scenery == "forest" and index > 0:
        alpha, colour = _add_trees(rng, rows, xs, skyline, alpha, colour, index, step)
    if theme.scenery == "city" and index == 1:
        alpha, colour = _add_skyline(theme, rng, rows, xs, alpha, colour, step)
    texture = to_rgba(colour, alpha)
    drift = style.drift * (0.1 if calm else 1.0)  # rolling water stays under a camera move
    return Layer(texture, depth, 0.0, float(rows[0]), step, drift)


def _add_trees(  # type: ignore[no-untyped-def]
    rng: np.random.Generator, rows, xs, skyline, alpha, colour, index: int, step: float
):
    """Conifers standing on the skyline: triangles, vectorised per tree over its box only."""
    height = (0.05, 0.16)[index - 1]
    count = int(len(xs) * step / height * 1.5)
    centres = rng.uniform(0.0, PERIOD, count)
    sizes = rng.uniform(0.6, 1.2, count) * height
    tones = rng.uniform(0.75, 1.1, count)
    for cx, h, tone in zip(centres, sizes, tones, strict=True):
        col = int(cx / step) % len(xs)
        base_y = skyline[col] + 0.01
        half_w = h * 0.28
        c0, c1 = int((cx - half_w) / step), int((cx + half_w) / step) + 1
        r0 = int(np.searchsorted(rows, base_y - h))
        r1 = int(np.searchsorted(rows, base_y))
        if r1 <= r0:
            continue
        cols = np.arange(c0, c1) % len(xs)  # wrap so trees at the seam stay whole
        ys, xv = rows[r0:r1, None], np.arange(c0, c1)[None, :] * step
        inside = (np.abs(xv - cx) / half_w) - (ys - (base_y - h)) / h
        cover = np.clip(-inside / (step / half_w) + 0.5, 0.0, 1.0)
        a = alpha[r0:r1][:, cols]
        alpha[r0:r1, cols] = np.maximum(a, cover)
        tint = colour[r0:r1][:, cols] * (1 - cover[..., None]) + (
            colour[r1 - 1 : r1, cols] * tone * cover[..., None]
        )
        colour[r0:r1, cols] = tint
    return alpha, colour


def _add_skyline(  # type: ignore[no-untyped-def]
    theme: Theme, rng: np.random.Generator, rows, xs, alpha, colour, step: float
):
    """Buildings with lit windows on the mid layer."""
    x = 0.0
    accent = np.array(theme.accent, np.float32)
    while x < PERIOD - 0.05:
        w = rng.uniform(0.05, 0.14)
        top = rng.uniform(-0.12, 0.05)
        c0, c1 = int(x / step), min(len(xs), int((x + w) / step))
        r0 = int(np.searchsorted(rows, top))
        alpha[r0:, c0:c1] = 1.0
        tone = rng.uniform(0.7, 1.1)
        colour[r0:, c0:c1] = colour[r0:, c0:c1] * tone
        win_r = (np.arange(r0, len(rows)) * step // 0.018) % 2 == 0
        win_c = (np.arange(c0, c1) * step // 0.012) % 2 == 0
        lit = win_r[:, None] & win_c[None, :] & (rng.random((len(win_r), c1 - c0)) < 0.35)
        block = colour[r0:, c0:c1]
        block[lit] = block[lit] * 0.3 + accent * 0.7
        x += w + rng.uniform(0.0, 0.03)
    return alpha, colour


def make_sprites(
    theme: Theme,
    rng: np.random.Generator,
    lens: Lens,
    count: int,
    duration: float,
    calm: bool = False,
) -> list[Sprite]:
    """The sun or moon and ``count`` moving things suited to the scenery.

    ``calm`` (a camera move was asked for): fewer, slower, smaller things, so that the camera's
    motion is what the whole frame does.
    """
    if calm:
        count = min(count, 2)
    sprites: list[Sprite] = []
    if theme.sun:
        size = 96
        colour = (0.95, 0.95, 0.85) if theme.night else (1.0, 0.92, 0.6)
        z = SKY_DEPTH * 0.9
        xn, yn = rng.uniform(-0.4, 0.4), rng.uniform(-0.42, -0.22)
        sprites.append(
            Sprite([draw_glow(colour, size)], (xn * z, -yn * z, z), (0.0, 0.0), 0.16 * z)
        )
    if not theme.objects:
        return sprites
    for i in range(count):
        z = float(rng.uniform(9.0, 18.0))
        speed = float(rng.uniform(0.08, 0.2)) * z * (1 if rng.random() < 0.5 else -1)
        if calm:
            speed *= 0.15
        # Start where the object will cross the middle of the view during the clip.
        xn = float(rng.uniform(-0.45, 0.45)) - speed / z * duration / 2
        if theme.scenery == "ocean":
            yn = float(rng.uniform(0.08, 0.2))
            frames = [draw_boat(theme.accent, 64)]
            sprites.append(
                Sprite(frames, (xn * z, -yn * z, z), (speed * 0.3, 0.0), 0.05 * z, 0.01 * z, i)
            )
            continue
        yn = float(rng.uniform(-0.35, -0.05))
        if theme.night:
            frames, width = [draw_glow(theme.accent, 32, core=0.25)], 0.025 * z
            velocity = (speed * 0.3, 0.02 * z)
        elif theme.variant % 3 == 0:
            frames, width = [draw_balloon(theme.accent, 48)], 0.035 * z
            velocity = (speed * 0.4, 0.015 * z)
        else:
            frames = [draw_bird((0.1, 0.1, 0.12), 48, f) for f in (1.0, 0.3, -0.6, 0.3)]
            width, velocity = 0.04 * z, (speed, 0.0)
        bob = 0.01 * z
        if calm:
            velocity, width, bob = (velocity[0], velocity[1] * 0.15), width * 0.7, bob * 0.2
        sprites.append(Sprite(frames, (xn * z, -yn * z, z), velocity, width, bob, i))
    return sprites


def assemble(sky: Layer, layers: Sequence[Layer], sprites: Sequence[Sprite]) -> Scene:
    """Sort everything far to near (painter's order is exact for planes facing the camera)."""
    items: list[Layer | Sprite] = [*layers, *sprites]
    items.sort(key=lambda item: -item.depth)
    return Scene(sky=sky, items=items)
