"""Videos in requests: MP4/MOV by content, with sides, duration and size checked cheaply.

:func:`check_video` refuses with :class:`~kirin_api.contract.errors.InvalidMedia` (message
starting with the ``param``, saying what is allowed); the worker maps it to the model's ``...099``
task code.

How, in order, so that hostile files are refused before they cost much:

1. the file size against ``rules.max_bytes`` (``stat``, nothing read);
2. the container by its first box, read by hand: an ISO-BMFF ``ftyp`` box whose major brand says
   MP4 (``isom``, ``mp41``, ``mp42``, ``avc1`` ...) or MOV (``qt  ``), or a QuickTime file that
   starts with ``moov``/``mdat``/``wide``/``free`` without one. HEIF/AVIF images (also ``ftyp``
   files), 3GP, audio-only M4A and anything else (PNG, JPEG, Matroska, ...) are refused here;
3. only then FFmpeg, and only its ``mov`` demuxer (``format="mov"``): probing user data with
   every demuxer FFmpeg has would let an HLS playlist or a concat script named ``.mp4`` make
   FFmpeg open other files or URLs. ``probesize``/``analyzeduration`` are bounded and external
   data references (``enable_drefs``) stay off;
4. facts from the container and stream headers — sides, duration, frame count, fps, audio —
   checked against the rules, with no decoding (the sides are checked even before FFmpeg opens
   the file, from the sample descriptions: :mod:`.mp4_header`, since FFmpeg's stream probing
   itself decodes frames);
5. a truncation check from the sample index (the last samples must lie inside the file), and
   only then decoding of at most :data:`DECODE_FRAMES` frames to prove the stream decodes (and
   read its display rotation).

Sizes are *displayed* sizes: a phone video stored 1920x1080 with a 90° rotation in its display
matrix is reported as 1080x1920, the way players (and our engines) show it.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import av
import av.error

from kirin_api.contract.errors import InvalidMedia
from kirin_api.contract.media import MediaFacts, VideoRules, size_text
from kirin_api.media.mp4_header import video_track_sizes

__all__ = ["DECODE_FRAMES", "check_video", "has_audio", "sniff_container"]

DECODE_FRAMES = 2
"""Frames decoded to prove the stream decodes."""

_PROBE_OPTIONS = {
    "probesize": str(5 * 1024 * 1024),  # bytes FFmpeg may read to find the streams
    "analyzeduration": str(5_000_000),  # microseconds of media it may look at
    "enable_drefs": "0",  # never follow data references to other files (the default; stated)
}
_MAX_PACKETS = 256  # packets demuxed while looking for DECODE_FRAMES frames
_TAIL_SAMPLES = 16  # index entries checked against the file size
_AV_ERRORS: tuple[type[BaseException], ...] = (
    av.error.FFmpegError,
    OSError,
    ValueError,
    EOFError,
    IndexError,
    RuntimeError,
)

_QUICKTIME_FIRST_BOXES = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_IMAGE_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"mif2", b"msf1"}
    | {b"avif", b"avis", b"avio", b"crx "}
)
_MP4_BRANDS = frozenset({b"isom", b"mp41", b"mp42", b"avc1", b"dash", b"iso2", b"iso4", b"iso5"})

# Only to name what we refuse ("got a PNG image"); acceptance is the ftyp logic above.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image"),
    (b"\xff\xd8\xff", 0, "a JPEG image"),
    (b"GIF8", 0, "a GIF image"),
    (b"WEBP", 8, "a WebP file"),
    (b"AVI ", 8, "an AVI video"),
    (b"WAVE", 8, "a WAV file"),
    (b"\x1a\x45\xdf\xa3", 0, "a Matroska/WebM video"),
    (b"FLV", 0, "an FLV video"),
    (b"OggS", 0, "an Ogg file"),
    (b"ID3", 0, "an MP3 file"),
    (b"#EXTM3U", 0, "an HLS playlist"),
    (b"%PDF", 0, "a PDF document"),
)


def _containers_text(containers: frozenset[str]) -> str:
    return " or ".join(c.upper() for c in sorted(containers))


def sniff_container(head: bytes) -> str:
    """Name the container that the first bytes of a file show.

    Returns ``"mp4"`` or ``"mov"`` for the ISO-BMFF/QuickTime family, ``"3gp"``, ``"3g2"``,
    ``"m4a"``, ``"mj2"`` for its other members, ``"image"`` for HEIF/AVIF/raw stills in an
    ``ftyp`` box, and otherwise a short description (``"a PNG image"``, ``"unknown"``).
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        major = head[8:12]
        (box_size,) = struct.unpack(">I", head[:4])
        compatible = [head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)]
        if major == b"qt  ":
            return "mov"
        if major in _IMAGE_BRANDS:
            return "image"
        if major.startswith(b"3gp"):
            return "3gp"
        if major.startswith(b"3g2"):
            return "3g2"
        if major in (b"M4A ", b"M4B ", b"M4P "):
            return "m4a"
        if major in (b"mjp2", b"mj2s"):
            return "mj2"
        if major not in _MP4_BRANDS and b"qt  " in compatible and b"isom" not in compatible:
            return "mov"
        return "mp4"  # isom, mp41, mp42, M4V, f4v, XAVC, ...: the MP4 family
    if len(head) >= 8 and head[4:8] in _QUICKTIME_FIRST_BOXES:
        return "mov"  # classic QuickTime files have no ftyp box
    for magic, offset, name in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return name
    return "unknown"


def _why(exc: BaseException) -> str:
    """FFmpeg's words for an error, without the server-side file name that str(exc) carries."""
    return str(getattr(exc, "strerror", None) or type(exc).__name__)


def _refuse(param: str, text: str) -> InvalidMedia:
    return InvalidMedia(f"{param}: {text}", param=param)


def check_video(path: Path, rules: VideoRules, param: str) -> MediaFacts:
    """Check the video file at ``path`` against ``rules`` and return what it is.

    Raises:
        InvalidMedia: too large, not MP4/MOV by content, an image in disguise, no video stream,
            sides or duration out of range, truncated or undecodable; ``param`` is set.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise _refuse(param, f"cannot read the video ({exc.strerror})") from exc
    if size > rules.max_bytes:
        raise _refuse(param, f"video is larger than {size_text(rules.max_bytes)}")
    if size == 0:
        raise _refuse(param, "video is empty")
    allowed = _containers_text(rules.containers)
    kind = sniff_container(head)
    if kind == "image":
        raise _refuse(param, f"must be an {allowed} video; got a HEIF/AVIF image")
    if kind not in rules.containers:
        got = kind.upper() if kind in ("mp4", "mov", "3gp", "3g2", "m4a", "mj2") else kind
        raise _refuse(param, f"must be an {allowed} video (checked by content); got {got}")
    _check_declared_sides(path, size, rules, param)
    try:
        container: Any = av.open(str(path), mode="r", format="mov", options=_PROBE_OPTIONS)
    except _AV_ERRORS as exc:
        raise _refuse(param, f"video cannot be read as {allowed} ({_why(exc)})") from exc
    try:
        return _check_open(container, path, size, kind, rules, param)
    except _AV_ERRORS as exc:
        raise _refuse(param, f"video is corrupt or truncated ({_why(exc)})") from exc
    finally:
        container.close()


def _check_declared_sides(path: Path, size: int, rules: VideoRules, param: str) -> None:
    """The sides the sample descriptions state, checked before FFmpeg decodes anything (a side
    limit does not depend on the display rotation)."""
    try:
        with path.open("rb") as f:
            declared = video_track_sizes(f, size)
    except (OSError, struct.error) as exc:
        raise _refuse(param, "video cannot be read (its boxes are broken)") from exc
    for width, height in declared:
        if (
            width
            and height
            and (max(width, height) > rules.max_side or min(width, height) < rules.min_side)
        ):
            raise _refuse(
                param,
                f"each side must be between {rules.min_side} and {rules.max_side} px; "
                f"got {width}x{height}",
            )


def _check_open(
    container: Any, path: Path, size: int, kind: str, rules: VideoRules, param: str
) -> MediaFacts:
    if not container.streams.video:
        raise _refuse(param, "video has no video stream")
    stream = container.streams.video[0]
    codec = stream.codec_context
    if codec is None:  # FFmpeg knows no decoder for this stream's codec
        raise _refuse(param, "video codec is not supported")
    width, height = int(codec.width or 0), int(codec.height or 0)
    if width <= 0 or height <= 0:
        raise _refuse(param, "video has no readable dimensions")

    rate = stream.average_rate or stream.guessed_rate
    fps = float(rate) if rate else 0.0
    duration: float | None = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000  # AV_TIME_BASE
    frames = int(stream.frames or 0)
    if frames == 0 and duration and fps:
        frames = round(duration * fps)
    if frames == 1:
        raise _refuse(param, "video has a single frame; a still image is not a video")
    if duration is None or duration <= 0:
        raise _refuse(param, "video has no readable duration")

    # Both bounds, with the numbers the user needs to fix it; before any frame is decoded
    # (a side limit does not depend on the rotation).
    if min(width, height) < rules.min_side or max(width, height) > rules.max_side:
        raise _refuse(
            param,
            f"each side must be between {rules.min_side} and {rules.max_side} px; "
            f"got {width}x{height}",
        )
    shown = round(duration, 3)
    if shown < rules.min_duration:
        raise _refuse(param, f"video must last at least {rules.min_duration:g} s; got {shown:g} s")
    if shown > rules.max_duration:
        raise _refuse(param, f"video must last at most {rules.max_duration:g} s; got {shown:g} s")
    _check_not_truncated(stream, size, param)
    # Only now a frame is decoded: every limit that headers can prove has held.
    rotation = _first_frames_rotation(container, stream, param)
    if rotation % 180 == 90:
        width, height = height, width
    return MediaFacts(
        width=width,
        height=height,
        format=kind,
        size_bytes=size,
        duration=duration,
        frames=frames or None,
        fps=fps or None,
        has_audio=bool(container.streams.audio),
    )


def _first_frames_rotation(container: Any, stream: Any, param: str) -> int:
    """Decode up to DECODE_FRAMES frames; return the display rotation in degrees."""
    decoded: list[Any] = []
    for count, packet in enumerate(container.demux(stream)):
        if count >= _MAX_PACKETS:
            break
        decoded.extend(packet.decode())
        if len(decoded) >= DECODE_FRAMES or (packet.size == 0 and decoded):
            break
    if not decoded:
        raise _refuse(param, "video stream cannot be decoded")
    return round(float(getattr(decoded[0], "rotation", 0) or 0))


def _check_not_truncated(stream: Any, size: int, param: str) -> None:
    """The last samples of the index must lie inside the file (a cut download fails here)."""
    entries = stream.index_entries
    count = len(entries)
    for i in range(max(0, count - _TAIL_SAMPLES), count):
        entry = entries[i]
        if entry.pos >= 0 and entry.pos + entry.size > size:
            raise _refuse(
                param, f"video is truncated (its index points past the end of the {size}-byte file)"
            )


def has_audio(path: Path) -> bool:
    """Whether the MP4/MOV file at ``path`` has an audio stream (False if it cannot be read)."""
    try:
        with path.open("rb") as f:
            if sniff_container(f.read(64)) not in ("mp4", "mov"):
                return False
        with av.open(str(path), mode="r", format="mov", options=_PROBE_OPTIONS) as container:
            return bool(container.streams.audio)
    except _AV_ERRORS:
        return False
