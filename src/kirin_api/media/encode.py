"""Encode RGB frames (and optional PCM audio) into H.264/AAC MP4 files with PyAV.

One pass over the frames feeds several outputs: each :class:`VideoTarget` is its own MP4 with its
own encoder, and an optional per-target ``transform`` (e.g. a :class:`~.watermark.Watermark`)
sees every frame before that target encodes it. This is how the worker writes the clean video and
the watermarked one without rendering twice.

What every output is (API.md "What the output must be"):

* H.264 (libx264), ``yuv420p``, BT.709 limited range (tagged in the stream, as players expect for
  HD), constant frame rate: time base ``1/fps`` and ``pts = frame index``;
* exactly ``total_frames`` frames, ``width`` x ``height``;
* ``movflags=+faststart``: the ``moov`` atom is moved before ``mdat`` so a browser can start
  playing before the download ends;
* with ``audio``: one AAC track (cut to the video's duration if longer).

Each file is written to a temporary name beside its final path and renamed into place only when
every output finished; on any failure or cancellation the partial files are removed.

Exceptions (everything PyAV or FFmpeg raises is translated into this tree):

* :class:`EncodeError` -- the base class: bad arguments, a frame of the wrong shape or dtype, a
  frame count other than ``total_frames``, or an FFmpeg/PyAV failure (the original exception is
  chained as ``__cause__``).
* :class:`EncodeCancelled` -- ``should_stop()`` turned true; nothing was written.

Exceptions raised by the frame iterator itself (e.g. an engine's ``RenderCancelled``) pass through
unchanged, after the partial files are removed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
import numpy.typing as npt

__all__ = [
    "AAC_BITRATE",
    "X264_CRF",
    "X264_PRESET",
    "EncodeCancelled",
    "EncodeError",
    "EncodeStats",
    "FrameTransform",
    "PcmAudio",
    "VideoTarget",
    "encode_mp4",
]

RgbFrame = npt.NDArray[np.uint8]
"""One RGB frame, shape (height, width, 3), uint8."""

FrameTransform = Callable[[RgbFrame], RgbFrame]
"""Maps a frame to the frame one output encodes; must not modify its argument in place."""

# x264 speed/quality point, chosen by measurement on the 2-core target machine (bench/): on 720p
# content ``veryfast`` encodes about as fast as ``superfast`` but gives files about half the size,
# while ``faster``/``fast`` cost 1.6-2x the time for a few percent of size. CRF 23 is x264's
# default: no visible banding on the preview engine's gradients at a reasonable bitrate.
X264_PRESET = "veryfast"
X264_CRF = 23
# AAC-LC at 128 kb/s is transparent enough for generated speech/music and small next to the video.
AAC_BITRATE = 128_000
# AAC frames hold 1024 samples; feeding exactly that much per frame avoids resampler buffering.
_AAC_FRAME_SAMPLES = 1024


class EncodeError(Exception):
    """Encoding failed: bad input or an FFmpeg/PyAV error (chained as ``__cause__``)."""


class EncodeCancelled(EncodeError):
    """``should_stop()`` returned true; the partial outputs were removed."""


@dataclass(frozen=True)
class PcmAudio:
    """Float PCM samples in [-1, 1], shape (channels, samples), channels 1 or 2."""

    samples: npt.NDArray[np.float32]
    sample_rate: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return int(self.samples.shape[1]) / self.sample_rate


@dataclass(frozen=True)
class VideoTarget:
    """One MP4 to write; ``transform`` (e.g. a watermark) is applied to each frame first."""

    path: str | os.PathLike[str]
    transform: FrameTransform | None = None


@dataclass(frozen=True)
class EncodeStats:
    """What :func:`encode_mp4` wrote."""

    frames: int
    seconds: float
    """Wall time of the whole call, including pulling (rendering) the frames."""
    paths: tuple[Path, ...] = field(default_factory=tuple)
    sizes: tuple[int, ...] = field(default_factory=tuple)
    """File size in bytes of each output, in the order of ``paths``."""


def _part_path(path: Path) -> Path:
    # Same directory so the final rename is atomic; ".part" so nobody serves a half-written file.
    return path.with_name(f".{path.name}.part")


class _Output:
    """One open MP4 container with its video (and maybe audio) stream."""

    def __init__(
        self,
        target: VideoTarget,
        *,
        width: int,
        height: int,
        fps: int,
        audio: PcmAudio | None,
        audio_limit: int,
    ) -> None:
        self.final = Path(target.path)
        self.part = _part_path(self.final)
        self.transform = target.transform
        self.container: Any = av.open(
            str(self.part), mode="w", format="mp4", options={"movflags": "+faststart"}
        )
        self.time_base = Fraction(1, fps)
        stream: Any = self.container.add_stream("libx264", rate=fps)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        stream.options = {"preset": X264_PRESET, "crf": str(X264_CRF)}
        cc = stream.codec_context
        # BT.709, limited range: what HD players assume; tag it so none has to guess.
        cc.colorspace = 1
        cc.color_primaries = 1
        cc.color_trc = 1
        cc.color_range = 1
        self.video = stream
        self.audio = audio
        self.audio_stream: Any = None
        self.audio_sent = 0  # samples already handed to the AAC encoder
        self.audio_limit = audio_limit  # samples to encode in all (cut to the video's duration)
        if audio is not None:
            channels = int(audio.samples.shape[0])
            astream: Any = self.container.add_stream("aac", rate=audio.sample_rate)
            astream.layout = "mono" if channels == 1 else "stereo"
            astream.bit_rate = AAC_BITRATE
            self.audio_stream = astream

    def encode_video(self, frame: RgbFrame, index: int) -> None:
        src = self.transform(frame) if self.transform is not None else frame
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(src), format="rgb24")
        # Convert here rather than inside the encoder so the matrix is BT.709, matching the tags.
        vf = vf.reformat(format="yuv420p", src_colorspace="ITU709", dst_colorspace="ITU709")
        vf.pts = index
        vf.time_base = self.time_base
        for packet in self.video.encode(vf):
            self.container.mux(packet)

    def encode_audio_until(self, seconds: float | None) -> None:
        """Encode audio up to ``seconds`` (None: all of it), so packets interleave with video."""
        if self.audio is None or self.audio_stream is None:
            return
        rate = self.audio.sample_rate
        end = self.audio_limit if seconds is None else min(self.audio_limit, int(seconds * rate))
        samples = self.audio.samples
        layout = "mono" if samples.shape[0] == 1 else "stereo"
        # Whole AAC frames only, except the very last one of the track.
        while self.audio_sent + _AAC_FRAME_SAMPLES <= end or (
            self.audio_sent < end and end == self.audio_limit
        ):
            stop = min(self.audio_sent + _AAC_FRAME_SAMPLES, self.audio_limit)
            chunk = np.ascontiguousarray(samples[:, self.audio_sent : stop], dtype=np.float32)
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            af.sample_rate = rate
            af.pts = self.audio_sent
            af.time_base = Fraction(1, rate)
            for packet in self.audio_stream.encode(af):
                self.container.mux(packet)
            self.audio_sent = stop

    def finish(self) -> None:
        self.encode_audio_until(None)
        for packet in self.video.encode(None):
            self.container.mux(packet)
        if self.audio_stream is not None:
            for packet in self.audio_stream.encode(None):
                self.container.mux(packet)
        self.container.close()

    def abort(self) -> None:
        # Best effort: the file is deleted next anyway.
        with suppress(Exception):
            self.container.close()
        self.part.unlink(missing_ok=True)


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Turn PyAV/FFmpeg (and disk) errors into :class:`EncodeError`."""
    try:
        yield
    except (av.error.FFmpegError, ValueError, TypeError, OSError) as exc:
        # PyAV raises FFmpegError subclasses from the C calls and ValueError/TypeError for bad
        # arguments; disk errors are OSError. All of them mean "this encode failed".
        raise EncodeError(f"encoding failed: {exc}") from exc


def _check_audio(audio: PcmAudio) -> None:
    samples = audio.samples
    if samples.ndim != 2 or samples.shape[0] not in (1, 2):
        raise EncodeError(f"audio samples must have shape (1 or 2, n), got {samples.shape}")
    if audio.sample_rate <= 0:
        raise EncodeError(f"audio sample rate must be positive, got {audio.sample_rate}")


def _check_frame(frame: Any, index: int, width: int, height: int) -> RgbFrame:
    if not isinstance(frame, np.ndarray):
        raise EncodeError(f"frame {index} is a {type(frame).__name__}, not a numpy array")
    if frame.dtype != np.uint8 or frame.shape != (height, width, 3):
        raise EncodeError(
            f"frame {index} has shape {frame.shape} and dtype {frame.dtype}; "
            f"expected ({height}, {width}, 3) uint8"
        )
    return frame


def encode_mp4(
    frames: Iterable[RgbFrame],
    outputs: Sequence[VideoTarget],
    *,
    width: int,
    height: int,
    fps: int,
    total_frames: int,
    audio: PcmAudio | None = None,
    on_frame: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EncodeStats:
    """Encode ``frames`` into every target of ``outputs`` in one pass.

    Args:
        frames: exactly ``total_frames`` RGB uint8 arrays of shape (height, width, 3); pulled
            lazily, so an engine's iterator renders while this encodes.
        outputs: one or more MP4s to write; each target's ``transform`` sees every frame.
        width, height: frame size; both must be even (yuv420p).
        fps: integer frame rate; the stream is constant-rate with time base ``1/fps``.
        total_frames: the exact number of frames expected; fewer or more is an error.
        audio: optional PCM audio, encoded as AAC into every output (cut to the video length).
        on_frame: called with the number of frames done after each frame (progress).
        should_stop: polled before each frame; when it returns true, encoding stops, the
            partial files are removed and :class:`EncodeCancelled` is raised.

    Returns:
        :class:`EncodeStats` with the frame count, the wall time and the output sizes.

    Raises:
        EncodeError: bad arguments or frames, a wrong frame count, an FFmpeg/PyAV failure.
        EncodeCancelled: ``should_stop()`` returned true.
    """
    if not outputs:
        raise EncodeError("no outputs to encode")
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise EncodeError(f"width and height must be positive and even, got {width}x{height}")
    if fps <= 0 or total_frames <= 0:
        raise EncodeError(f"fps and total_frames must be positive, got {fps} and {total_frames}")
    finals = [Path(t.path) for t in outputs]
    if len(set(finals)) != len(finals):
        raise EncodeError("two outputs have the same path")
    if audio is not None:
        _check_audio(audio)
    audio_limit = 0
    if audio is not None:
        video_samples = (total_frames * audio.sample_rate + fps - 1) // fps
        audio_limit = min(int(audio.samples.shape[1]), video_samples)

    started = time.perf_counter()
    opened: list[_Output] = []
    done = False
    try:
        with _translated_errors():
            for target in outputs:
                opened.append(
                    _Output(
                        target,
                        width=width,
                        height=height,
                        fps=fps,
                        audio=audio,
                        audio_limit=audio_limit,
                    )
                )
        count = 0
        iterator = iter(frames)
        while True:
            if should_stop is not None and should_stop():
                raise EncodeCancelled(f"cancelled after {count} of {total_frames} frames")
            # Outside the translation on purpose: the iterator's own errors pass through.
            frame = next(iterator, None)
            if frame is None:
                break
            if count >= total_frames:
                raise EncodeError(f"got more than the {total_frames} frames expected")
            checked = _check_frame(frame, count, width, height)
            with _translated_errors():
                for out in opened:
                    out.encode_video(checked, count)
                    out.encode_audio_until((count + 1) / fps)
            count += 1
            if on_frame is not None:
                on_frame(count)
        if count != total_frames:
            raise EncodeError(f"got {count} frames, expected {total_frames}")
        with _translated_errors():
            for out in opened:
                out.finish()
            sizes = []
            for out in opened:
                os.replace(out.part, out.final)
                sizes.append(out.final.stat().st_size)
        done = True
        return EncodeStats(
            frames=total_frames,
            seconds=time.perf_counter() - started,
            paths=tuple(finals),
            sizes=tuple(sizes),
        )
    finally:
        if not done:
            for out in opened:
                out.abort()
