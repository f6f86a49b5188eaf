"""The worker's checks and helpers around a render's result: the video must be what the
contract promises; an engine's finished MP4 is taken as the result; a subject's frontal image is
the sharpest frame of its video."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from kirin_api.contract.errors import TaskErrorKind, TaskFailure
from kirin_api.contract.job import OutputSpec
from kirin_api.contract.media import MediaFacts
from kirin_api.engines.base import Frame, RenderOutput
from kirin_api.media.encode import EncodeCancelled, EncodeError, PcmAudio, VideoTarget, encode_mp4
from kirin_api.media.probe import ProbeError, probe_video, read_frames
from kirin_api.media.watermark import make_watermark

__all__ = ["encode_output", "extension", "sharpest_frame", "take_delivered", "verify_result"]


def encode_output(
    output: RenderOutput,
    spec: OutputSpec,
    clean_path: Path,
    marked_path: Path | None,
    *,
    on_progress: Callable[[float], None],
    should_stop: Callable[[], bool],
) -> None:
    """Encode the engine's frames into the clean video and, if asked, the marked one; stops
    (:class:`EncodeCancelled`) within a frame of ``should_stop`` turning true."""
    targets = [VideoTarget(clean_path)]
    if marked_path is not None:
        targets.append(VideoTarget(marked_path, transform=make_watermark(spec.width, spec.height)))
    audio = None
    if output.audio is not None:
        audio = PcmAudio(output.audio.samples, output.audio.sample_rate)
    try:
        encode_mp4(
            output.frames,
            targets,
            width=spec.width,
            height=spec.height,
            fps=spec.fps,
            total_frames=spec.frames,
            audio=audio,
            on_frame=lambda done: on_progress(done / spec.frames),
            should_stop=should_stop,
        )
    except EncodeCancelled:
        raise
    except EncodeError as exc:
        raise TaskFailure(TaskErrorKind.INTERNAL, f"encoding failed: {exc}") from exc


def verify_result(path: Path, spec: OutputSpec) -> None:
    """The engine's video must be what the contract promises, or the task fails (096)."""
    try:
        info = probe_video(path)
    except ProbeError as exc:
        raise TaskFailure(TaskErrorKind.RESULT_PARSING, f"unreadable result: {exc}") from exc
    expected = (spec.width, spec.height, spec.fps, spec.frames, spec.audio)
    actual = (info.width, info.height, round(info.fps), info.frames, info.has_audio)
    if actual != expected:
        raise TaskFailure(
            TaskErrorKind.RESULT_PARSING,
            f"result is {actual} (width, height, fps, frames, audio), expected {expected}",
        )


def take_delivered(output: RenderOutput, clean_path: Path, marked_path: Path | None) -> None:
    """An engine's finished MP4 (and its marked version) as the task's result files."""
    assert output.video_path is not None
    shutil.move(output.video_path, clean_path)
    if marked_path is not None:
        if output.watermarked_path is None:
            raise TaskFailure(TaskErrorKind.RESULT_PARSING, "the engine made no watermarked video")
        shutil.move(output.watermarked_path, marked_path)


def extension(facts: MediaFacts) -> str:
    return ".png" if facts.format == "PNG" else ".jpg"


def sharpest_frame(path: Path, samples: int = 8) -> Frame:
    """The frame of a video to show a subject by: the sharpest of a few spread over it (the
    variance of the Laplacian is high where edges are crisp, low in motion blur)."""
    info = probe_video(path)
    indices = sorted({round(i * (info.frames - 1) / max(samples - 1, 1)) for i in range(samples)})
    frames = read_frames(path, indices)
    scores = [cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() for f in frames]
    return frames[int(np.argmax(scores))]
