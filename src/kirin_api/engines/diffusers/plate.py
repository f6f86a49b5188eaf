"""kirin_v1_t2v's ``camera_control`` on a generated clip: a virtual camera filming a plate.

Open video models take no camera input (the Wan family does not), so the model generates a
*plate*: the scene larger than the view, with margin for the move. The preview engine's camera
(:mod:`kirin_api.engines.preview.camera`: the same paths for ``simple`` axes and named moves, the
same pinhole projection) then films it: the plate is a plane ``PLATE_DEPTH`` in front of the base
camera, and each output frame is the plate's frame at that time seen through the pose at that
time (a homography, exact for pans, tilts, rolls and zooms; a flat plate has no parallax when
the camera travels).

The plate is sized to the move: every pose's view is projected back onto the plane and the plate
made just large enough to hold them all, up to ``max_plate`` times the view per side (its cost
grows with the square). A move that needs more films a narrower base view (zooms in) so that
it fits, and says so in the metadata: the move keeps its direction and angles, the picture is
cropped tighter; it never runs off the plate's edge.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from kirin_api.engines.base import Frame
from kirin_api.engines.preview.camera import CameraPath, CameraPose, Lens, plane_homography
from kirin_api.media.frames import clip_positions, mix

# World units from the camera to the plate. The preview's trucks move up to 1.2 units: seen on a
# plane 8 units away that is a sixth of the frame, about what the preview's nearest layer shows.
PLATE_DEPTH = 8.0
_SAMPLES = 33  # poses checked along the path when sizing the plate
_MAX_VIEW_ZOOM = 6.0


@dataclass(frozen=True)
class PlateShot:
    """How a camera path films a plate: the plate's size per side relative to the base view,
    and the zoom on the base view that makes the move fit on it."""

    path: CameraPath
    plate_scale: float
    view_zoom: float = 1.0


def _plane(width: float, height: float, lens: Lens, scale: float) -> np.ndarray:
    """Plate texture coordinates (pixels of a ``width`` x ``height`` plate) to world points on
    the plane at PLATE_DEPTH that shows ``scale`` times the base view."""
    half_x = PLATE_DEPTH * lens.width / 2.0 / lens.focal * scale
    half_y = PLATE_DEPTH * lens.height / 2.0 / lens.focal * scale
    return np.array(
        [
            [2.0 * half_x / width, 0.0, -half_x],
            [0.0, -2.0 * half_y / height, half_y],
            [0.0, 0.0, PLATE_DEPTH],
        ]
    )


def _zoomed(pose: CameraPose, zoom: float) -> CameraPose:
    return CameraPose(
        x=pose.x, y=pose.y, z=pose.z, yaw=pose.yaw, pitch=pose.pitch, roll=pose.roll,
        zoom=pose.zoom * zoom,
    )  # fmt: skip


def _reach(path: CameraPath, lens: Lens, view_zoom: float) -> float:
    """How far the views reach on a plate of the base view's size: the largest corner's
    distance from the centre in half-plate units (1.0: the base view's own edge)."""
    plane = _plane(2.0, 2.0, lens, 1.0)  # texture coordinates -1..1 across the base view
    corners = np.array(
        [[0.0, 0.0, 1.0], [lens.width, 0.0, 1.0], [0.0, lens.height, 1.0],
         [lens.width, lens.height, 1.0]]
    ).T  # fmt: skip
    reach = 0.0
    for pose in path.sample(_SAMPLES):
        homography = plane_homography(_zoomed(pose, view_zoom), lens, plane)
        back = np.linalg.solve(homography, corners)
        if np.any(back[2] <= 1e-9):
            return float("inf")  # a corner's ray misses the plane (looking past its horizon)
        texture = back[:2] / back[2] - 1.0  # -1..1 is the base view
        reach = max(reach, float(np.abs(texture).max()))
    return reach


def plan_plate(path: CameraPath, width: int, height: int, max_plate: float) -> PlateShot:
    """The smallest plate (at most ``max_plate`` per side) the move fits on."""
    lens = Lens.for_frame(width, height)
    margin = 1.02  # a hair of room so bilinear sampling never reads past the edge
    needed = _reach(path, lens, 1.0) * margin
    if needed <= max_plate:
        return PlateShot(path, max(1.0, needed))
    low, high = 1.0, _MAX_VIEW_ZOOM
    for _ in range(30):  # bisect the zoom that brings the reach down to max_plate
        mid = (low + high) / 2.0
        if _reach(path, lens, mid) * margin <= max_plate:
            high = mid
        else:
            low = mid
    return PlateShot(path, max_plate, view_zoom=high)


def film(
    plate: Sequence[Frame], shot: PlateShot, width: int, height: int, count: int
) -> Iterator[Frame]:
    """``count`` frames of ``width`` x ``height``: the plate clip (first frame at the start,
    last at the end) filmed through the path's pose at each frame's time."""
    lens = Lens.for_frame(width, height)
    plate_h, plate_w = plate[0].shape[:2]
    plane = _plane(plate_w, plate_h, lens, shot.plate_scale)
    for index, (lo, hi, weight) in enumerate(clip_positions(count, len(plate))):
        tau = index / (count - 1) if count > 1 else 0.0
        source = mix(plate[lo], plate[hi], weight)
        homography = plane_homography(_zoomed(shot.path.pose(tau), shot.view_zoom), lens, plane)
        yield np.ascontiguousarray(
            cv2.warpPerspective(
                source,
                homography,
                (width, height),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            ),
            dtype=np.uint8,
        )
