"""Speed-ups on the tiny Wan pipelines: batched CFG is exact, the rest applies or says why not."""

from __future__ import annotations

import functools
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from kirin_api.engines.diffusers.acceleration import (  # noqa: E402
    ATTENTION_CHOICES,
    Speedups,
    apply_speedups,
    batched_guidance,
    encode_prompts,
    set_cache_steps,
    transformers_of,
)

CPU = torch.device("cpu")
PROMPT, NEGATIVE = "a red fox in the snow", "blurry, grey"
LOG = "kirin_api.engines.diffusers.acceleration"


def load(directory: Path) -> Any:
    pipe = diffusers.DiffusionPipeline.from_pretrained(directory)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def picture(colour: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (32, 32), colour)


# What each kind of pipeline needs besides the prompt.
CONDITIONS: dict[str, dict[str, Any]] = {
    "t2v_dir": {},
    "flf2v_dir": {"image": picture((220, 20, 20)), "last_image": picture((20, 20, 220))},
    "a14b_dir": {"image": picture((220, 20, 20)), "last_image": picture((20, 20, 220))},
    "vace_dir": {
        "video": [picture((120, 120, 120))] * 9,
        "mask": [Image.new("L", (32, 32), 255)] * 9,
        "reference_images": [picture((20, 200, 20))],
    },
}


def common(**extra: Any) -> dict[str, Any]:
    return {
        "num_frames": 9,
        "height": 32,
        "width": 32,
        "num_inference_steps": 3,
        "max_sequence_length": 16,
        "generator": torch.Generator().manual_seed(0),
        "output_type": "np",
    } | extra


def two_pass(pipe: Any, guidance: float, **extra: Any) -> np.ndarray:
    """The pipeline's own classifier-free guidance: two transformer calls per step."""
    arguments = common(**extra)
    return np.asarray(
        pipe(prompt=PROMPT, negative_prompt=NEGATIVE, guidance_scale=guidance, **arguments).frames
    )


def batched(pipe: Any, scales: dict[Any, float], **extra: Any) -> np.ndarray:
    positive, negative = encode_prompts(pipe, PROMPT, NEGATIVE, CPU, max_sequence_length=16)
    with batched_guidance(scales, {"encoder_hidden_states": negative}):
        frames = pipe(prompt_embeds=positive, guidance_scale=1.0, **common(**extra)).frames
    return np.asarray(frames)


class Counter:
    """Counts a module's calls and the batch sizes it saw."""

    def __init__(self, module: Any) -> None:
        self.batches: list[int] = []
        module.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        hidden = kwargs.get("hidden_states", args[0] if args else None)
        self.batches.append(int(hidden.shape[0]))


# ----------------------------------------------------------------------------- batched guidance


@pytest.mark.parametrize("fixture", ["t2v_dir", "flf2v_dir", "vace_dir"])
def test_batched_guidance_makes_the_pipelines_own_video(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    pipe = load(request.getfixturevalue(fixture))
    expected = two_pass(pipe, 5.0, **CONDITIONS[fixture])
    calls = Counter(pipe.transformer.blocks[0])
    got = batched(pipe, {pipe.transformer: 5.0}, **CONDITIONS[fixture])
    assert calls.batches == [2, 2, 2]  # one call per step, both branches in it
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # ...and guidance matters here, so the comparison above means something.
    assert np.abs(two_pass(pipe, 1.0, **CONDITIONS[fixture]) - expected).max() > 1e-3


def test_batched_guidance_gives_each_wan22_transformer_its_scale(a14b_dir: Path) -> None:
    pipe = load(a14b_dir)
    conditions = CONDITIONS["a14b_dir"]
    expected = two_pass(pipe, 5.0, guidance_scale_2=3.0, **conditions)
    high, low = Counter(pipe.transformer.blocks[0]), Counter(pipe.transformer_2.blocks[0])
    got = batched(pipe, {pipe.transformer: 5.0, pipe.transformer_2: 3.0}, **conditions)
    assert high.batches == [2]
    assert low.batches == [2, 2]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    swapped = batched(pipe, {pipe.transformer: 3.0, pipe.transformer_2: 5.0}, **conditions)
    assert np.abs(swapped - expected).max() > 1e-4


def test_batched_guidance_keeps_the_transformers_return_form(t2v_dir: Path) -> None:
    transformer = load(t2v_dir).transformer
    hidden = torch.randn(1, 16, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    cond = torch.randn(1, 16, 32, generator=torch.Generator().manual_seed(1))
    uncond = torch.randn(1, 16, 32, generator=torch.Generator().manual_seed(2))
    timestep = torch.tensor([500])
    with torch.no_grad():
        c = transformer(hidden, timestep, cond, return_dict=False)[0]
        u = transformer(hidden, timestep, uncond, return_dict=False)[0]
        with batched_guidance({transformer: 4.0}, {"encoder_hidden_states": uncond}):
            as_tuple = transformer(hidden, timestep, cond, return_dict=False)
            as_output = transformer(
                hidden_states=hidden, timestep=timestep, encoder_hidden_states=cond
            )
    expected = u + 4.0 * (c - u)
    assert isinstance(as_tuple, tuple)
    assert len(as_tuple) == 1
    torch.testing.assert_close(as_tuple[0], expected, atol=1e-5, rtol=1e-5)
    assert type(as_output).__name__ == "Transformer2DModelOutput"
    torch.testing.assert_close(as_output.sample, expected, atol=1e-5, rtol=1e-5)


def test_the_transformer_is_restored_after_the_context(t2v_dir: Path) -> None:
    pipe = load(t2v_dir)
    transformer = pipe.transformer
    assert "forward" not in vars(transformer)
    with batched_guidance({transformer: 5.0}, {"encoder_hidden_states": torch.zeros(1, 16, 32)}):
        assert "forward" in vars(transformer)
    assert "forward" not in vars(transformer)
    # A forward set on the instance before (offload hooks keep theirs there) comes back as it was.
    wrapper = functools.partial(type(transformer).forward, transformer)
    transformer.forward = wrapper
    with batched_guidance({transformer: 5.0}, {"encoder_hidden_states": torch.zeros(1, 16, 32)}):
        assert transformer.forward is not wrapper
    assert transformer.forward is wrapper


def test_the_transformer_is_restored_after_an_exception(t2v_dir: Path) -> None:
    pipe = load(t2v_dir)
    expected = two_pass(pipe, 5.0)
    positive, negative = encode_prompts(pipe, PROMPT, NEGATIVE, CPU, max_sequence_length=16)

    def stop(*args: Any) -> dict[str, Any]:
        raise KeyboardInterrupt  # as abrupt as it gets: not even an Exception

    with (
        pytest.raises(KeyboardInterrupt),
        batched_guidance({pipe.transformer: 5.0}, {"encoder_hidden_states": negative}),
    ):
        pipe(prompt_embeds=positive, guidance_scale=1.0, callback_on_step_end=stop, **common())
    assert "forward" not in vars(pipe.transformer)
    np.testing.assert_array_equal(two_pass(pipe, 5.0), expected)


def test_batched_guidance_refuses_what_it_cannot_pair(t2v_dir: Path) -> None:
    transformer = load(t2v_dir).transformer
    with (
        pytest.raises(ValueError, match="not finite"),
        batched_guidance({transformer: math.nan}, {}),
    ):
        pass
    assert "forward" not in vars(transformer)
    hidden = torch.zeros(1, 16, 3, 4, 4)
    with (
        batched_guidance({transformer: 2.0}, {"encoder_hidden_states_image": torch.zeros(1, 4, 8)}),
        pytest.raises(TypeError, match="encoder_hidden_states_image"),
    ):
        transformer(hidden, torch.tensor([1]), torch.zeros(1, 16, 32))


def test_encode_prompts_gives_both_branches(t2v_dir: Path) -> None:
    pipe = load(t2v_dir)
    positive, negative = encode_prompts(pipe, PROMPT, None, CPU, max_sequence_length=16)
    assert positive.shape == negative.shape == (1, 16, 32)
    empty, _ = encode_prompts(pipe, "", None, CPU, max_sequence_length=16)
    torch.testing.assert_close(negative, empty)  # no negative prompt = the empty prompt
    assert not torch.equal(positive, negative)


# ------------------------------------------------------------------------------ apply_speedups


def test_on_cpu_tiling_and_a_cache_apply_and_flash_attention_is_skipped(
    t2v_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipe = load(t2v_dir)
    speedups = Speedups(attention="flash", cache="first_block", vae_tiling=True)
    with caplog.at_level(logging.WARNING, logger=LOG):
        applied = apply_speedups(pipe, speedups, CPU)
    assert applied == ["attention:native", "cache:first_block(0.05)", "vae_tiling"]
    assert any("attention:flash" in r.message and "CUDA" in r.message for r in caplog.records)
    assert pipe.transformer.is_cache_enabled
    assert pipe.vae.use_tiling
    assert two_pass(pipe, 5.0).shape == (1, 9, 32, 32, 3)


def test_first_block_cache_skips_the_other_blocks_when_steps_agree(t2v_dir: Path) -> None:
    pipe = load(t2v_dir)
    exact = batched(pipe, {pipe.transformer: 5.0})
    tail = Counter(pipe.transformer.blocks[-1].ffn)
    apply_speedups(pipe, Speedups(cache="first_block", cache_threshold=1e6), CPU)
    tail.batches.clear()
    cached = batched(pipe, {pipe.transformer: 5.0})
    # The first step computes everything; with so loose a threshold the next two reuse it.
    assert tail.batches == [2]
    assert np.abs(cached - exact).max() > 1e-4
    assert np.isfinite(cached).all()


def test_set_cache_steps_forgets_a_call_stopped_half_way(t2v_dir: Path) -> None:
    speedups = Speedups(cache="first_block", cache_threshold=1e6)
    fresh = load(t2v_dir)
    apply_speedups(fresh, speedups, CPU)
    expected = batched(fresh, {fresh.transformer: 5.0})

    pipe = load(t2v_dir)
    apply_speedups(pipe, speedups, CPU)

    def stop(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("cancelled")  # how a render is stopped without decoding

    positive, negative = encode_prompts(pipe, PROMPT, NEGATIVE, CPU, max_sequence_length=16)
    with (
        pytest.raises(RuntimeError, match="cancelled"),
        batched_guidance({pipe.transformer: 5.0}, {"encoder_hidden_states": negative}),
    ):
        pipe(prompt_embeds=positive, guidance_scale=1.0, callback_on_step_end=stop, **common())
    set_cache_steps(pipe, 3)
    np.testing.assert_array_equal(batched(pipe, {pipe.transformer: 5.0}), expected)


def test_mag_cache_needs_ratios_and_follows_the_step_count(
    t2v_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipe = load(t2v_dir)
    with caplog.at_level(logging.WARNING, logger=LOG):
        assert apply_speedups(pipe, Speedups(cache="mag"), CPU) == ["attention:native"]
    assert any("mag_ratios" in r.message for r in caplog.records)
    assert not pipe.transformer.is_cache_enabled

    speedups = Speedups(cache="mag", mag_ratios=(1.0, 0.99, 0.98, 0.97, 0.96))
    assert "cache:mag(0.06)" in apply_speedups(pipe, speedups, CPU)
    set_cache_steps(pipe, 3)
    config = pipe.transformer._cache_config
    assert config.num_inference_steps == 3
    assert len(config.mag_ratios) == 3
    assert batched(pipe, {pipe.transformer: 5.0}).shape == (1, 9, 32, 32, 3)
    set_cache_steps(pipe, 8)
    assert len(pipe.transformer._cache_config.mag_ratios) == 8


def test_applying_twice_replaces_the_cache(t2v_dir: Path) -> None:
    pipe = load(t2v_dir)
    apply_speedups(pipe, Speedups(cache="first_block"), CPU)
    applied = apply_speedups(pipe, Speedups(cache="first_block", cache_threshold=0.2), CPU)
    assert "cache:first_block(0.2)" in applied
    assert pipe.transformer._cache_config.threshold == 0.2


def test_both_wan22_transformers_get_the_speedups(a14b_dir: Path) -> None:
    pipe = load(a14b_dir)
    assert transformers_of(pipe) == [pipe.transformer, pipe.transformer_2]
    apply_speedups(pipe, Speedups(attention="_native_math", cache="first_block"), CPU)
    for transformer in transformers_of(pipe):
        assert transformer.is_cache_enabled
        assert transformer.blocks[0].attn1.processor._attention_backend == "_native_math"


def test_an_explicit_backend_does_not_become_the_process_default(t2v_dir: Path) -> None:
    from diffusers.models.attention_dispatch import _AttentionBackendRegistry

    before = _AttentionBackendRegistry._active_backend
    pipe = load(t2v_dir)
    assert apply_speedups(pipe, Speedups(attention="_native_math"), CPU) == [
        "attention:_native_math"
    ]
    assert _AttentionBackendRegistry._active_backend == before
    assert two_pass(pipe, 5.0).shape == (1, 9, 32, 32, 3)


def test_auto_attention_on_cpu_is_native_and_offload_is_skipped(
    t2v_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipe = load(t2v_dir)
    with caplog.at_level(logging.WARNING, logger=LOG):
        applied = apply_speedups(pipe, Speedups(offload="model"), CPU)
    assert applied == ["attention:native"]
    assert any("offload:model" in r.message for r in caplog.records)
    assert pipe.transformer.device == CPU


@pytest.mark.parametrize(
    ("option", "value"), [("attention", "flashy"), ("cache", "tea"), ("offload", "disk")]
)
def test_unknown_names_are_refused_naming_the_option(option: str, value: str) -> None:
    with pytest.raises(ValueError, match=rf"{option} '{value}'.*allowed values are") as caught:
        Speedups(**{option: value})
    assert "none" in str(caught.value) or "auto" in str(caught.value)


def test_apply_speedups_refuses_an_unknown_name_however_it_got_there(t2v_dir: Path) -> None:
    speedups = Speedups()
    object.__setattr__(speedups, "cache", "tea")
    with pytest.raises(ValueError, match="cache 'tea'"):
        apply_speedups(load(t2v_dir), speedups, CPU)


def test_attention_choices_are_diffusers_backends_and_auto() -> None:
    from diffusers.models.attention_dispatch import AttentionBackendName

    assert set(ATTENTION_CHOICES) == {"auto"} | {b.value for b in AttentionBackendName}
    with pytest.raises(ValueError, match="cache_threshold"):
        Speedups(cache="first_block", cache_threshold=0.0)


@pytest.mark.slow
def test_compile_on_cpu_gives_the_same_video(t2v_dir: Path) -> None:
    pipe = load(t2v_dir)
    expected = batched(pipe, {pipe.transformer: 5.0})
    assert "compile" in apply_speedups(pipe, Speedups(compile=True), CPU)
    np.testing.assert_allclose(batched(pipe, {pipe.transformer: 5.0}), expected, atol=1e-4)
