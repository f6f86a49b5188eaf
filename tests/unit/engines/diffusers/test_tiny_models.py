"""Tiny Wan pipelines: built deterministically, loaded back offline, videos of the asked shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.diffusers_models import TEXT_DIM, build_t2v

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")


def load(directory: Path, cls: Any = None) -> Any:
    pipe = (cls or diffusers.DiffusionPipeline).from_pretrained(directory)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run(pipe: Any, **inputs: Any) -> np.ndarray:
    arguments: dict[str, Any] = {
        "prompt": "a red fox in the snow",
        "negative_prompt": "blurry",
        "num_frames": 9,
        "height": 32,
        "width": 32,
        "num_inference_steps": 2,
        "guidance_scale": 5.0,
        "max_sequence_length": 16,
        "generator": torch.Generator().manual_seed(0),
        "output_type": "np",
    } | inputs
    return np.asarray(pipe(**arguments).frames)


def picture(colour: tuple[int, int, int], size: tuple[int, int] = (32, 32)) -> Image.Image:
    return Image.new("RGB", size, colour)


def state(module: Any) -> dict[str, Any]:
    return {name: value.clone() for name, value in module.state_dict().items()}


def test_the_same_call_builds_the_same_weights(t2v_dir: Path, tmp_path: Path) -> None:
    again = load(build_t2v(tmp_path / "again"))
    first = load(t2v_dir)
    for component in ("transformer", "vae", "text_encoder"):
        ours, theirs = state(getattr(first, component)), state(getattr(again, component))
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[name], theirs[name]) for name in ours), component


@pytest.mark.parametrize(
    ("fixture", "cls_name"),
    [
        ("t2v_dir", "WanPipeline"),
        ("flf2v_dir", "WanImageToVideoPipeline"),
        ("i2v_dir", "WanImageToVideoPipeline"),
        ("a14b_dir", "WanImageToVideoPipeline"),
        ("vace_dir", "WanVACEPipeline"),
    ],
)
def test_loads_back_with_its_class_and_generically(
    fixture: str, cls_name: str, request: pytest.FixtureRequest
) -> None:
    directory: Path = request.getfixturevalue(fixture)
    cls = getattr(diffusers, cls_name)
    assert type(load(directory, cls)) is cls
    assert type(load(directory)) is cls


def test_the_tokenizer_pads_truncates_and_tells_prompts_apart(t2v_dir: Path) -> None:
    tokenizer = load(t2v_dir).tokenizer
    batch = tokenizer(
        ["a cat", "a dog", "x" * 40],
        padding="max_length",
        max_length=16,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    ids, mask = batch.input_ids, batch.attention_mask
    assert ids.shape == mask.shape == (3, 16)
    assert mask[0].sum() == 5  # "a", "c", "a", "t" and the end-of-sequence token
    assert ids[0, 4] == tokenizer.eos_token_id
    assert (ids[0, 5:] == tokenizer.pad_token_id).all()
    assert not torch.equal(ids[0], ids[1])
    assert mask[2].all()  # truncated to the maximum length


def test_text_to_video_makes_the_asked_frames(t2v_dir: Path) -> None:
    pipe = load(t2v_dir)
    video = run(pipe)
    assert video.shape == (1, 9, 32, 32, 3)
    assert video.dtype == np.float32
    assert video.min() >= 0.0
    assert video.max() <= 1.0
    embeds, _ = pipe.encode_prompt("a fox", max_sequence_length=16, device=torch.device("cpu"))
    assert embeds.shape == (1, 16, TEXT_DIM)


def test_text_to_video_other_sizes_and_the_frame_rule(t2v_dir: Path) -> None:
    pipe = load(t2v_dir)
    assert run(pipe, num_frames=13, height=48, width=32).shape == (1, 13, 48, 32, 3)
    # Frames must be 4k + 1: the pipeline rounds down (with a warning) rather than failing.
    assert run(pipe, num_frames=11).shape == (1, 9, 32, 32, 3)
    # Width and height must be multiples of 16: the pipeline refuses anything else.
    with pytest.raises(ValueError, match="divisible by 16"):
        run(pipe, height=40)


def test_the_same_seed_makes_the_same_video(t2v_dir: Path) -> None:
    pipe = load(t2v_dir)
    first, again = run(pipe), run(pipe)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, run(pipe, generator=torch.Generator().manual_seed(1)))


def test_first_and_last_frame_video(flf2v_dir: Path) -> None:
    pipe = load(flf2v_dir)
    assert pipe.image_encoder is not None
    assert pipe.image_processor is not None
    video = run(pipe, image=picture((220, 20, 20)), last_image=picture((20, 20, 220)))
    assert video.shape == (1, 9, 32, 32, 3)


def test_first_and_last_frame_layout_needs_the_last_frame(flf2v_dir: Path) -> None:
    with pytest.raises(RuntimeError):
        run(load(flf2v_dir), image=picture((220, 20, 20)))


def test_first_frame_video_from_any_picture_size(i2v_dir: Path) -> None:
    pipe = load(i2v_dir)
    # The CLIP processor and the video processor both resize: the picture need not match.
    video = run(pipe, image=picture((220, 20, 20), size=(50, 30)), height=48, width=32)
    assert video.shape == (1, 9, 48, 32, 3)


def test_wan22_layout_with_and_without_the_last_frame(a14b_dir: Path) -> None:
    pipe = load(a14b_dir)
    assert pipe.transformer_2 is not None
    assert pipe.config.boundary_ratio == 0.9
    assert pipe.image_encoder is None
    first = run(pipe, image=picture((220, 20, 20)))
    both = run(pipe, image=picture((220, 20, 20)), last_image=picture((20, 20, 220)))
    assert first.shape == both.shape == (1, 9, 32, 32, 3)
    assert not np.array_equal(first, both)


def test_vace_with_video_mask_and_reference(vace_dir: Path) -> None:
    pipe = load(vace_dir)
    video = [picture((120, 120, 120))] * 9
    mask = [Image.new("L", (32, 32), 255)] * 9
    reference = [picture((20, 200, 20))]
    out = run(pipe, video=video, mask=mask, reference_images=reference)
    # The reference image is one extra latent frame at the start, dropped before decoding.
    assert out.shape == (1, 9, 32, 32, 3)
    assert not np.array_equal(out, run(pipe, video=video, mask=mask))
