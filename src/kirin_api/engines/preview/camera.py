"""The preview engine's virtual camera: a pinhole with a pose per frame, and the moves it makes.

Conventions (world and camera alike): x right, y up, z forward (the base camera looks down +z
from the origin). Image pixels: u right, v down, principal point at the frame's centre.

A :class:`CameraPose` is a position plus yaw (pan; positive turns right), pitch (tilt; positive
looks up), roll (positive turns the camera clockwise as seen from behind it, so the picture's
content turns counter-clockwise) and a zoom factor on the focal length (> 1 zooms in).

A :class:`CameraPath` gives the pose at normalised clip time ``tau`` in [0, 1]: a sum of eased
segments, so every frame count (a 1 s test clip or a 10 s render) follows the same motion.
``camera_control`` maps onto paths as the kirin_v1_t2v seed defines it (see :func:`path_for`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]

# What a camera_control value of 10 does by the end of the clip (values scale linearly).
# Translations are in world units; the nearest scenery layer is NEAR_DEPTH units away, so a
# horizontal move of 10 shifts it by about a fifth of the frame width.
MAX_TRUCK = 1.2  # horizontal
MAX_PEDESTAL = 0.8  # vertical
MAX_PAN_DEG = 25.0
MAX_TILT_DEG = 15.0
MAX_ROLL_DEG = 20.0
MAX_ZOOM_FACTOR = 1.8  # focal length x1.8 (zoom -10) or /1.8 (zoom +10)
# Named moves.
NAMED_DOLLY = 2.0  # forward/back distance of the named moves
NAMED_RISE = 0.6  # up/down distance of down_back / forward_up
NAMED_TILT_DEG = 3.0  # forward_up also tilts up a little ("moves forward and tilts up")
NAMED_TURN_DEG = 20.0  # right_turn_forward / left_turn_forward

SIMPLE_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
NAMED_MOVES = ("down_back", "forward_up", "right_turn_forward", "left_turn_forward")


# Fraction of a move spent speeding up (and again slowing down) at its ends.
RAMP = 0.15


def ease(x: float) -> float:
    """Trapezoidal speed on [0, 1]: starts and ends at rest, steady in between.

    A smoothstep would also start at rest, but it spends the first and last fifths of the clip
    nearly still (a tenth of the move each); the steady middle keeps every second of the shot
    moving the way the camera was asked to.
    """
    x = min(1.0, max(0.0, x))
    top = 1.0 / (1.0 - RAMP)  # the steady speed
    if x < RAMP:
        return 0.5 * top * x * x / RAMP
    if x > 1.0 - RAMP:
        return 1.0 - 0.5 * top * (1.0 - x) ** 2 / RAMP
    return top * (x - 0.5 * RAMP)


@dataclass(frozen=True)
class CameraPose:
    """Where the camera is and how it is turned; angles in radians."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    zoom: float = 1.0

    @property
    def position(self) -> Matrix:
        """The camera centre in world coordinates."""
        return np.array([self.x, self.y, self.z], dtype=np.float64)

    def rotation(self) -> Matrix:
        """Camera-to-world rotation; its columns are the camera's right, up and forward axes."""
        cy, sy = math.cos(self.yaw), math.sin(self.yaw)
        cp, sp = math.cos(self.pitch), math.sin(self.pitch)
        cr, sr = math.cos(self.roll), math.sin(self.roll)
        # Yaw about the world's up axis; positive turns the forward axis towards +x (right).
        r_yaw = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
        # Pitch about the camera's right axis; positive turns forward towards +y (up).
        r_pitch = np.array([[1.0, 0.0, 0.0], [0.0, cp, sp], [0.0, -sp, cp]])
        # Roll about forward; positive turns "right" towards -y: clockwise seen from behind.
        r_roll = np.array([[cr, sr, 0.0], [-sr, cr, 0.0], [0.0, 0.0, 1.0]])
        rotation: Matrix = r_yaw @ r_pitch @ r_roll
        return rotation


@dataclass(frozen=True)
class Segment:
    """A change of pose eased in over ``[start, end]`` of the clip's normalised time."""

    start: float
    end: float
    delta: CameraPose  # the pose fields added in full by ``end`` (zoom is a factor)


@dataclass(frozen=True)
class CameraPath:
    """Pose as a function of normalised time: ``base`` plus eased segments."""

    segments: tuple[Segment, ...] = ()
    base: CameraPose = field(default_factory=CameraPose)
    label: str = "static"

    def pose(self, tau: float) -> CameraPose:
        """The pose at normalised time ``tau`` in [0, 1]."""
        x, y, z = self.base.x, self.base.y, self.base.z
        yaw, pitch, roll, zoom = self.base.yaw, self.base.pitch, self.base.roll, self.base.zoom
        for seg in self.segments:
            span = max(seg.end - seg.start, 1e-9)
            w = ease((tau - seg.start) / span)
            d = seg.delta
            x, y, z = x + w * d.x, y + w * d.y, z + w * d.z
            yaw, pitch, roll = yaw + w * d.yaw, pitch + w * d.pitch, roll + w * d.roll
            zoom *= d.zoom**w
        return CameraPose(x=x, y=y, z=z, yaw=yaw, pitch=pitch, roll=roll, zoom=zoom)

    def sample(self, count: int = 33) -> list[CameraPose]:
        """Poses at ``count`` evenly spaced times (for sizing the scenery to the motion)."""
        return [self.pose(i / (count - 1)) for i in range(count)]


def _simple(axis: str, value: float) -> CameraPath:
    k = max(-10.0, min(10.0, value)) / 10.0
    rad = math.radians
    deltas = {
        # Positive moves the camera right / up, as the seed says.
        "horizontal": CameraPose(x=k * MAX_TRUCK),
        "vertical": CameraPose(y=k * MAX_PEDESTAL),
        # Positive pans right, tilts up, rolls clockwise.
        "pan": CameraPose(yaw=k * rad(MAX_PAN_DEG)),
        "tilt": CameraPose(pitch=k * rad(MAX_TILT_DEG)),
        "roll": CameraPose(roll=k * rad(MAX_ROLL_DEG)),
        # Negative zooms in (longer focal length, smaller field of view).
        "zoom": CameraPose(zoom=MAX_ZOOM_FACTOR ** (-k)),
    }
    return CameraPath((Segment(0.0, 1.0, deltas[axis]),), label=f"simple:{axis}={value:g}")


def _turn_forward(direction: float, label: str) -> CameraPath:
    yaw = direction * math.radians(NAMED_TURN_DEG)
    # First turn (first half), then move forward along the new heading (second half).
    forward = CameraPose(x=NAMED_DOLLY * math.sin(yaw), z=NAMED_DOLLY * math.cos(yaw))
    return CameraPath(
        (Segment(0.0, 0.5, CameraPose(yaw=yaw)), Segment(0.5, 1.0, forward)), label=label
    )


def named_path(move: str) -> CameraPath:
    """One of the seed's named moves."""
    if move == "down_back":
        return CameraPath(
            (Segment(0.0, 1.0, CameraPose(y=-NAMED_RISE, z=-NAMED_DOLLY)),), label=move
        )
    if move == "forward_up":
        delta = CameraPose(y=NAMED_RISE, z=NAMED_DOLLY, pitch=math.radians(NAMED_TILT_DEG))
        return CameraPath((Segment(0.0, 1.0, delta),), label=move)
    if move == "right_turn_forward":
        return _turn_forward(1.0, move)
    if move == "left_turn_forward":
        return _turn_forward(-1.0, move)
    raise ValueError(f"unknown camera move {move!r}")


def default_path(choice: int) -> CameraPath:
    """A gentle move for clips without camera_control, picked by the prompt (``choice``)."""
    gentle = [
        ("dolly in", CameraPose(z=0.6)),
        ("truck right", CameraPose(x=0.35)),
        ("truck left", CameraPose(x=-0.35)),
        ("pan right", CameraPose(yaw=math.radians(5.0))),
        ("pan left", CameraPose(yaw=math.radians(-5.0))),
        ("crane up", CameraPose(y=0.25, pitch=math.radians(-1.5))),
        ("slow zoom", CameraPose(zoom=1.12)),
    ]
    label, delta = gentle[choice % len(gentle)]
    return CameraPath((Segment(0.0, 1.0, delta),), label=f"default:{label}")


# Camera words in a prompt, checked in this order (two-word phrases before their parts).
PROMPT_MOVES: tuple[tuple[str, CameraPose], ...] = (
    ("static", CameraPose()),
    ("still camera", CameraPose()),
    ("locked off", CameraPose()),
    ("pan left", CameraPose(yaw=-math.radians(12.0))),
    ("pan right", CameraPose(yaw=math.radians(12.0))),
    ("tilt up", CameraPose(pitch=math.radians(8.0))),
    ("tilt down", CameraPose(pitch=-math.radians(8.0))),
    ("zoom in", CameraPose(zoom=1.5)),
    ("zoom out", CameraPose(zoom=1.0 / 1.5)),
    ("dolly in", CameraPose(z=1.5)),
    ("push in", CameraPose(z=1.5)),
    ("dolly out", CameraPose(z=-1.5)),
    ("pull back", CameraPose(z=-1.5)),
    ("tracking shot", CameraPose(x=0.8)),
    ("tracking", CameraPose(x=0.8)),
    ("truck left", CameraPose(x=-0.8)),
    ("truck right", CameraPose(x=0.8)),
    ("aerial", CameraPose(y=0.6, z=1.5, pitch=-math.radians(4.0))),
    ("drone", CameraPose(y=0.6, z=1.5, pitch=-math.radians(4.0))),
    ("crane up", CameraPose(y=0.6)),
    ("crane down", CameraPose(y=-0.6)),
)


def prompt_path(prompt: str) -> CameraPath | None:
    """The move a prompt's own camera words ask for (``pan left``, ``aerial``...), if any."""
    text = " ".join(prompt.lower().replace("-", " ").split())
    padded = f" {text} "
    for phrase, delta in PROMPT_MOVES:
        if f" {phrase} " in padded or f" {phrase}," in padded or f" {phrase}." in padded:
            if delta == CameraPose():
                return CameraPath(label=f"prompt:{phrase}")
            return CameraPath((Segment(0.0, 1.0, delta),), label=f"prompt:{phrase}")
    return None


def path_for(
    camera_control: Mapping[str, Any] | None, default_choice: int, prompt: str = ""
) -> CameraPath:
    """The path for a request's ``camera_control`` (None: the prompt's camera words, if any,
    else a gentle default picked by the prompt's hash).

    ``simple`` uses the one non-zero field of ``config`` (the contract checked there is exactly
    one); an all-zero or missing config leaves the camera still.
    """
    if not camera_control:
        return prompt_path(prompt) or default_path(default_choice)
    kind = camera_control.get("type")
    if kind == "simple":
        config = camera_control.get("config") or {}
        for axis in SIMPLE_AXES:
            value = float(config.get(axis) or 0.0)
            if value != 0.0:
                return _simple(axis, value)
        return CameraPath(label="simple:none")
    if kind in NAMED_MOVES:
        return named_path(str(kind))
    raise ValueError(f"unknown camera_control type {kind!r}")


# --- projection ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Lens:
    """The output frame and the base focal length, in pixels."""

    width: int
    height: int
    focal: float

    @classmethod
    def for_frame(cls, width: int, height: int, fov_deg: float = 60.0) -> Lens:
        """A lens whose field of view across the frame's longer side is ``fov_deg``."""
        focal = max(width, height) / 2.0 / math.tan(math.radians(fov_deg) / 2.0)
        return cls(width=width, height=height, focal=focal)

    def intrinsics(self, zoom: float) -> Matrix:
        """World-camera coordinates (y up) to pixels (v down)."""
        f = self.focal * zoom
        return np.array([[f, 0.0, self.width / 2.0], [0.0, -f, self.height / 2.0], [0.0, 0.0, 1.0]])


def plane_homography(pose: CameraPose, lens: Lens, plane: Matrix) -> Matrix:
    """Homography from a plane's texture coordinates to image pixels.

    ``plane`` (3x3) maps texture coordinates ``(s, t, 1)`` to world points ``X = plane @ q``
    (the last coordinate of ``q`` being 1); then ``x_cam = R^T (X - C)`` and ``K`` projects.
    """
    shifted = plane - np.outer(pose.position, np.array([0.0, 0.0, 1.0]))
    return lens.intrinsics(pose.zoom) @ pose.rotation().T @ shifted
