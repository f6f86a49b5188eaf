"""The preview engine: every model on the CPU, deterministic, every parameter visible.

It renders in about the time the encoder needs for the same frames, so a server without a GPU
still answers every request with a video that follows the request. Text-to-video is a 3D scene
filmed by a virtual camera (below); the image models are in :mod:`.image_models`
(docs/preview-image-models.md), motion control in :mod:`.motion_transfer`
(docs/preview-motion-control.md).

What each kirin_v1_t2v parameter does here:

* ``prompt``: its main noun, colour word and verb make the subject, a shaded figure standing on
  the near ground (:mod:`.subjects`, :mod:`.cast`); camera words (``pan left``, ``aerial``...)
  pick the move when there is no ``camera_control``; its hash picks the palette, scenery
  layout, moving objects and otherwise a gentle camera move; words steer the scenery and
  colours (night, sunset, ocean, forest, desert, snow, city, colour names; see :mod:`.theme`).
* ``negative_prompt``: colours named there are pushed out of the palette; ``clouds``, ``birds``,
  ``sun``/``moon``, ``stars`` remove those things, and the subject's noun (or ``people``,
  ``animals``, ``subject``...) the subject.
* ``cfg_scale``: palette saturation and contrast (0 dull, 0.5 as designed, 1 vivid).
* ``mode``: ``pro`` renders sharper textures with finer detail and more moving objects.
* ``camera_control``: the virtual camera's move (see :mod:`.camera`), and what the whole frame
  does: under a requested move, objects, clouds and the subject move little; without it the
  prompt's camera words or a gentle move keep the clip alive.
* ``aspect_ratio``/``duration``: come in through ``job.spec`` (size and frame count); the camera
  move spans the whole clip whatever its length.
* ``seed`` (``job.seed``): textures, object placement and motion; mixed with the prompt's hash so
  one seed gives different details for different prompts. Same job, same frames, byte for byte.
* ``watermark_info``, ``callback_url``, ``external_task_id``: not the engine's business.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from kirin_api.contract.job import RenderJob
from kirin_api.engines.base import Frame, RenderControl, RenderOutput
from kirin_api.engines.preview import image_models, motion_transfer
from kirin_api.engines.preview.camera import CameraPath, path_for
from kirin_api.engines.preview.text_shot import TextShot, subjects_of
from kirin_api.engines.preview.theme import Theme, make_theme

TEXT_MODELS = frozenset({"kirin_v1_t2v"})
MOTION_MODELS = frozenset({"kirin_v3_motion_control"})
SUPPORTED_MODELS = TEXT_MODELS | image_models.MODELS | MOTION_MODELS
# Frames rendered ahead of the consumer (720p RGB: 2.7 MB each).
AHEAD = 3
_POLL_S = 0.05  # how often a waiting side looks at cancellation / the stop flag


class PreviewEngine:
    """CPU engine for text-to-video: layered 3D scenery filmed by a virtual pinhole camera."""

    name = "preview"

    def supports(self, model: str) -> bool:
        """True for every model that makes a video."""
        return model in SUPPORTED_MODELS

    def render(self, job: RenderJob, control: RenderControl) -> RenderOutput:
        """Check the job and return its frames, rendered lazily as they are consumed."""
        if job.model in MOTION_MODELS:
            self._check_spec(job)
            return RenderOutput(
                frames=self._stream(job, control, lambda: motion_transfer.frames(job)),
                audio=motion_transfer.audio(job),
                metadata={"engine": self.name, **motion_transfer.metadata(job)},
            )
        if job.model in image_models.MODELS:
            self._check_spec(job)
            # metadata() loads the inputs and plans the video, so bad inputs fail here, before
            # any frame; frames() reuses that plan.
            planned = {"engine": self.name, "seed": job.seed, **image_models.metadata(job)}
            return RenderOutput(
                frames=self._stream(job, control, lambda: image_models.frames(job)),
                audio=image_models.audio(job),
                metadata=planned,
            )
        theme, path, mode = self.check_inputs(job)
        metadata: dict[str, Any] = {
            "engine": self.name,
            "scenery": theme.scenery,
            "camera": path.label,
            "mode": mode,
            "seed": job.seed,
            "subjects": [
                {"noun": s.noun, "kind": s.kind, "colour": s.colour_word, "action": s.gait}
                for s in subjects_of(job, theme)
            ],
        }
        frames = self._stream(job, control, lambda: self._render_frames(job, theme, path, mode))
        return RenderOutput(frames=frames, metadata=metadata)

    def check_inputs(self, job: RenderJob) -> tuple[Theme, CameraPath, str]:
        """Step 1: validate what the engine relies on; unknown keys are ignored."""
        self._check_spec(job)
        params = job.params
        prompt = str(params.get("prompt") or "")
        cfg = params.get("cfg_scale")
        theme = make_theme(prompt, params.get("negative_prompt"), 0.5 if cfg is None else cfg)
        mode = "pro" if params.get("mode") == "pro" else "std"
        path = path_for(params.get("camera_control"), theme.default_move, prompt)
        return theme, path, mode

    def _check_spec(self, job: RenderJob) -> None:
        if not self.supports(job.model):
            raise ValueError(f"the preview engine does not render {job.model!r}")
        spec = job.spec
        if spec.width <= 0 or spec.height <= 0 or spec.frames <= 0 or spec.fps <= 0:
            raise ValueError(f"bad output spec {spec}")

    def _stream(
        self, job: RenderJob, control: RenderControl, render: Callable[[], Iterator[Frame]]
    ) -> Iterator[Frame]:
        spec = job.spec
        control.check()
        # Rendering runs on a background thread, a few frames ahead of the consumer, so the
        # encoder that pulls these frames works on one core while the next ones render on the
        # other (OpenCV and numpy release the GIL). Cancellation, progress and the consumer's
        # pace stay on this side: the thread only ever renders.
        producer = _Producer(render)
        try:
            last_percent = -1
            for i in range(spec.frames):
                control.check()
                yield producer.next_frame(control)
                percent = (100 * (i + 1)) // spec.frames
                if percent != last_percent:  # at most ~100 progress calls per clip
                    last_percent = percent
                    control.report_progress((i + 1) / spec.frames)
        finally:
            producer.close()

    @staticmethod
    def _render_frames(
        job: RenderJob, theme: Theme, path: CameraPath, mode: str
    ) -> Iterator[Frame]:
        yield from TextShot.build(job, theme, path, mode).frames()


class _Producer:
    """Runs a frame iterator on a daemon thread, at most ``AHEAD`` frames ahead of the reader.

    The thread starts with the first :meth:`next_frame` and is stopped and joined by
    :meth:`close` (which the engine's generator calls however it ends: exhausted, cancelled,
    closed early or failed). Frames come out in order, so the output is the same as rendering
    on the caller's thread.
    """

    def __init__(self, frames: Callable[[], Iterator[Frame]]) -> None:
        self._frames = frames
        self._queue: queue.Queue[tuple[Frame | None, BaseException | None]] = queue.Queue(AHEAD)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def next_frame(self, control: RenderControl) -> Frame:
        """The next frame; polls ``control`` for cancellation while waiting for it."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="preview-render", daemon=True)
            self._thread.start()
        while True:
            try:
                frame, error = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                control.check()
                continue
            if error is not None:
                raise error
            if frame is None:
                raise RuntimeError("the preview renderer stopped early")
            return frame

    def _run(self) -> None:
        try:
            for frame in self._frames():
                if not self._put((frame, None)):
                    return
        except BaseException as exc:  # handed to the reader, which raises it
            self._put((None, exc))
            return
        self._put((None, None))

    def _put(self, item: tuple[Frame | None, BaseException | None]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def close(self) -> None:
        """Stop the thread (it may be mid-frame: that frame is dropped) and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
