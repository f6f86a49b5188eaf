"""Real media made in memory for tests: images with a pattern, MP4/MOV with or without sound."""

from __future__ import annotations

import base64
import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def pattern(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A picture with structure everywhere (gradients and blocks), so motion can be measured."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack(
        [
            (x * 255 // max(width - 1, 1)),
            (y * 255 // max(height - 1, 1)),
            ((x // 40 + y // 40) % 2) * 200 + rng.integers(0, 55),
        ],
        axis=-1,
    )
    return image.astype(np.uint8)


def image_bytes(width: int, height: int, fmt: str = "PNG", seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pattern(width, height, seed)).save(buffer, format=fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def mask_bytes(width: int, height: int, box: tuple[int, int, int, int]) -> bytes:
    """A mask: white (painted) inside ``box`` = (left, top, right, bottom), black elsewhere."""
    mask = np.zeros((height, width), np.uint8)
    left, top, right, bottom = box
    mask[top:bottom, left:right] = 255
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG")
    return buffer.getvalue()


def video_file(
    path: Path,
    *,
    width: int = 480,
    height: int = 360,
    seconds: float = 3.0,
    fps: int = 30,
    audio: bool = True,
    container: str = "mp4",
) -> Path:
    """A video whose picture pans right, with a tone when ``audio``."""
    frames = round(seconds * fps)
    base = pattern(width * 2, height)
    with av.open(str(path), "w", format=container) as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = out.add_stream("aac", rate=48_000) if audio else None
        for i in range(frames):
            shift = i * width // frames
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(base[:, shift : shift + width]), format="rgb24"
            )
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            samples_per_frame = 1024
            total = int(seconds * 48_000)
            t = np.arange(total) / 48_000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, total, samples_per_frame):
                chunk = tone[start : start + samples_per_frame]
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                frame.sample_rate = 48_000
                frame.pts = start
                frame.time_base = Fraction(1, 48_000)
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return path


def broken_audio_video(path: Path, width: int = 64, height: int = 48, seconds: float = 1.0) -> Path:
    """A video whose AAC track has a broken decoder configuration: the picture is fine."""
    video_file(path, width=width, height=height, seconds=seconds)
    data = bytearray(path.read_bytes())
    esds = data.index(b"esds")
    config = data.index(b"\x05\x80\x80\x80", esds) + 5  # DecoderSpecificInfo's payload
    data[config : config + 2] = b"\xff\xff"
    path.write_bytes(bytes(data))
    return path
