"""GPU engine speed: stock diffusers against our speed-ups, on the Wan2.1-T2V-1.3B architecture.

Run on a GPU host with the ``gpu`` extra installed (``pip install -e '.[gpu]'``)::

    .venv/bin/python bench/gpu_engine.py

and in CI, on any CPU, to check that the script still runs (seconds, numbers meaningless)::

    .venv/bin/python bench/gpu_engine.py --tiny

The models are the Wan2.1-T2V-1.3B transformer and the Wan 2.1 VAE built from their configs with
random weights (nothing is downloaded; speed does not depend on the values), 480x832, 81 frames,
50 steps, classifier-free guidance 5. The text encoder is left out: the prompt embeddings are random
tensors of the shape umt5-xxl gives (512 tokens x 4096), and encoding a prompt once per video is
not what this measures. Rows, all in one process, from the same noise:

- ``stock``: diffusers as its Wan docs show it: transformer bf16, VAE fp32, default attention,
  two transformer passes per step for CFG, no compile, no cache;
- ``ours``: :func:`apply_speedups` with our defaults (regional ``torch.compile``, the best attention
  kernel available, see ``Speedups.attention="auto"``) and :func:`batched_guidance` (both CFG
  branches in one batch): the same math, reordered;
- ``ours+cache``: ``ours`` plus FirstBlockCache (default threshold): fewer blocks computed on
  steps the cache judges alike, so a different video. With random weights the cache hits
  differently than with trained ones; read this row as the cost of the mechanism, not its gain.

Columns: seconds per denoising step (median over steps), seconds per video (the whole call:
denoise + VAE decode + conversion to frames), of which VAE decode, peak GPU memory, the
transformer's share of the GPU's dense bf16 peak and the speed-up over ``stock`` per video. Each
row first makes ``--warmup`` untimed 2-step calls at the same shapes, where ``torch.compile``
compiles; a graph first needed later (a cache branch first taken in the timed call) shows as one
slow step, which the per-step median ignores and the per-video time does not.

Flags: ``--steps`` (50), ``--frames`` (81, 4k+1), ``--size WIDTHxHEIGHT`` (832x480), ``--warmup``
(1), ``--guidance`` (5), ``--rows`` (stock,ours,ours+cache), ``--device``, ``--[no-]compile``,
``--tiny``.

The transformer's FLOPs are counted from the shapes (:func:`transformer_flops`): with N video
tokens (latent frames x latent height/2 x latent width/2), D the width, F the FFN width, L the text
length and T the text width, per layer

    linear layers     2 * tokens * in * out each: self-attention q, k, v, o (4 x 2*N*D*D),
                      cross-attention q, o (2 x 2*N*D*D) and k, v on the text (2 x 2*L*D*D),
                      FFN (2*N*D*F + 2*N*F*D)
    self-attention    4 * N^2 * D       (Q K^T and attention x V)
    cross-attention   4 * N * L * D

plus the embeddings and the output projection once per call; times 2 for CFG (two branches per
step, batched or not). The peak comes from a table by GPU name (H100 SXM 989 TFLOPS dense bf16,
H100 PCIe 756, H100 NVL 835, H200 989, A100 312, L40S 362) or, for other devices, from a
measured large bf16 matmul.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py (the name the queue benchmark goes by) would shadow the standard library's
# ``queue``, which torch imports: drop this folder from the import path first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import gc  # noqa: E402
import itertools  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager, nullcontext  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from kirin_api.engines.diffusers.acceleration import (  # noqa: E402
    Speedups,
    apply_speedups,
    batched_guidance,
)

# Wan2.1-T2V-1.3B's transformer (Wan-AI/Wan2.1-T2V-1.3B-Diffusers, transformer/config.json):
# 12 heads x 128 = 1536 wide, 30 layers, umt5-xxl text (4096 wide).
WAN_1_3B: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 12,
    "attention_head_dim": 128,
    "in_channels": 16,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 8960,
    "num_layers": 30,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "image_dim": None,
    "added_kv_proj_dim": None,
    "rope_max_seq_len": 1024,
}
# The Wan 2.1 VAE (AutoencoderKLWan's defaults, which diffusers' conversion script uses): 4x in
# time, 8x in space, 16 latent channels.
WAN_VAE: dict[str, Any] = {
    "base_dim": 96,
    "z_dim": 16,
    "dim_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_scales": [],
    "temperal_downsample": [False, True, True],
}
TEXT_LEN = 512  # Wan pads every prompt to 512 tokens

# --tiny: the shapes of tests/diffusers_models.py, small enough for a CPU in seconds.
TINY: dict[str, Any] = WAN_1_3B | {
    "num_attention_heads": 2,
    "attention_head_dim": 12,
    "text_dim": 32,
    "freq_dim": 32,
    "ffn_dim": 32,
    "num_layers": 2,
    "rope_max_seq_len": 32,
}
TINY_VAE: dict[str, Any] = WAN_VAE | {"base_dim": 3, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1}
TINY_TEXT_LEN = 16

# Dense (not sparse) bf16 tensor-core peaks, TFLOPS, from NVIDIA's data sheets; the first name
# fragment found in torch.cuda.get_device_name() wins, so the more specific ones come first.
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),  # SXM ("NVIDIA H100 80GB HBM3")
    ("A100", 312.0),
    ("L40S", 362.0),
)


def transformer_flops(
    config: dict[str, Any], frames: int, height: int, width: int, text_len: int
) -> float:
    """FLOPs of one transformer call on one sample (one CFG branch); see the module docstring."""
    p_t, p_h, p_w = config["patch_size"]
    latent_frames = (frames - 1) // 4 + 1
    n = (latent_frames // p_t) * (height // 8 // p_h) * (width // 8 // p_w)
    d = config["num_attention_heads"] * config["attention_head_dim"]
    f, t, c = config["ffn_dim"], config["text_dim"], config["in_channels"]
    patch = c * p_t * p_h * p_w

    def linear(tokens: int, fan_in: int, fan_out: int) -> float:
        return 2.0 * tokens * fan_in * fan_out

    per_layer = (
        4 * linear(n, d, d)  # self-attention q, k, v, o
        + 4.0 * n * n * d  # self-attention scores and weighted sum
        + 2 * linear(n, d, d)  # cross-attention q, o
        + 2 * linear(text_len, d, d)  # cross-attention k, v (on the text)
        + 4.0 * n * text_len * d  # cross-attention scores and weighted sum
        + linear(n, d, f)
        + linear(n, f, d)  # feed-forward
    )
    once = (
        linear(n, patch, d)  # patch embedding (a strided conv = a linear on patches)
        + linear(text_len, t, d)
        + linear(text_len, d, d)  # text embedding MLP
        + linear(n, d, config["out_channels"] * p_t * p_h * p_w)  # output projection
    )
    return config["num_layers"] * per_layer + once


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_tflops(device: torch.device) -> tuple[float, str]:
    """The device's dense bf16 peak and where the number comes from."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for fragment, tflops in PEAK_BF16_TFLOPS:
            if fragment in name:
                return tflops, f"{name}: data sheet"
    else:
        name = "CPU"
    # Unknown device: what a large bf16 matmul reaches is the practical peak.
    n = 8192 if device.type == "cuda" else 512
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    sync(device)
    repeats = 20 if device.type == "cuda" else 5
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    seconds = time.perf_counter() - started
    return 2.0 * n**3 * repeats / seconds / 1e12, f"{name}: measured {n}x{n} bf16 matmul"


@dataclass
class Setup:
    device: torch.device
    transformer_config: dict[str, Any]
    vae_config: dict[str, Any]
    text_len: int
    width: int
    height: int
    frames: int
    steps: int
    warmup: int
    guidance: float
    compile: bool
    seed: int = 0


@dataclass
class Row:
    name: str
    applied: list[str]
    step_seconds: float
    video_seconds: float
    decode_seconds: float
    peak_gib: float | None
    video: np.ndarray = field(repr=False)


class StepClock:
    """A ``callback_on_step_end`` that notes when each step finished (after a device sync)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.marks: list[float] = []

    def __call__(
        self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]
    ) -> dict[str, Any]:
        sync(self.device)
        self.marks.append(time.perf_counter())
        return {}


def build_transformer(setup: Setup) -> torch.nn.Module:
    """The transformer with seeded random weights, made directly on the device, in bf16."""
    from diffusers import WanTransformer3DModel

    torch.manual_seed(setup.seed)
    with setup.device:  # allocate (and initialise) on the GPU: seconds instead of a minute
        transformer = WanTransformer3DModel(**setup.transformer_config)
    return cast_like_from_pretrained(transformer, torch.bfloat16).eval().requires_grad_(False)


def cast_like_from_pretrained(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """Cast as ``from_pretrained(torch_dtype=dtype)`` does: the model's ``_keep_in_fp32_modules``
    (Wan: rope, time embedding, modulation tables, norms) stay float32."""
    keep = set(getattr(model, "_keep_in_fp32_modules", None) or ())
    tensors = [*model.named_parameters(), *model.named_buffers()]
    for name, tensor in tensors:
        if tensor.is_floating_point():
            target = torch.float32 if keep & set(name.split(".")) else dtype
            tensor.data = tensor.data.to(target)
    return model


def build_pipeline(setup: Setup, transformer: torch.nn.Module, vae: torch.nn.Module) -> Any:
    from diffusers import UniPCMultistepScheduler, WanPipeline

    # The scheduler Wan2.1-T2V-1.3B ships, with the flow shift its model card gives for 480p.
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
    )
    pipe = WanPipeline(
        tokenizer=None, text_encoder=None, vae=vae, scheduler=scheduler, transformer=transformer
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


@contextmanager
def measured_memory(device: torch.device) -> Iterator[list[float]]:
    found: list[float] = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    yield found
    if device.type == "cuda":
        found.append(torch.cuda.max_memory_allocated(device) / 2**30)


def run(
    setup: Setup,
    pipe: Any,
    embeds: tuple[torch.Tensor, torch.Tensor],
    batched: bool,
    steps: int,
) -> tuple[np.ndarray, StepClock, float, float]:
    """One video; returns it, the step clock, the start and the end time."""
    positive, negative = embeds
    clock = StepClock(setup.device)
    arguments: dict[str, Any] = {
        "height": setup.height,
        "width": setup.width,
        "num_frames": setup.frames,
        "num_inference_steps": steps,
        "generator": torch.Generator(device="cpu").manual_seed(setup.seed),
        "output_type": "np",
        "callback_on_step_end": clock,
        "max_sequence_length": setup.text_len,
    }
    if batched:
        guided: Any = batched_guidance(
            {pipe.transformer: setup.guidance}, {"encoder_hidden_states": negative}
        )
        arguments |= {"prompt_embeds": positive, "guidance_scale": 1.0}
    else:
        guided = nullcontext()
        arguments |= {
            "prompt_embeds": positive,
            "negative_prompt_embeds": negative,
            "guidance_scale": setup.guidance,
        }
    sync(setup.device)
    started = time.perf_counter()
    with torch.inference_mode(), guided:
        video = pipe(**arguments).frames[0]
    sync(setup.device)
    return np.asarray(video), clock, started, time.perf_counter()


def measure(
    setup: Setup,
    name: str,
    pipe: Any,
    embeds: tuple[torch.Tensor, torch.Tensor],
    batched: bool,
    applied: list[str],
) -> Row:
    warm_started = time.perf_counter()
    for _ in range(setup.warmup):
        # Short calls at the same shapes: compilation, autotuning and allocator growth happen here.
        run(setup, pipe, embeds, batched, steps=2)
    if setup.warmup:
        print(f"  {name}: warm-up {time.perf_counter() - warm_started:.1f} s", flush=True)
    with measured_memory(setup.device) as memory:
        video, clock, started, ended = run(setup, pipe, embeds, batched, setup.steps)
    marks = clock.marks
    durations = [b - a for a, b in itertools.pairwise(marks)] or [marks[0] - started]
    return Row(
        name=name,
        applied=applied,
        step_seconds=statistics.median(durations),
        video_seconds=ended - started,
        decode_seconds=ended - marks[-1],
        peak_gib=memory[0] if memory else None,
        video=video,
    )


def benchmark(setup: Setup, rows: list[str]) -> list[Row]:
    from diffusers import AutoencoderKLWan

    torch.manual_seed(setup.seed + 1)
    with setup.device:
        vae = AutoencoderKLWan(**setup.vae_config)
    vae = vae.eval().requires_grad_(False)  # float32, as the model card loads it

    generator = torch.Generator(device="cpu").manual_seed(setup.seed + 2)
    shape = (1, setup.text_len, setup.transformer_config["text_dim"])
    embeds = (
        torch.randn(shape, generator=generator).to(setup.device, torch.bfloat16),
        torch.randn(shape, generator=generator).to(setup.device, torch.bfloat16),
    )
    configurations: dict[str, tuple[Speedups | None, bool]] = {
        "stock": (None, False),
        "ours": (Speedups(compile=setup.compile, attention="auto"), True),
        "ours+cache": (
            Speedups(compile=setup.compile, attention="auto", cache="first_block"),
            True,
        ),
    }
    results: list[Row] = []
    for name in rows:
        speedups, batched = configurations[name]
        # Each row gets its own transformer (the same seeded weights): compile and cache hooks
        # change the module they are applied to.
        pipe = build_pipeline(setup, build_transformer(setup), vae)
        if speedups is None:
            pipe.to(setup.device)
            applied = ["bf16", "attention:default", "cfg:two-pass"]
        else:
            applied = ["bf16", *apply_speedups(pipe, speedups, setup.device), "cfg:batched"]
        print(f"  {name}: {', '.join(applied)}", flush=True)
        results.append(measure(setup, name, pipe, embeds, batched, applied))
        del pipe
        gc.collect()
        if setup.device.type == "cuda":
            torch.cuda.empty_cache()
    return results


def report(setup: Setup, results: list[Row]) -> None:
    peak, source = peak_tflops(setup.device)
    flops_step = 2 * transformer_flops(
        setup.transformer_config, setup.frames, setup.height, setup.width, setup.text_len
    )
    print(f"\npeak {peak:.4g} TFLOPS bf16 ({source})")
    print(
        f"transformer: {flops_step / 1e12:.4g} TFLOP per step (CFG: 2 calls),"
        f" {flops_step * setup.steps / 1e15:.4g} PFLOP per video\n"
    )
    base = next((row for row in results if row.name == "stock"), None)
    header = (
        f"{'config':<12} {'s/step':>8} {'s/video':>9} {'decode s':>9} {'peak GiB':>9}"
        f" {'% bf16 peak':>12} {'speed-up':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in results:
        share = flops_step / row.step_seconds / (peak * 1e12) * 100
        speedup = f"{base.video_seconds / row.video_seconds:.2f}x" if base else "-"
        memory = f"{row.peak_gib:.1f}" if row.peak_gib is not None else "-"
        print(
            f"{row.name:<12} {row.step_seconds:>8.3f} {row.video_seconds:>9.2f}"
            f" {row.decode_seconds:>9.2f} {memory:>9} {share:>11.3g}% {speedup:>9}"
        )
    if base:
        print()
        for row in results:
            if row is not base:
                step_ratio = base.step_seconds / row.step_seconds
                difference = float(np.abs(row.video - base.video).mean())
                print(
                    f"{row.name}: {step_ratio:.2f}x per step; mean |pixel difference| from"
                    f" stock {difference:.4f} (0..1 scale)"
                )
    if any(row.name == "ours+cache" for row in results):
        print("(ours+cache: % of peak counts every block, so it is an effective figure)")


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"size is WIDTHxHEIGHT, e.g. 832x480: {text!r}") from error
    if width % 16 or height % 16 or width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"width and height must be multiples of 16: {text!r}")
    return width, height


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, help="denoising steps (default 50; --tiny: 2)")
    parser.add_argument("--frames", type=int, help="frames, 4k+1 (default 81; --tiny: 9)")
    parser.add_argument(
        "--size", type=parse_size, help="WIDTHxHEIGHT (default 832x480; --tiny: 32x32)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed 2-step calls per row")
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument(
        "--rows", default="stock,ours,ours+cache", help="which rows, comma-separated"
    )
    parser.add_argument("--device", help="default: cuda if there is one, else cpu")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile in the ours rows (default: on, except --tiny on a CPU)",
    )
    parser.add_argument("--tiny", action="store_true", help="tiny models: checks the script runs")
    args = parser.parse_args(argv)

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    width, height = args.size or ((32, 32) if args.tiny else (832, 480))
    frames = args.frames or (9 if args.tiny else 81)
    if frames % 4 != 1:
        parser.error(f"--frames must be 4k+1 (the VAE packs 4 frames per latent): {frames}")
    rows = [name.strip() for name in args.rows.split(",") if name.strip()]
    unknown = sorted(set(rows) - {"stock", "ours", "ours+cache"})
    if unknown:
        parser.error(f"unknown rows {unknown}: choose from stock, ours, ours+cache")
    setup = Setup(
        device=device,
        transformer_config=TINY if args.tiny else WAN_1_3B,
        vae_config=TINY_VAE if args.tiny else WAN_VAE,
        text_len=TINY_TEXT_LEN if args.tiny else TEXT_LEN,
        width=width,
        height=height,
        frames=frames,
        steps=args.steps or (2 if args.tiny else 50),
        warmup=args.warmup,
        guidance=args.guidance,
        compile=args.compile
        if args.compile is not None
        else not (args.tiny and device.type == "cpu"),
    )
    model = "tiny Wan" if args.tiny else "Wan2.1-T2V-1.3B (random weights)"
    print(
        f"{model}: {width}x{height}, {frames} frames, {setup.steps} steps, CFG {setup.guidance},"
        f" on {device}; torch {torch.__version__}",
        flush=True,
    )
    results = benchmark(setup, rows)
    report(setup, results)


if __name__ == "__main__":
    main()
