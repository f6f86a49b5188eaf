"""kirin_v1_t2v's shot: the scene built from the request, and its frames one pose at a time.

Kept apart from the engine so that tests and tools can ask where the prompt's subjects are in
any frame (:meth:`TextShot.subject_masks`) from the very scene the engine renders.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from kirin_api.contract.job import OutputSpec, RenderJob
from kirin_api.engines.base import Frame
from kirin_api.engines.preview.camera import CameraPath, Lens
from kirin_api.engines.preview.cast import Figure, make_figures
from kirin_api.engines.preview.render import Renderer, figure_mask
from kirin_api.engines.preview.scene import Sprite, assemble, make_layer, make_sky, make_sprites
from kirin_api.engines.preview.subjects import Subject, find_subjects
from kirin_api.engines.preview.theme import Theme, make_theme

# Texels per base-view pixel: below 1 keeps texture building cheap; the warp's bilinear filter
# hides it (std), pro pays for sharper scenery.
DENSITY = {"std": 0.6, "pro": 0.9}
OBJECTS = {"std": 5, "pro": 8}
BACKDROP_SIDE = 720  # the image models' backdrop is rendered at most this wide (see backdrop)


def subjects_of(job: RenderJob, theme: Theme) -> list[Subject]:
    """The prompt's subjects (none when ``negative_prompt`` removes them)."""
    params = job.params
    return find_subjects(
        str(params.get("prompt") or ""), params.get("negative_prompt"), theme.prompt_key
    )


def camera_leads(job: RenderJob, path: CameraPath) -> bool:
    """True when the request asked for a camera move (``camera_control`` or camera words)."""
    asked = bool(job.params.get("camera_control")) or path.label.startswith("prompt:")
    return asked and bool(path.segments)


@dataclass
class TextShot:
    """The scene of one kirin_v1_t2v job, ready to render frame by frame."""

    job: RenderJob
    path: CameraPath
    renderer: Renderer
    figures: list[Figure]

    @classmethod
    def build(cls, job: RenderJob, theme: Theme, path: CameraPath, mode: str) -> TextShot:
        spec = job.spec
        # The seed and the prompt's hash seed one generator together.
        rng = np.random.default_rng([job.seed & (2**64 - 1), theme.prompt_key])
        lens = Lens.for_frame(spec.width, spec.height)
        density = DENSITY[mode]
        calm = camera_leads(job, path)
        sky = make_sky(theme, rng, lens, path, density, calm)
        layers = [
            make_layer(theme, rng, lens, path, i, density, mode == "pro", calm) for i in range(3)
        ]
        sprites: list[Sprite] = make_sprites(theme, rng, lens, OBJECTS[mode], spec.duration, calm)
        figures = make_figures(subjects_of(job, theme), theme, lens, spec.duration, calm)
        renderer = Renderer(assemble(sky, layers, [*sprites, *figures]), lens)
        return cls(job, path, renderer, figures)

    def _tau(self, index: int) -> float:
        count = self.job.spec.frames
        return index / (count - 1) if count > 1 else 0.0

    def frames(self) -> Iterator[Frame]:
        """Every frame in order; the camera move spans the clip in normalised time."""
        # One OpenCV thread: the encoder consuming these frames keeps the other core busy, and
        # OpenCV's pool spin-waits between calls, burning CPU that x264 needs (about a third of
        # the renderer's own time). Process-wide, but the preview engine is OpenCV's only user.
        cv2.setNumThreads(1)
        fps = self.job.spec.fps
        for i in range(self.job.spec.frames):
            yield self.renderer.render(self.path.pose(self._tau(i)), i / fps)

    def subject_masks(self, index: int) -> list[npt.NDArray[np.uint8]]:
        """Each subject's coverage (0..255, frame-sized) in frame ``index``."""
        pose = self.path.pose(self._tau(index))
        seconds = index / self.job.spec.fps
        lens = self.renderer.lens
        return [figure_mask(f, f.mask(seconds), pose, lens, seconds) for f in self.figures]

    def frame(self, index: int) -> Frame:
        """Frame ``index`` alone (the same pixels :meth:`frames` gives at that index)."""
        return self.renderer.render(self.path.pose(self._tau(index)), index / self.job.spec.fps)


def backdrop(prompt: str, negative_prompt: str | None, width: int, height: int, seed: int) -> Frame:
    """The text model's scenery for ``prompt`` as one still picture, without its subjects.

    The image models stand their subjects' pictures in it (:mod:`.stage`).
    """
    negative = f"{negative_prompt or ''} subjects"
    # Rendered at most BACKDROP_SIDE wide and scaled up: it stands behind the subjects (a
    # little soft, as out of focus), and a full-size scene costs more than the rest of the clip.
    k = min(1.0, BACKDROP_SIDE / max(width, height))
    size = (max(16, round(width * k)), max(16, round(height * k)))
    job = RenderJob(
        task_id="backdrop",
        model="kirin_v1_t2v",
        params={"prompt": prompt, "negative_prompt": negative},
        spec=OutputSpec(width=size[0], height=size[1], fps=30, frames=1),
        seed=seed,
    )
    theme = make_theme(prompt, negative, 0.5)
    still = TextShot.build(job, theme, CameraPath(label="static"), "std").frame(0)
    if size == (width, height):
        return still
    return np.asarray(cv2.resize(still, (width, height), interpolation=cv2.INTER_LINEAR), np.uint8)
