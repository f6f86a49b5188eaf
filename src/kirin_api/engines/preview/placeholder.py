"""Stand-in renders for the image- and video-driven models, until their full preview lands.

They honour the contract (size, frame count, shot cuts, audio) and show the user's own inputs:

* ``kirin_v1_i2v`` / ``kirin_v3_i2v``: the first frame is the image, with a slow push-in; with an
  end image the clip dissolves into it and its last frame is the end image; with only an end
  image the clip pulls back from it... ending on it.
* ``kirin_v3_i2v`` with ``multi_shot``: a hard cut at each shot boundary; each shot moves its own
  way and is tinted by its prompt.
* ``kirin_v1_6_multi_i2v``: the reference images side by side, each filling its column.
* ``kirin_v3_motion_control``: the reference image with a slow push-in, as long as the reference
  video.

Sound: ``sound: on`` is a generated chord that changes with the prompt and at shot cuts;
``keep_original_sound: yes`` carries the reference video's audio over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import cv2
import numpy as np
from PIL import Image, ImageOps

from kirin_api.contract.job import RenderJob
from kirin_api.engines.base import AudioTrack, Frame
from kirin_api.media.audio import read_audio, tone_bed

PUSH_IN = 0.08  # the zoom reached by the end of a clip or shot


def load_rgb(path: str) -> Frame:
    """An input image (already checked by intake) as RGB, turned upright by its EXIF tag."""
    with Image.open(path) as image:
        upright = ImageOps.exif_transpose(image)
        return np.asarray(upright.convert("RGB"), dtype=np.uint8)


def cover(image: Frame, width: int, height: int) -> Frame:
    """Scale ``image`` to cover ``width`` x ``height`` and crop the middle (no bars)."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    resized = cv2.resize(
        image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    )
    top = (size[1] - height) // 2
    left = (size[0] - width) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width], dtype=np.uint8)


def zoomed(image: Frame, amount: float) -> Frame:
    """``image`` magnified by ``1 + amount`` about its centre, same size."""
    if amount == 0:
        return image
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, 1.0 + amount)
    warped = cv2.warpAffine(
        image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    return np.asarray(warped, dtype=np.uint8)


def _prompt_seed(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _tint(frame: Frame, seed: int) -> Frame:
    """A light colour cast picked by ``seed``, so each shot looks its own."""
    rng = np.random.default_rng(seed)
    gains = rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    tinted: Frame = np.clip(frame.astype(np.float32) * gains, 0, 255).astype(np.uint8)
    return tinted


def shot_bounds(job: RenderJob) -> list[tuple[int, int, str]]:
    """(first frame, end frame, prompt) of each shot; one shot unless ``multi_shot``."""
    params = job.params
    shots = params.get("multi_prompt") if params.get("multi_shot") else None
    if not shots:
        return [(0, job.spec.frames, str(params.get("prompt") or ""))]
    bounds: list[tuple[int, int, str]] = []
    start = 0
    for index, shot in enumerate(shots):
        end = (
            job.spec.frames
            if index == len(shots) - 1
            else start + int(shot["duration"]) * job.spec.fps
        )
        bounds.append((start, end, str(shot.get("prompt", ""))))
        start = end
    return bounds


def frames(job: RenderJob) -> Iterator[Frame]:
    """The placeholder video of ``job``, frame by frame."""
    spec, inputs = job.spec, job.inputs
    if job.model == "kirin_v1_6_multi_i2v":
        yield from _side_by_side(
            job, [inputs[k] for k in sorted(inputs) if k.startswith("image_list.")]
        )
        return
    first_key = "image_url" if job.model == "kirin_v3_motion_control" else "image"
    first = (
        cover(load_rgb(inputs[first_key]), spec.width, spec.height) if first_key in inputs else None
    )
    tail = (
        cover(load_rgb(inputs["image_tail"]), spec.width, spec.height)
        if "image_tail" in inputs
        else None
    )
    shots = shot_bounds(job)
    for index, (start, end, prompt) in enumerate(shots):
        base = first if first is not None else tail
        assert base is not None, "the contract requires an image or an end image"
        if len(shots) > 1:
            base = _tint(base, _prompt_seed(prompt))
        length = max(end - start - 1, 1)
        direction = 1 if index % 2 == 0 else -1
        for i in range(end - start):
            t = i / length
            if first is None and tail is not None:
                # Only an end image: pull back towards it so the last frame is the image itself.
                yield zoomed(base, PUSH_IN * (1 - t))
            elif tail is not None:
                moving = zoomed(base, PUSH_IN * t * (1 - t))
                yield np.asarray(cv2.addWeighted(moving, 1 - t, tail, t, 0.0), dtype=np.uint8)
            else:
                amount = PUSH_IN * t if direction > 0 else PUSH_IN * (1 - t)
                yield zoomed(base, amount)


def _side_by_side(job: RenderJob, paths: Sequence[str]) -> Iterator[Frame]:
    spec = job.spec
    count = max(len(paths), 1)
    edges = [round(i * spec.width / count) for i in range(count + 1)]
    canvas = np.zeros((spec.height, spec.width, 3), np.uint8)
    for index, path in enumerate(paths):
        left, right = edges[index], edges[index + 1]
        canvas[:, left:right] = cover(load_rgb(path), right - left, spec.height)
    for i in range(spec.frames):
        yield zoomed(canvas, PUSH_IN * i / max(spec.frames - 1, 1))


def audio(job: RenderJob) -> AudioTrack | None:
    """The sound of ``job``, or None for a silent video."""
    spec = job.spec
    if not spec.audio:
        return None
    if job.model == "kirin_v3_motion_control":
        pcm = read_audio(job.inputs["video_url"], max_seconds=spec.duration)
    else:
        shots = shot_bounds(job)
        cuts = [start / spec.fps for start, _, _ in shots[1:]]
        pcm = tone_bed(spec.duration, [_prompt_seed(p) ^ job.seed for _, _, p in shots], cuts)
    return None if pcm is None else AudioTrack(pcm.samples, pcm.sample_rate)
