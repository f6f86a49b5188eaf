"""Preview engine speed: render+encode a 5 s 720p clip versus encoding precomputed frames.

Run: ``.venv/bin/python bench/preview_render.py``. Two figures, each the median of ``REPEATS``
runs in this process:

1. The baseline encodes the engine's own frames, rendered beforehand, with the same encoder
   settings (x264's speed depends on the content); then render+encode of the same job. Goal:
   render+encode <= 1.5 x encode alone.
2. The whole task with one worker: the request validated, the task stored in SQLite, claimed,
   rendered, encoded, verified, stored and completed. Goal: under 2 x the video's length.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kirin_api.contract.ids import new_task_id
from kirin_api.contract.job import OutputSpec, RenderJob
from kirin_api.contract.pricing import PricingTable
from kirin_api.contract.registry import validate_request
from kirin_api.contract.status import TaskStatus
from kirin_api.engines.base import RenderControl
from kirin_api.engines.preview import PreviewEngine
from kirin_api.media.encode import X264_CRF, X264_PRESET, VideoTarget, encode_mp4
from kirin_api.net.fetch import SafeFetcher
from kirin_api.storage.local import LocalBlobStorage
from kirin_api.store import NewTask, SqliteTaskStore
from kirin_api.worker.inputs import InputPreparer
from kirin_api.worker.runner import Worker, WorkerConfig

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


def main() -> None:
    print(
        f"x264 preset={X264_PRESET} crf={X264_CRF}, {SPEC.width}x{SPEC.height}, "
        f"{SPEC.frames} frames, median of {REPEATS}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        render_versus_encode(Path(tmp))
        whole_task(Path(tmp))


if __name__ == "__main__":
    main()
