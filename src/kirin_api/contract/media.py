"""Media in requests: where each image or video sits, the rules it must meet, what decoding found.

The contract is pure, so it only *describes* media: :func:`kirin_api.contract.registry.media_refs`
lists every image and video of a validated request with its rules; ``kirin_api.media`` decodes
and checks them (at submit for base64, in the worker for URLs) and returns :class:`MediaFacts`;
rules that relate several media (masks against their image, trajectories inside the image) are
pure functions of those facts, back in the contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

MB = 1024 * 1024


def size_text(n: int) -> str:
    """A byte count as error messages say it: ``10 MB``, ``1.5 MB``, ``300 bytes``."""
    return f"{n / MB:g} MB" if n >= MB else f"{n} bytes"


@dataclass(frozen=True)
class ImageRules:
    """What an image must be. ``aspect_range`` bounds width/height, both ends included."""

    max_bytes: int = 10 * MB
    min_side: int = 300
    max_side: int | None = None
    aspect_range: tuple[float, float] | None = (1 / 2.5, 2.5)
    formats: frozenset[str] = field(default_factory=lambda: frozenset({"JPEG", "PNG"}))


@dataclass(frozen=True)
class VideoRules:
    """What a video must be; ``containers`` are checked by content, not by name."""

    max_bytes: int = 100 * MB
    containers: frozenset[str] = field(default_factory=lambda: frozenset({"mp4", "mov"}))
    min_side: int = 340
    max_side: int = 3850
    min_duration: float = 3.0
    max_duration: float = 30.0


@dataclass(frozen=True)
class MediaRef:
    """One image or video of a request: ``param`` is its dotted path (``image_list.2.image``)."""

    param: str
    kind: Literal["image", "video"]
    value: str  # an http(s) URL, or raw base64 (images only)
    rules: ImageRules | VideoRules

    @property
    def is_url(self) -> bool:
        return self.value.startswith(("http://", "https://"))


@dataclass(frozen=True)
class MediaFacts:
    """What decoding a medium found."""

    width: int
    height: int
    format: str  # "JPEG", "PNG", "mp4", "mov"
    size_bytes: int
    duration: float | None = None  # videos
    frames: int | None = None  # videos
    fps: float | None = None  # videos
    has_audio: bool = False  # videos

    @property
    def aspect(self) -> float:
        return self.width / self.height
