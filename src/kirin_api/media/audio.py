"""Audio for videos: the reference video's own track, and generated sound.

* :func:`read_audio` decodes a video's first audio track to float PCM (what
  ``keep_original_sound: yes`` carries over), resampled to one rate and stereo, bounded in length.
* :func:`tone_bed` makes procedural sound: a soft chord whose notes come from a seed and change at
  given cut times, so sound follows the prompt and the shots.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

import av
import av.error
import numpy as np

from kirin_api.contract.errors import InvalidMedia
from kirin_api.media.encode import PcmAudio

SAMPLE_RATE = 48_000
# Semitone steps of a pentatonic scale: any mix of its notes sounds consonant.
_PENTATONIC = (0, 2, 4, 7, 9)


class AudioError(Exception):
    """The audio of a file could not be read (the original error is chained)."""


def read_audio(path: str | os.PathLike[str], *, max_seconds: float) -> PcmAudio | None:
    """The first audio track as stereo float PCM at :data:`SAMPLE_RATE`; None if there is none.

    Decoding stops at ``max_seconds``, so a hostile file cannot make us hold hours of samples.
    """
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
    limit = int(max_seconds * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(os.fspath(path)) as container:
            if not container.streams.audio:
                return None
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().astype(np.float32)
                    chunks.append(chunk)
                    total += chunk.shape[1]
                if total >= limit:
                    break
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        # No path in the message: it may reach a user, and the path is our scratch directory.
        raise AudioError(f"cannot decode the audio track ({type(exc).__name__})") from exc
    if not chunks:
        return None
    samples = np.concatenate(chunks, axis=1)[:, :limit]
    return PcmAudio(np.ascontiguousarray(samples, dtype=np.float32), SAMPLE_RATE)


def check_audio(path: str | os.PathLike[str], param: str, *, max_seconds: float) -> None:
    """Refuse a video whose audio track (if any) does not decode, before anything renders.

    Raises:
        InvalidMedia: naming ``param``, saying what to do.
    """
    try:
        read_audio(path, max_seconds=max_seconds)
    except AudioError as exc:
        raise InvalidMedia(
            f"{param}: {exc}; send a video whose sound plays, or keep_original_sound: no",
            param=param,
        ) from exc


def tone_bed(seconds: float, seeds: Sequence[int], cuts: Sequence[float] = ()) -> PcmAudio:
    """``seconds`` of a soft stereo chord; segment ``i`` (between ``cuts``) uses ``seeds[i]``.

    Each segment's three notes and slow tremolo come from its seed, so different prompts sound
    different and a shot change is heard. Segments fade in and out over 20 ms: no clicks at cuts.
    """
    if not seeds:
        raise ValueError("tone_bed needs at least one seed")
    total = round(seconds * SAMPLE_RATE)
    bounds = [0, *(round(c * SAMPLE_RATE) for c in cuts), total]
    out = np.zeros((2, total), np.float32)
    fade = int(0.02 * SAMPLE_RATE)
    for index, (start, end) in enumerate(itertools.pairwise(bounds)):
        if end <= start:
            continue
        rng = np.random.default_rng(seeds[min(index, len(seeds) - 1)])
        t = np.arange(end - start, dtype=np.float64) / SAMPLE_RATE
        root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
        notes = rng.choice(_PENTATONIC, size=3, replace=False) + 12 * rng.integers(0, 2, size=3)
        wave = sum(np.sin(2 * np.pi * root * 2 ** (n / 12) * t) for n in notes) / 3
        tremolo = 0.75 + 0.25 * np.sin(2 * np.pi * rng.uniform(0.2, 1.5) * t)
        segment = (0.25 * wave * tremolo).astype(np.float32)
        ramp = min(fade, segment.size // 2)
        if ramp:
            envelope = np.linspace(0.0, 1.0, ramp, dtype=np.float32)
            segment[:ramp] *= envelope
            segment[-ramp:] *= envelope[::-1]
        pan = rng.uniform(0.3, 0.7)
        out[0, start:end] = segment * (1 - pan) * 2
        out[1, start:end] = segment * pan * 2
    return PcmAudio(np.clip(out, -1.0, 1.0), SAMPLE_RATE)
