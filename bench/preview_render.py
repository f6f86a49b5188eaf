"""Preview engine speed: render+encode a 5 s clip versus encoding precomputed frames.

Run: ``.venv/bin/python bench/preview_render.py``. Three figures, each the median of ``REPEATS``
runs in this process:

1. kirin_v1_t2v: the baseline encodes the engine's own frames, rendered beforehand, with the same
   encoder settings (x264's speed depends on the content); then render+encode of the same job.
   Goal: render+encode <= 1.5 x encode alone.
2. Every video model, 5 s std (and one 1080p ``pro`` case), the same way, with inputs (images,
   a reference video with sound) made here; sound, where the model has it, is encoded in both
   runs. Dispatched through ``PreviewEngine().render``, with motion control's analysis cache
   cleared before every run. Goal: ratio <= 2 for every model.
3. The whole task with one worker: the request validated, the task stored in SQLite, claimed,
   rendered, encoded, verified, stored and completed. Goal: under 2 x the video's length.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py (the name the queue benchmark goes by) would shadow the standard library's
# ``queue``, which the engine imports, when a script in this folder runs: drop the folder from
# the import path first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from fractions import Fraction  # noqa: E402
from typing import Any  # noqa: E402

import av  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from kirin_api.contract.ids import new_task_id  # noqa: E402
from kirin_api.contract.job import OutputSpec, RenderJob  # noqa: E402
from kirin_api.contract.pricing import PricingTable  # noqa: E402
from kirin_api.contract.registry import validate_request  # noqa: E402
from kirin_api.contract.status import TaskStatus  # noqa: E402
from kirin_api.engines.base import AudioTrack, Frame, RenderControl, RenderOutput  # noqa: E402
from kirin_api.engines.preview import PreviewEngine, motion_transfer  # noqa: E402
from kirin_api.media.encode import X264_CRF, X264_PRESET, PcmAudio, VideoTarget, encode_mp4  # noqa: E402
from kirin_api.net.fetch import SafeFetcher  # noqa: E402
from kirin_api.storage.local import LocalBlobStorage  # noqa: E402
from kirin_api.store import NewTask, SqliteTaskStore  # noqa: E402
from kirin_api.worker.inputs import InputPreparer  # noqa: E402
from kirin_api.worker.runner import Worker, WorkerConfig  # noqa: E402

REPEATS = 3
SPEC = OutputSpec(width=1280, height=720, fps=30, frames=150)
CASES: dict[str, dict[str, Any]] = {
    "default camera": {"prompt": "a forest at sunset with birds", "camera_control": None},
    "camera_control pan": {
        "prompt": "snowy mountains under a blue sky",
        "camera_control": {"type": "simple", "config": {"pan": 6}},
    },
}


def median_seconds(run: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def render_versus_encode(tmp: Path) -> None:
    engine = PreviewEngine()
    encode_args: dict[str, Any] = {
        "width": SPEC.width,
        "height": SPEC.height,
        "fps": SPEC.fps,
        "total_frames": SPEC.frames,
    }
    for name, params in CASES.items():
        job = RenderJob("bench", "kirin_v1_t2v", params, SPEC, seed=1)
        precomputed = list(engine.render(job, RenderControl()).frames)

        def encode_precomputed(frames: list[Any] = precomputed) -> None:
            encode_mp4(iter(frames), [VideoTarget(tmp / "base.mp4")], **encode_args)

        def render_and_encode(job: RenderJob = job) -> None:
            frames = engine.render(job, RenderControl()).frames
            encode_mp4(frames, [VideoTarget(tmp / "full.mp4")], **encode_args)

        baseline = median_seconds(encode_precomputed)
        del precomputed, encode_precomputed
        full = median_seconds(render_and_encode)
        print(
            f"{name:20s} encode precomputed {baseline:5.2f}s  render+encode {full:5.2f}s  "
            f"ratio {full / baseline:4.2f} (goal <= 1.5)  "
            f"x real time {full / SPEC.duration:4.2f}"
        )


def whole_task(tmp: Path) -> None:
    store = SqliteTaskStore(tmp / "kirin.db")
    store.migrate()
    account = store.ensure_account("bench")
    storage = LocalBlobStorage(tmp / "files")
    worker = Worker(
        store,
        storage,
        {"kirin_v1_t2v": PreviewEngine()},
        PricingTable.default(),
        WorkerConfig(scratch_dir=tmp / "scratch", worker_id="bench"),
        InputPreparer(storage, SafeFetcher(), store),
    )
    for name, params in CASES.items():

        def submit_to_completed(params: dict[str, Any] = params) -> None:
            request = validate_request({"model": "kirin_v1_t2v", **params})
            task = store.create_task(
                NewTask(
                    id=new_task_id(),
                    account_id=account.id,
                    model=request.model,
                    params=request.params,
                    external_task_id=None,
                    callback_url=None,
                    created_at=time.time(),
                )
            )
            worker.run_once()
            done = store.get_task(account.id, task.id)
            assert done is not None
            assert done.status is TaskStatus.COMPLETED

        seconds = median_seconds(submit_to_completed)
        print(
            f"{name:20s} whole task {seconds:5.2f}s for a {SPEC.duration:.0f} s video  "
            f"x real time {seconds / SPEC.duration:4.2f} (goal < 2)"
        )


def pattern(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A picture with structure everywhere (as tests/media_factory.py makes; not imported)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack(
        [
            (x * 255 // max(width - 1, 1)),
            (y * 255 // max(height - 1, 1)),
            ((x // 40 + y // 40) % 2) * 200 + rng.integers(0, 55, size=(height, width)),
        ],
        axis=-1,
    )
    return image.astype(np.uint8)


def write_image(path: Path, width: int, height: int, seed: int) -> str:
    Image.fromarray(pattern(width, height, seed)).save(path)
    return str(path)


def write_reference(path: Path, width: int = 1280, height: int = 720, seconds: float = 5.0) -> str:
    """A reference video as the seed asks: still camera (slow drift), one subject walking right.

    With a 440 Hz tone, so ``keep_original_sound`` has something to carry over.
    """
    fps = 30
    count = round(seconds * fps)
    base = pattern(width + 200, height, seed=2) // 2
    subject = pattern(width // 6, height // 2, seed=9)
    with av.open(str(path), "w", format="mp4") as out:
        video: Any = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound: Any = out.add_stream("aac", rate=48_000)
        for i in range(count):
            drift = round(40 * i / count)
            frame = np.ascontiguousarray(base[:, drift : drift + width])
            x = width // 8 + round(width / 2 * i / count)
            top = height // 4 + round(20 * np.sin(i / 5))
            frame[top : top + subject.shape[0], x : x + subject.shape[1]] = subject
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        t = np.arange(round(seconds * 48_000)) / 48_000
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, tone.size, 1024):
            chunk = av.AudioFrame.from_ndarray(
                tone[None, start : start + 1024], format="fltp", layout="mono"
            )
            chunk.sample_rate, chunk.pts, chunk.time_base = 48_000, start, Fraction(1, 48_000)
            for packet in sound.encode(chunk):
                out.mux(packet)
        for packet in sound.encode():
            out.mux(packet)
    return str(path)


def write_figure(path: Path, colour: tuple[int, int, int]) -> str:
    """A subject's picture: a plain figure on a light backdrop (what GrabCut cuts out)."""
    picture = np.empty((800, 600, 3), np.uint8)
    picture[:] = (236, 238, 242)
    ys, xs = np.mgrid[0:800, 0:600]
    body = ((xs - 300) / 160.0) ** 2 + ((ys - 520) / 240.0) ** 2 <= 1.0
    head = (xs - 300) ** 2 + (ys - 170) ** 2 <= 110**2
    picture[body | head] = colour
    Image.fromarray(picture).save(path)
    return str(path)


def model_cases(tmp: Path) -> list[tuple[str, RenderJob]]:
    """(name, job) for every video model; 5 s std, 720p unless named 1080p."""
    image = write_image(tmp / "image.png", 1280, 720, seed=1)
    figures = {
        f"image_list.{i}.image": write_figure(tmp / f"figure{i}.png", colour)
        for i, colour in enumerate([(200, 40, 40), (40, 70, 200), (230, 170, 30)])
    }
    elements = {f"element_list.{i}": path for i, path in enumerate(figures.values())}
    tail = write_image(tmp / "tail.png", 1280, 720, seed=3)
    portrait = write_image(tmp / "portrait.png", 720, 1280, seed=4)
    square = write_image(tmp / "square.png", 900, 900, seed=5)
    reference = write_reference(tmp / "reference.mp4")
    std = SPEC
    pro = OutputSpec(width=1920, height=1080, fps=30, frames=150)
    loud = OutputSpec(width=1280, height=720, fps=30, frames=150, audio=True)
    shots = [{"index": 1, "prompt": "a quiet street", "duration": 2}]
    shots.append({"index": 2, "prompt": "a busy market at night", "duration": 3})
    motion = {"character_orientation": "video", "keep_original_sound": "yes", "mode": "std"}
    moving = {"image_url": image, "video_url": reference}
    i2v = {"prompt": "a boat drifting at dawn", "mode": "std", "duration": "5", "cfg_scale": 0.5}
    v3 = {"prompt": "a dancer in a red coat", "mode": "std", "duration": 5, "sound": "on"}
    multi = {"prompt": "friends at a picnic", "mode": "std", "duration": "5"}
    fox = {
        "prompt": "a red fox running through snow",
        "camera_control": {"type": "simple", "config": {"horizontal": 6}},
    }
    cut_out = {"image_list": [{}] * 3, **multi}
    with_elements = {**v3, "element_list": [{"element_id": i} for i in range(3)]}
    return [
        ("kirin_v1_t2v", RenderJob("b", "kirin_v1_t2v", CASES["default camera"], std, 1)),
        ("kirin_v1_t2v subject + truck", RenderJob("b", "kirin_v1_t2v", fox, std, 1)),
        ("kirin_v1_t2v subject 1080p", RenderJob("b", "kirin_v1_t2v", fox, pro, 1)),
        ("kirin_v1_i2v 1080p", RenderJob("b", "kirin_v1_i2v", i2v, pro, 1, {"image": image})),
        (
            "kirin_v1_6_multi_i2v cut-outs",
            RenderJob("b", "kirin_v1_6_multi_i2v", cut_out, std, 1, figures),
        ),
        (
            "kirin_v1_6_multi_i2v cut-outs 1080p",
            RenderJob("b", "kirin_v1_6_multi_i2v", cut_out, pro, 1, figures),
        ),
        (
            "kirin_v3_i2v elements",
            RenderJob("b", "kirin_v3_i2v", with_elements, loud, 1, {"image": image, **elements}),
        ),
        ("kirin_v1_i2v", RenderJob("b", "kirin_v1_i2v", i2v, std, 1, {"image": image})),
        (
            "kirin_v1_i2v image_tail",
            RenderJob("b", "kirin_v1_i2v", i2v, std, 1, {"image": image, "image_tail": tail}),
        ),
        (
            "kirin_v1_6_multi_i2v",
            RenderJob(
                "b",
                "kirin_v1_6_multi_i2v",
                {**multi, "aspect_ratio": "16:9"},
                std,
                1,
                {
                    "image_list.0.image": image,
                    "image_list.1.image": portrait,
                    "image_list.2.image": square,
                },
            ),
        ),
        (
            "kirin_v3_i2v sound multi_shot",
            RenderJob(
                "b",
                "kirin_v3_i2v",
                {**v3, "multi_shot": True, "shot_type": "customize", "multi_prompt": shots},
                loud,
                1,
                {"image": image},
            ),
        ),
        (
            "kirin_v3_motion_control",
            RenderJob("b", "kirin_v3_motion_control", motion, loud, 1, moving),
        ),
        (
            "motion_control pro 1080p",
            RenderJob(
                "b",
                "kirin_v3_motion_control",
                {**motion, "mode": "pro"},
                OutputSpec(1920, 1080, 30, 150, audio=True),
                1,
                moving,
            ),
        ),
        (
            "motion_control element",
            RenderJob(
                "b",
                "kirin_v3_motion_control",
                {**motion, "element_list": [{"element_id": 1}]},
                loud,
                1,
                {**moving, "element_list.0": elements["element_list.0"]},
            ),
        ),
        (
            "kirin_v3_i2v pro 1080p",
            RenderJob("b", "kirin_v3_i2v", {**v3, "mode": "pro"}, pro, 1, {"image": image}),
        ),
    ]


def every_model(tmp: Path) -> None:
    engine = PreviewEngine()
    for name, job in model_cases(tmp):

        def start(job: RenderJob = job) -> RenderOutput:
            # Motion control caches its analysis of a reference video: time it on every run.
            motion_transfer._cached_choices.cache_clear()
            return engine.render(job, RenderControl())

        first = start()
        precomputed = list(first.frames)
        sound = _pcm(first.audio)
        spec = job.spec
        encode_args: dict[str, Any] = {
            "width": spec.width,
            "height": spec.height,
            "fps": spec.fps,
            "total_frames": spec.frames,
        }

        def encode_precomputed(
            frames: list[Frame] = precomputed, sound: Any = sound, args: Any = encode_args
        ) -> None:
            encode_mp4(iter(frames), [VideoTarget(tmp / "base.mp4")], audio=sound, **args)

        def render_and_encode(
            start: Callable[[], RenderOutput] = start, encode_args: Any = encode_args
        ) -> None:
            out = start()
            frames: Iterator[Frame] = out.frames
            encode_mp4(
                frames, [VideoTarget(tmp / "full.mp4")], audio=_pcm(out.audio), **encode_args
            )

        baseline = median_seconds(encode_precomputed)
        del precomputed, encode_precomputed
        full = median_seconds(render_and_encode)
        renderer = first.metadata.get("renderer", "scene")
        print(
            f"{name:30s} {spec.width}x{spec.height} [{renderer}]  encode-only {baseline:5.2f}s  "
            f"render+encode {full:5.2f}s  ratio {full / baseline:4.2f} (goal <= 2)  "
            f"x real time {full / spec.duration:4.2f}"
        )


def _pcm(track: AudioTrack | None) -> PcmAudio | None:
    return None if track is None else PcmAudio(track.samples, track.sample_rate)


def main() -> None:
    print(
        f"x264 preset={X264_PRESET} crf={X264_CRF}, {SPEC.width}x{SPEC.height}, "
        f"{SPEC.frames} frames, median of {REPEATS}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        render_versus_encode(Path(tmp))
        every_model(Path(tmp))
        whole_task(Path(tmp))


if __name__ == "__main__":
    main()
