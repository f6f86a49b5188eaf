"""What an uploaded file is, found by decoding it (never by its name or declared type).

An upload is checked against the rules every use of it shares: an image is JPEG or PNG, at most
10 MB, each side at least 300 px (the seeds' rules for images everywhere); a video is MP4 or
MOV, at most 100 MB, with a decodable video stream and a duration. The rules of the parameter
it is then given to (an aspect ratio, a video's sides and length) are checked when a task uses
it, as for any URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kirin_api.contract.errors import InvalidMedia, PayloadTooLarge
from kirin_api.contract.media import ImageRules, MediaFacts, VideoRules, size_text
from kirin_api.media.images import check_image
from kirin_api.media.videos import check_video, sniff_container

UPLOAD_IMAGE_RULES = ImageRules(aspect_range=None)
# Sides and duration are the using parameter's to judge; these bounds only refuse nonsense.
UPLOAD_VIDEO_RULES = VideoRules(min_side=1, max_side=65536, min_duration=0.0, max_duration=86400.0)
MAX_UPLOAD_BYTES = max(UPLOAD_IMAGE_RULES.max_bytes, UPLOAD_VIDEO_RULES.max_bytes)

CONTENT_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
}
ACCEPTED_TYPES = frozenset(CONTENT_TYPES.values())
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


@dataclass(frozen=True)
class UploadFacts:
    kind: Literal["image", "video"]
    content_type: str
    facts: MediaFacts


def _sniff(head: bytes) -> str:
    if head.startswith(_PNG):
        return "PNG"
    if head.startswith(_JPEG):
        return "JPEG"
    return sniff_container(head)


def _described(what: str) -> str:
    return {"PNG": "a PNG image", "JPEG": "a JPEG image", "mp4": "an MP4 video"}.get(
        what, "a MOV video" if what == "mov" else what
    )


def check_upload(path: Path, declared: str | None, param: str = "file") -> UploadFacts:
    """Check the file at ``path``; ``declared`` is the content type the client gave (None or
    ``application/octet-stream``: none). The file must be what it is declared to be.

    Raises:
        InvalidMedia: not a JPEG/PNG image or MP4/MOV video by its content, not what was
            declared, or undecodable (400);
        PayloadTooLarge: over the size of its kind (413).
    """
    size = path.stat().st_size
    with path.open("rb") as source:
        head = source.read(64)
    what = _sniff(head)
    content_type = CONTENT_TYPES.get(what)
    if content_type is None:
        got = "an empty file" if size == 0 else _described(what)
        if what == "unknown":
            got = "neither (unrecognised content)"
        raise InvalidMedia(
            f"{param}: must be a JPEG or PNG image or an MP4 or MOV video (checked by its "
            f"content, not its name); got {got}",
            param=param,
        )
    kind: Literal["image", "video"] = "image" if content_type.startswith("image/") else "video"
    if declared and declared != "application/octet-stream":
        # A video's MP4/MOV flavour is often named after the file's extension: only the kind
        # must agree there; an image must be the format it claims.
        agrees = declared == content_type or (kind == "video" and declared.startswith("video/"))
        if not agrees:
            raise InvalidMedia(
                f"{param}: declared {declared} but the content is {_described(what)}; send the "
                "right Content-Type (or none)",
                param=param,
            )
    limit = UPLOAD_IMAGE_RULES.max_bytes if kind == "image" else UPLOAD_VIDEO_RULES.max_bytes
    if size > limit:
        raise PayloadTooLarge(
            f"{param}: {kind}s may be at most {size_text(limit)}; got {size_text(size)}",
            param=param,
        )
    if kind == "image":
        facts = check_image(path.read_bytes(), UPLOAD_IMAGE_RULES, param)
    else:
        facts = check_video(path, UPLOAD_VIDEO_RULES, param)
    return UploadFacts(kind=kind, content_type=content_type, facts=facts)
