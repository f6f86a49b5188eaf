"""The diffusers engine on tiny random-weight pipelines: recipes pick the right pipeline, say
what is missing with 094, follow seed and guidance, report progress, stop when cancelled, and
keep loaded pipelines warm."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kirin_api.contract.errors import TaskErrorKind, TaskFailure
from kirin_api.contract.job import OutputSpec, RenderJob
from kirin_api.engines.base import RenderCancelled, RenderControl
from kirin_api.engines.diffusers.engine import DiffusersEngine, build_engine, check_model
from kirin_api.engines.diffusers.options import parse_options
from kirin_api.engines.diffusers.pipelines import LoadedPipeline, PipelineCache, load_pipeline
from kirin_api.engines.diffusers.weights import WeightsError, WeightsInfo
from kirin_api.worker.engine_registry import EngineConfigError, build_engines
from tests.media_factory import pattern

TINY = {"steps": 2, "size": "32x32", "frames": 9, "dtype": "float32", "device": "cpu"}
SPEC = OutputSpec(width=64, height=48, fps=30, frames=12)


def engine_for(model: str, cache: PipelineCache | None = None, **table: Any) -> DiffusersEngine:
    options = parse_options(model, {**TINY, **table})
    return DiffusersEngine({model: check_model(model, options)}, cache)


def job(model: str, spec: OutputSpec = SPEC, seed: int = 1, **params: Any) -> RenderJob:
    inputs = params.pop("inputs", {})
    return RenderJob("task", model, {"prompt": "a cat", **params}, spec, seed, inputs)


def frames_of(engine: DiffusersEngine, render_job: RenderJob, **control: Any) -> Any:
    output = engine.render(render_job, RenderControl(**control))
    return np.stack(list(output.frames)), output.metadata


@pytest.fixture
def image(tmp_path: Path) -> str:
    from PIL import Image

    path = tmp_path / "image.png"
    Image.fromarray(pattern(64, 48)).save(path)
    return str(path)


def test_text_to_video_is_deterministic_and_follows_guidance(t2v_dir: Path) -> None:
    engine = engine_for("kirin_v1_t2v", weights=str(t2v_dir))
    first, metadata = frames_of(engine, job("kirin_v1_t2v"))
    again, _ = frames_of(engine, job("kirin_v1_t2v"))
    assert first.shape == (12, 48, 64, 3)
    assert np.array_equal(first, again)  # same seed, same video
    other_seed, _ = frames_of(engine, job("kirin_v1_t2v", seed=2))
    assert not np.array_equal(first, other_seed)
    unguided, plain = frames_of(engine, job("kirin_v1_t2v", cfg_scale=0.0))
    assert plain["guidance"] == 1.0
    assert metadata["guidance"] == 5.0
    assert not np.array_equal(first, unguided)
    assert metadata["pipeline"] == "WanPipeline"
    assert metadata["steps"] == 2


def test_progress_rises_step_by_step_and_cancel_stops_at_the_next_step(t2v_dir: Path) -> None:
    engine = engine_for("kirin_v1_t2v", weights=str(t2v_dir), steps=4)
    reported: list[float] = []
    frames_of(engine, job("kirin_v1_t2v"), report_progress=reported.append)
    assert reported == [0.25, 0.5, 0.75, 1.0]

    seen: list[float] = []
    with pytest.raises(RenderCancelled):
        engine.render(
            job("kirin_v1_t2v"),
            RenderControl(report_progress=seen.append, should_stop=lambda: bool(seen)),
        )
    assert seen == [0.25]  # the first step's callback saw the cancellation; no more steps ran


def test_a_loaded_pipeline_is_kept_and_shared(t2v_dir: Path, vace_dir: Path) -> None:
    loads: list[Path] = []

    def counting(info: WeightsInfo, options: Any) -> LoadedPipeline:
        loads.append(info.path)
        return load_pipeline(info, options)

    cache = PipelineCache(loader=counting)
    engine, problems = build_engine(
        {
            "kirin_v1_t2v": {"engine": "diffusers", "weights": str(t2v_dir), **TINY},
            "kirin_v1_6_multi_i2v": {"engine": "diffusers", "weights": str(vace_dir), **TINY},
            "kirin_v3_motion_control": {"engine": "diffusers", "weights": str(vace_dir), **TINY},
        },
        cache,
    )
    assert problems == {}
    for _ in range(2):
        frames_of(engine, job("kirin_v1_t2v"))
    assert loads == [t2v_dir]
    assert len(cache) == 1
    # Two models on the same weights and settings share one pipeline.
    assert cache.get(
        engine._setups["kirin_v1_6_multi_i2v"].main, engine._setups["kirin_v1_6_multi_i2v"].options
    ) is cache.get(
        engine._setups["kirin_v3_motion_control"].main,
        engine._setups["kirin_v3_motion_control"].options,
    )
    assert loads == [t2v_dir, vace_dir]


def test_the_cache_lets_the_least_recently_used_go_when_memory_is_short(tmp_path: Path) -> None:
    loaded: list[str] = []

    def loader(info: WeightsInfo, options: Any) -> LoadedPipeline:
        loaded.append(info.path.name)
        return LoadedPipeline(object(), info, None, [], 0.0)  # type: ignore[arg-type]

    # A device of 10 bytes where every pipeline takes 4.
    cache = PipelineCache(loader=loader, free_bytes=lambda device: 10 - 4 * len(cache))
    options = parse_options("kirin_v1_t2v", {"weights": "/w", **TINY})
    a, b, c = (WeightsInfo(tmp_path / n, "WanPipeline", (), 4) for n in "abc")
    cache.get(a, options)
    cache.get(b, options)
    cache.get(a, options)  # a is now the most recently used
    cache.get(c, options)  # 2 bytes free: b goes, a stays
    assert loaded == ["a", "b", "c"]
    assert [key[0] for key in cache._loaded] == [str(a.path.resolve()), str(c.path.resolve())]


def test_first_and_last_frame_weights_need_vace_for_a_first_frame_alone(
    flf2v_dir: Path, vace_dir: Path, image: str
) -> None:
    spec = OutputSpec(width=64, height=48, fps=30, frames=12)
    engine = engine_for("kirin_v1_i2v", weights=str(flf2v_dir))
    both = job("kirin_v1_i2v", spec, inputs={"image": image, "image_tail": image})
    _, metadata = frames_of(engine, both)
    assert metadata["pipeline"] == "WanImageToVideoPipeline"
    assert metadata["last_frame"]
    with pytest.raises(TaskFailure) as failure:
        engine.render(job("kirin_v1_i2v", spec, inputs={"image": image}), RenderControl())
    assert failure.value.kind == TaskErrorKind.RESOURCE_INSUFFICIENT
    assert "WanVACEPipeline" in failure.value.message
    assert "vace_weights" in failure.value.message
    with_vace = engine_for("kirin_v1_i2v", weights=str(flf2v_dir), vace_weights=str(vace_dir))
    video, _ = frames_of(with_vace, job("kirin_v1_i2v", spec, inputs={"image": image}))
    assert video.shape == (12, 48, 64, 3)


def test_first_frame_weights_and_wan22_weights(i2v_dir: Path, a14b_dir: Path, image: str) -> None:
    first_only = engine_for("kirin_v1_i2v", weights=str(i2v_dir))
    frames_of(first_only, job("kirin_v1_i2v", inputs={"image": image}))
    with pytest.raises(TaskFailure, match="first\\+last"):
        first_only.render(
            job("kirin_v1_i2v", inputs={"image": image, "image_tail": image}), RenderControl()
        )
    # Wan 2.2 A14B: two transformers (guidance batched on both), first frame with or without last.
    wan22 = engine_for("kirin_v1_i2v", weights=str(a14b_dir))
    for inputs in ({"image": image}, {"image": image, "image_tail": image}):
        video, _ = frames_of(wan22, job("kirin_v1_i2v", inputs=inputs))
        assert video.shape == (12, 48, 64, 3)


def test_sound_and_vace_work_without_vace_fail_with_094(i2v_dir: Path, image: str) -> None:
    engine = engine_for("kirin_v3_i2v", weights=str(i2v_dir))
    sound = OutputSpec(width=64, height=48, fps=30, frames=12, audio=True)
    with pytest.raises(TaskFailure, match="sound: on"):
        engine.render(
            job("kirin_v3_i2v", sound, sound="on", inputs={"image": image}), RenderControl()
        )
    subjects = job(
        "kirin_v3_i2v",
        element_list=[{"element_id": 1}],
        inputs={"image": image, "element_list.0": image},
    )
    with pytest.raises(TaskFailure, match="subjects"):
        engine.render(subjects, RenderControl())


def test_weights_of_the_wrong_kind_are_refused(t2v_dir: Path, tmp_path: Path) -> None:
    options = parse_options("kirin_v1_6_multi_i2v", {"weights": str(t2v_dir), **TINY})
    with pytest.raises(WeightsError, match="must be one of WanVACEPipeline"):
        check_model("kirin_v1_6_multi_i2v", options)
    animate = tmp_path / "animate"
    animate.mkdir()
    (animate / "model_index.json").write_text(json.dumps({"_class_name": "WanAnimatePipeline"}))
    options = parse_options("kirin_v3_motion_control", {"weights": str(animate), **TINY})
    with pytest.raises(WeightsError, match="pose and face"):
        check_model("kirin_v3_motion_control", options)


def test_the_worker_leaves_out_models_with_broken_weights(
    t2v_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assignments = {
        "kirin_v1_t2v": {"engine": "diffusers", "weights": str(t2v_dir), **TINY},
        "kirin_v1_i2v": {"engine": "diffusers", "weights": str(tmp_path / "nowhere"), **TINY},
    }
    with caplog.at_level(logging.ERROR, logger="kirin_api.worker"):
        engines = build_engines(assignments)
    assert engines["kirin_v1_t2v"].name == "diffusers"
    assert "kirin_v1_i2v" not in engines  # not claimed by this worker
    assert engines["kirin_v3_i2v"].name == "preview"  # models not in the file: preview
    errors = [r.getMessage() for r in caplog.records if "not serving" in r.getMessage()]
    assert len(errors) == 1
    assert "kirin_v1_i2v" in errors[0]
    assert "not a directory" in errors[0]

    with pytest.raises(EngineConfigError, match="steps"):
        build_engines({"kirin_v1_t2v": {"engine": "diffusers", "weights": "/w", "steps": 0}})
