"""Look inside an MP4 (or any container FFmpeg reads): stream facts and decoded RGB frames.

Used by the tests and by the worker to check what it wrote. Every PyAV/FFmpeg error (and a file
that cannot be opened) is raised as :class:`ProbeError`, with the original chained.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import av
import av.error
import numpy as np
import numpy.typing as npt

__all__ = ["ProbeError", "VideoInfo", "probe_video", "read_frames", "top_level_atoms"]


class ProbeError(Exception):
    """The file could not be read as a video (the FFmpeg/PyAV error is chained)."""


@dataclass(frozen=True)
class VideoInfo:
    """Facts about a video file's first video stream (and first audio stream, if any)."""

    width: int
    height: int
    fps: float
    """Average frame rate."""
    frames: int
    duration: float
    """Video stream duration in seconds."""
    codec: str
    """E.g. ``"h264"``."""
    pix_fmt: str
    """E.g. ``"yuv420p"``."""
    has_audio: bool
    audio_codec: str | None
    audio_duration: float | None
    faststart: bool
    """The ``moov`` atom comes before ``mdat`` (only meaningful for MP4/MOV)."""


@contextmanager
def _translated_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    try:
        yield
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise ProbeError(f"cannot read {os.fspath(path)!r}: {exc}") from exc


def top_level_atoms(path: str | os.PathLike[str]) -> list[str]:
    """The types of an MP4's top-level boxes in file order (e.g. ``["ftyp", "moov", "mdat"]``)."""
    atoms: list[str] = []
    with _translated_errors(path), open(path, "rb") as f:
        size_total = os.fstat(f.fileno()).st_size
        offset = 0
        while offset + 8 <= size_total:
            f.seek(offset)
            size, kind = struct.unpack(">I4s", f.read(8))
            if size == 1:  # 64-bit size follows the type
                (size,) = struct.unpack(">Q", f.read(8))
            elif size == 0:  # box runs to the end of the file
                size = size_total - offset
            if size < 8:
                break  # corrupt; stop rather than loop forever
            atoms.append(kind.decode("latin-1"))
            offset += size
    return atoms


def _seconds(value: Any, time_base: Any) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read the stream facts of ``path``; counts frames by demuxing if the header lacks them."""
    with _translated_errors(path), av.open(os.fspath(path)) as container:
        if not container.streams.video:
            raise ProbeError(f"{os.fspath(path)!r} has no video stream")
        video: Any = container.streams.video[0]
        audio: Any = container.streams.audio[0] if container.streams.audio else None
        cc = video.codec_context
        frames = int(video.frames or 0)
        duration = _seconds(video.duration, video.time_base)
        if frames == 0:  # not in the header (e.g. some MKV/WebM): count the packets
            frames = sum(1 for p in container.demux(video) if p.size)
        rate = video.average_rate or video.guessed_rate or 0
        fps = float(rate)
        if duration is None:
            duration = frames / fps if fps else 0.0
        info = VideoInfo(
            width=int(cc.width),
            height=int(cc.height),
            fps=fps,
            frames=frames,
            duration=duration,
            codec=str(cc.name),
            pix_fmt=str(cc.pix_fmt),
            has_audio=audio is not None,
            audio_codec=str(audio.codec_context.name) if audio is not None else None,
            audio_duration=(
                _seconds(audio.duration, audio.time_base) if audio is not None else None
            ),
            faststart=False,
        )
    atoms = top_level_atoms(path)
    faststart = "moov" in atoms and "mdat" in atoms and atoms.index("moov") < atoms.index("mdat")
    return VideoInfo(**{**info.__dict__, "faststart": faststart})


def read_frames(
    path: str | os.PathLike[str], indices: Iterable[int] | None = None
) -> list[npt.NDArray[np.uint8]]:
    """Decode frames of the first video stream as RGB (H, W, 3) uint8 arrays.

    Args:
        indices: frame numbers to return, in the order given (repeats allowed); None for all.
    """
    wanted = None if indices is None else list(indices)
    keep = None if wanted is None else set(wanted)
    found: dict[int, npt.NDArray[np.uint8]] = {}
    frames: list[npt.NDArray[np.uint8]] = []
    with _translated_errors(path), av.open(os.fspath(path)) as container:
        last = max(keep) if keep else -1
        for i, frame in enumerate(container.decode(video=0)):
            if keep is None:
                frames.append(np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8))
                continue
            if i in keep:
                found[i] = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
            if i >= last:
                break
    if wanted is None:
        return frames
    missing = sorted(set(wanted) - found.keys())
    if missing:
        raise ProbeError(f"{os.fspath(path)!r} has no frames {missing[:5]}")
    return [found[i] for i in wanted]
