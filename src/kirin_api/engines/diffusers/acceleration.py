"""Speed-ups for a loaded Wan pipeline: placement, attention, compile, step cache, batched CFG.

Everything here acts on a pipeline that is already loaded (in the dtype the caller chose) and
changes how it runs, never what it is: :func:`apply_speedups` once after loading,
:func:`set_cache_steps` before and :func:`batched_guidance` around each call. What the device or
the installed packages cannot do is skipped with a logged reason, so one configuration file serves
a laptop CPU and an H100 alike.

Exact or not: placement, attention kernels, ``compile``, VAE tiling and batched CFG compute the
same function (up to floating-point reordering); a step cache (FirstBlockCache, MagCache) reuses
earlier steps' residuals and so changes the result, more with a higher threshold.

Findings about diffusers 0.42 that shape this module:

- ``set_attention_backend`` also sets the process-wide *active* backend, which every model whose
  processors carry no backend of their own then uses; :func:`apply_speedups` puts the previous
  one back so that one pipeline's choice never leaks into another's.
- The Wan pipelines call the transformer with keyword arguments only, ``return_dict=False``, once
  per branch inside ``transformer.cache_context("cond")`` / ``("uncond")``; with
  ``guidance_scale <= 1`` they make the ``"cond"`` call only. Wan 2.2 pipelines switch to
  ``transformer_2`` (with ``guidance_scale_2``) below ``boundary_ratio * 1000``.
- FirstBlockCache and MagCache keep one state per cache context, so with batched CFG one state
  serves both halves of the batch (decided on the batch as a whole).
- MagCache needs magnitude ratios measured on the model (diffusers ships ratios for Flux only)
  and is tied to a step count: :func:`set_cache_steps` retunes it in place per call.
"""

from __future__ import annotations

import inspect
import logging
import math
import shutil
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import torch
from diffusers.hooks.first_block_cache import FirstBlockCacheConfig
from diffusers.hooks.mag_cache import MagCacheConfig, nearest_interp
from diffusers.models.attention_dispatch import AttentionBackendName

__all__ = [
    "ATTENTION_CHOICES",
    "CACHE_CHOICES",
    "DEFAULT_CACHE_THRESHOLDS",
    "OFFLOAD_CHOICES",
    "Speedups",
    "apply_speedups",
    "batched_guidance",
    "encode_prompts",
    "set_cache_steps",
    "transformers_of",
]

logger = logging.getLogger(__name__)

Pipeline = Any
"""A diffusers pipeline. (``diffusers.DiffusionPipeline`` resolves to an untyped dummy class for
type checkers, so spelling it out would check nothing.)"""

#: ``Speedups.attention`` values besides diffusers' backend names.
AUTO_ATTENTION: Final = "auto"
NATIVE_ATTENTION: Final = "native"
#: Every attention name :class:`Speedups` accepts: ``auto`` and diffusers' backends.
ATTENTION_CHOICES: Final[tuple[str, ...]] = (
    AUTO_ATTENTION,
    *sorted(backend.value for backend in AttentionBackendName),
)
CACHE_CHOICES: Final = ("none", "first_block", "mag")
OFFLOAD_CHOICES: Final = ("none", "model", "sequential")
#: The threshold each cache kind gets when ``Speedups.cache_threshold`` is None: diffusers'
#: own defaults (``FirstBlockCacheConfig``, ``MagCacheConfig``), the values its docs show.
DEFAULT_CACHE_THRESHOLDS: Final[Mapping[str, float]] = {"first_block": 0.05, "mag": 0.06}

# Backends that run on CUDA only, and those that also need half precision (their kernels have no
# float32 path). Everything outside the first set works wherever PyTorch's SDPA does.
_CUDA_ONLY: Final = frozenset(
    backend.value
    for backend in AttentionBackendName
    if backend.value.startswith(("flash", "_flash", "sage", "_sage", "aiter", "xformers"))
    or backend.value in ("_native_cudnn", "_native_flash", "_native_efficient")
)
_HALF_ONLY: Final = frozenset(
    name for name in _CUDA_ONLY if name not in ("_native_efficient", "xformers")
)
_HALF_DTYPES: Final = (torch.float16, torch.bfloat16)

# Transformer arguments that are not batched and so must not be doubled: VACE's per-layer scales.
_NOT_BATCHED: Final = frozenset({"control_hidden_states_scale"})

# MagCache's ratios as given, per transformer, so set_cache_steps can re-interpolate them.
_MAG_RATIOS: weakref.WeakKeyDictionary[torch.nn.Module, torch.Tensor] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Speedups:
    """What :func:`apply_speedups` (and the caller, for ``batch_cfg``) should try.

    Unknown names raise ``ValueError`` here, when the configuration is read; what a device cannot
    do is skipped later, when applied.
    """

    compile: bool = False
    """``torch.compile`` the transformer's repeated blocks (regional compilation)."""
    attention: str = AUTO_ATTENTION
    """A diffusers attention backend name, ``"native"`` (leave as is) or ``"auto"``: the fastest
    one available here (FlashAttention 3 / cuDNN on Hopper, FlashAttention 2, else native)."""
    cache: str = "none"
    """A step cache: ``"none"``, ``"first_block"`` (FirstBlockCache) or ``"mag"`` (MagCache,
    needs ``mag_ratios``). Changes the output."""
    cache_threshold: float | None = None
    """The cache's threshold (higher: more reuse, faster, further from exact); None: the kind's
    default in :data:`DEFAULT_CACHE_THRESHOLDS`."""
    vae_tiling: bool = False
    """Decode (and encode) the video in overlapping tiles: less memory, a little slower."""
    offload: str = "none"
    """``"none"``, ``"model"`` (one component on the GPU at a time) or ``"sequential"`` (one
    layer at a time: smallest memory, slowest) for GPUs too small for the whole pipeline."""
    batch_cfg: bool = True
    """Run both CFG branches as one batch (:func:`batched_guidance`; applied by the caller)."""
    mag_ratios: tuple[float, ...] | None = None
    """MagCache's per-step magnitude ratios for this model, calibrated for some step count
    (``MagCacheConfig(calibrate=True)`` prints them); re-interpolated to each call's count."""

    def __post_init__(self) -> None:
        _check_choice("attention", self.attention, ATTENTION_CHOICES)
        _check_choice("cache", self.cache, CACHE_CHOICES)
        _check_choice("offload", self.offload, OFFLOAD_CHOICES)
        if self.cache_threshold is not None and not (
            math.isfinite(self.cache_threshold) and self.cache_threshold > 0
        ):
            raise ValueError(
                f"cache_threshold must be a positive number, not {self.cache_threshold}"
            )
        if self.mag_ratios is not None and not self.mag_ratios:
            raise ValueError("mag_ratios must hold at least one ratio when given")

    @property
    def threshold(self) -> float:
        """The cache threshold in effect (the kind's default when none was given)."""
        if self.cache_threshold is not None:
            return self.cache_threshold
        return DEFAULT_CACHE_THRESHOLDS.get(self.cache, 0.0)


def _check_choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {option} {value!r}: allowed values are {', '.join(allowed)}")


def transformers_of(pipe: Pipeline) -> list[torch.nn.Module]:
    """The pipeline's denoisers: ``transformer`` and, for Wan 2.2 A14B, ``transformer_2``."""
    found = (getattr(pipe, name, None) for name in ("transformer", "transformer_2"))
    return [module for module in found if isinstance(module, torch.nn.Module)]


def apply_speedups(pipe: Pipeline, speedups: Speedups, device: torch.device) -> list[str]:
    """Place ``pipe`` on ``device`` and apply ``speedups``; return what was applied.

    The returned names are for logs and task metadata, in the order applied, e.g.
    ``["offload:model", "attention:_flash_3", "cache:first_block(0.05)", "compile",
    "vae_tiling"]``; ``attention:<name>`` is always there and names the kernel in effect
    (``native`` when nothing else could be set). What cannot be done on this device with the
    installed packages is skipped with a warning in the log, never an exception; an unknown name
    is a ``ValueError`` (raised by :class:`Speedups` itself). ``batch_cfg`` is not applied here:
    the caller honours it with :func:`batched_guidance`.

    Call it once per loaded pipeline. Order matters and is fixed here: placement first (offload
    hooks wrap whole components), then attention and cache hooks, then compile (so that the
    compiled blocks trace the hooks), then VAE tiling.
    """
    # Re-check in case a caller built the object around __post_init__ (object.__setattr__).
    Speedups.__post_init__(speedups)
    applied: list[str] = []
    transformers = transformers_of(pipe)

    applied += _place(pipe, speedups.offload, device)
    applied.append(f"attention:{_set_attention(transformers, speedups.attention, device)}")
    applied += _enable_cache(transformers, speedups)
    if speedups.compile:
        applied += _compile(transformers, speedups, device)
    if speedups.vae_tiling:
        applied += _tile_vae(pipe)
    logger.info("speed-ups applied on %s: %s", device, ", ".join(applied))
    return applied


def _skip(what: str, reason: str) -> list[str]:
    logger.warning("speed-up %s skipped: %s", what, reason)
    return []


def _place(pipe: Pipeline, offload: str, device: torch.device) -> list[str]:
    if offload != "none":
        if device.type == "cpu":
            reason = "offloading to the CPU only helps when the pipeline runs on an accelerator"
        else:
            reason = ""
            try:
                if offload == "model":
                    pipe.enable_model_cpu_offload(device=device)
                else:
                    pipe.enable_sequential_cpu_offload(device=device)
            except (ImportError, RuntimeError, ValueError) as error:  # e.g. accelerate missing
                reason = f"{type(error).__name__}: {error}"
            else:
                return [f"offload:{offload}"]
        _skip(f"offload:{offload}", reason)
    pipe.to(device)
    return []


def _set_attention(transformers: list[torch.nn.Module], name: str, device: torch.device) -> str:
    """Set the attention backend on every transformer; return the name in effect."""
    if name == NATIVE_ATTENTION or not transformers:
        return NATIVE_ATTENTION
    dtype = _dtype_of(transformers[0])
    if name == AUTO_ATTENTION:
        candidates = _attention_preference(device, dtype)
    else:
        reason = _attention_unusable(name, device, dtype)
        if reason:
            _skip(f"attention:{name}", reason)
            return NATIVE_ATTENTION
        candidates = [name]
    for candidate in candidates:
        reason = _try_set_attention(transformers, candidate)
        if not reason:
            return candidate
        _skip(f"attention:{candidate}", reason)
    return NATIVE_ATTENTION


def _dtype_of(module: torch.nn.Module) -> torch.dtype:
    dtype = getattr(module, "dtype", None)
    if isinstance(dtype, torch.dtype):
        return dtype
    return next((p.dtype for p in module.parameters()), torch.float32)


def _attention_unusable(name: str, device: torch.device, dtype: torch.dtype) -> str:
    """Why backend ``name`` cannot run here ("" when it can, as far as can be told up front)."""
    if name in _CUDA_ONLY and device.type != "cuda":
        return f"it needs a CUDA GPU and the pipeline runs on {device.type}"
    if name in _HALF_ONLY and dtype not in _HALF_DTYPES:
        return f"its kernels need float16 or bfloat16 and the transformer is {dtype}"
    return ""


def _attention_preference(device: torch.device, dtype: torch.dtype) -> list[str]:
    """What ``auto`` tries, best first, on this device and dtype.

    Hopper (SM 9.0): FlashAttention 3 if its interface is installed, then cuDNN's fused attention
    (cuDNN 9 has Hopper kernels that beat the FlashAttention 2 inside PyTorch's SDPA), then
    FlashAttention 2. Ampere/Ada: FlashAttention 2. Anything else, or float32: PyTorch's SDPA as
    is (``native``), which picks its own kernel. Hub-downloaded kernels (``*_hub``) are never
    chosen automatically: a worker must not depend on the network to start.
    """
    if device.type != "cuda" or dtype not in _HALF_DTYPES or not torch.cuda.is_available():
        return []
    from diffusers.models import attention_dispatch

    index = device.index if device.index is not None else torch.cuda.current_device()
    major, _minor = torch.cuda.get_device_capability(index)
    preference: list[str] = []
    if major == 9 and getattr(attention_dispatch, "_CAN_USE_FLASH_ATTN_3", False):
        preference.append(AttentionBackendName._FLASH_3.value)
    cudnn = torch.backends.cudnn
    cudnn_version = cudnn.version() if cudnn.is_available() else None  # type: ignore[no-untyped-call]
    if major >= 9 and cudnn_version is not None and cudnn_version >= 90000:
        preference.append(AttentionBackendName._NATIVE_CUDNN.value)
    if major >= 8 and getattr(attention_dispatch, "_CAN_USE_FLASH_ATTN", False):
        preference.append(AttentionBackendName.FLASH.value)
    return preference


def _try_set_attention(transformers: list[torch.nn.Module], name: str) -> str:
    """Set ``name`` on each transformer's processors; "" on success, else why not."""
    from diffusers.models.attention_dispatch import _AttentionBackendRegistry

    previous = _AttentionBackendRegistry._active_backend
    try:
        for transformer in transformers:
            transformer.set_attention_backend(name)  # type: ignore[operator]
    except (ImportError, RuntimeError, ValueError, OSError) as error:
        # Missing package, too old a version, a Hub kernel that cannot be fetched: fall back.
        for transformer in transformers:
            transformer.reset_attention_backend()  # type: ignore[operator]
        return f"{type(error).__name__}: {error}"
    finally:
        # set_attention_backend also sets the process-wide default that models without a backend
        # of their own use; our processors now carry theirs explicitly, so put it back.
        _AttentionBackendRegistry.set_active_backend(previous)
    return ""


def _enable_cache(transformers: list[torch.nn.Module], speedups: Speedups) -> list[str]:
    if speedups.cache == "none" or not transformers:
        return []
    threshold = speedups.threshold
    label = f"cache:{speedups.cache}({threshold:g})"
    if speedups.cache == "mag" and speedups.mag_ratios is None:
        return _skip(
            label,
            "MagCache needs mag_ratios measured on this model (run once with"
            " diffusers.hooks.MagCacheConfig(calibrate=True) to print them)",
        )
    for transformer in transformers:
        if not hasattr(transformer, "enable_cache"):
            return _skip(label, f"{type(transformer).__name__} has no enable_cache")
        if transformer.is_cache_enabled:
            transformer.disable_cache()  # type: ignore[operator]  # applied twice: replace it
        if speedups.cache == "first_block":
            transformer.enable_cache(FirstBlockCacheConfig(threshold=threshold))  # type: ignore[operator]
        else:
            assert speedups.mag_ratios is not None
            ratios = torch.tensor(speedups.mag_ratios, dtype=torch.float32)
            _MAG_RATIOS[transformer] = ratios
            config = MagCacheConfig(
                threshold=threshold, num_inference_steps=len(ratios), mag_ratios=ratios.clone()
            )
            transformer.enable_cache(config)  # type: ignore[operator]
    return [label]


def set_cache_steps(pipe: Pipeline, num_inference_steps: int) -> None:
    """Ready the step cache (if any) for a call of ``num_inference_steps`` steps: call before each.

    It forgets what the cache kept from an earlier call: the pipeline clears it only when a call
    ends normally, so after a call stopped by an exception (a cancellation raised from the step
    callback) the next video would otherwise start from the last one's residuals. And it tunes
    MagCache, which looks its ratio up by step index and counts steps to know when a video ends,
    to this call's count: in place, on the hooks' shared configuration, so compiled blocks are
    not recompiled. Without a cache it does nothing.
    """
    if num_inference_steps < 1:
        raise ValueError(f"num_inference_steps must be at least 1, not {num_inference_steps}")
    for transformer in transformers_of(pipe):
        config = getattr(transformer, "_cache_config", None)
        if config is None:
            continue
        ratios = _MAG_RATIOS.get(transformer)
        if isinstance(config, MagCacheConfig) and ratios is not None:
            config.num_inference_steps = num_inference_steps
            config.mag_ratios = nearest_interp(ratios, num_inference_steps)
        reset = getattr(transformer, "_reset_stateful_cache", None)
        if callable(reset):
            reset()


def _compile(
    transformers: list[torch.nn.Module], speedups: Speedups, device: torch.device
) -> list[str]:
    reason = _compile_unusable(speedups, device)
    if reason:
        return _skip("compile", reason)
    # The cache hooks decide on the host (tensor.item()) and are marked compiler.disable: a
    # graph break that fullgraph=True would turn into an error.
    fullgraph = speedups.cache == "none"
    for transformer in transformers:
        if getattr(transformer, "_repeated_blocks", None):
            # Regional compilation: each distinct block class is compiled once and reused by all
            # its instances, a fraction of the compile time of the whole model for the same speed.
            transformer.compile_repeated_blocks(fullgraph=fullgraph)  # type: ignore[operator]
        else:
            transformer.compile(fullgraph=fullgraph)
    return ["compile"]


def _compile_unusable(speedups: Speedups, device: torch.device) -> str:
    if speedups.offload == "sequential":
        return "sequential offload moves each layer's weights in and out during the call"
    if device.type == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            return "torch.compile needs Triton on CUDA and it is not installed"
    elif device.type == "cpu" and not any(shutil.which(cc) for cc in ("c++", "g++", "clang++")):
        return "torch.compile needs a C++ compiler on the CPU and none was found"
    return ""


def _tile_vae(pipe: Pipeline) -> list[str]:
    vae = getattr(pipe, "vae", None)
    if vae is None or not hasattr(vae, "enable_tiling"):
        return _skip("vae_tiling", f"{type(vae).__name__} has no tiled decoding")
    vae.enable_tiling()
    return ["vae_tiling"]


# ------------------------------------------------------------------------------------------------
# Prompts and batched classifier-free guidance


def encode_prompts(
    pipe: Pipeline,
    prompt: str,
    negative_prompt: str | None,
    device: torch.device,
    max_sequence_length: int = 512,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The conditional and unconditional prompt embeddings, by the pipeline's own ``encode_prompt``.

    No negative prompt means the empty one, as in the pipelines. Both come padded to
    ``max_sequence_length`` tokens (Wan zero-pads after the prompt's own length), shape
    ``(1, max_sequence_length, text_dim)``, in the text encoder's dtype. For batched CFG call the
    pipeline with ``prompt=None, prompt_embeds=<first>, guidance_scale=1.0`` inside
    ``batched_guidance(scales, {"encoder_hidden_states": <second>})``.
    """
    encode: Callable[..., tuple[torch.Tensor, torch.Tensor | None]] = pipe.encode_prompt
    with torch.no_grad():
        positive, negative = encode(
            prompt=prompt,
            negative_prompt=negative_prompt,
            do_classifier_free_guidance=True,
            num_videos_per_prompt=1,
            max_sequence_length=max_sequence_length,
            device=device,
        )
    assert negative is not None  # do_classifier_free_guidance=True always encodes it
    return positive, negative


@contextmanager
def batched_guidance(
    scales: Mapping[torch.nn.Module, float], negative: Mapping[str, torch.Tensor]
) -> Iterator[None]:
    """Make each transformer in ``scales`` compute classifier-free guidance in one batched call.

    While active, a call of such a transformer runs the conditional and unconditional branches as
    one batch of twice the size and returns ``uncond + scale * (cond - uncond)`` in the same form
    the transformer returns (a tuple for ``return_dict=False``, else its output object), so the
    pipeline, called with ``guidance_scale=1.0`` (one transformer call per step) and the
    conditional ``prompt_embeds``, steps with the guided prediction. Wan 2.2's two transformers
    each get their own scale (``guidance_scale`` and ``guidance_scale_2``).

    ``negative`` gives the unconditional value of each argument that differs between the branches
    (normally ``{"encoder_hidden_states": negative_prompt_embeds}``; cast to the conditional
    value's dtype and device). Every other tensor argument (``hidden_states``, ``timestep``,
    ``encoder_hidden_states_image``, ``control_hidden_states``, ...) is repeated along the batch;
    VACE's per-layer ``control_hidden_states_scale`` is left as it is.

    Calling the pipeline with ``guidance_scale > 1`` inside this context would guide twice: don't.
    The transformers are restored on exit, also when the body raises.
    """
    for module, scale in scales.items():
        if not math.isfinite(scale):
            raise ValueError(f"guidance scale of {type(module).__name__} is not finite: {scale}")
    patched: list[tuple[torch.nn.Module, Any]] = []
    try:
        for module, scale in scales.items():
            # The instance attribute, if any (accelerate's offload hooks and diffusers' hook
            # registry keep their wrappers there), is what we restore; absent means the class's.
            previous = module.__dict__.get("forward", _ABSENT)
            setattr(module, "forward", _guided_forward(module, scale, negative))  # noqa: B010
            patched.append((module, previous))
        yield
    finally:
        for module, previous in reversed(patched):
            if previous is _ABSENT:
                delattr(module, "forward")
            else:
                setattr(module, "forward", previous)  # noqa: B010


_ABSENT: Final = object()


def _guided_forward(
    module: torch.nn.Module, scale: float, negative: Mapping[str, torch.Tensor]
) -> Callable[..., Any]:
    forward: Callable[..., Any] = module.forward  # the current one, hooks and all
    # Name the arguments from the class's signature: a hook's wrapper is often (*args, **kwargs).
    signature = inspect.signature(type(module).forward)

    def guided(*args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(module, *args, **kwargs).arguments
        del arguments[next(iter(signature.parameters))]  # self
        for name in negative:
            if arguments.get(name) is None:
                raise TypeError(f"batched guidance: the transformer got no {name!r} to pair")
        doubled = {name: _double(name, value, negative) for name, value in arguments.items()}
        output = forward(**doubled)
        conditional, unconditional = _sample_of(output).chunk(2)
        # The pipelines' own formula, in the same order, so results match the two-pass run.
        return _with_sample(output, unconditional + scale * (conditional - unconditional))

    return guided


def _double(name: str, value: Any, negative: Mapping[str, torch.Tensor]) -> Any:
    if name in negative:
        other = negative[name].to(device=value.device, dtype=value.dtype)
        if other.shape[0] == 1 and value.shape[0] > 1:
            other = other.expand(value.shape[0], *other.shape[1:])
        return torch.cat([value, other])
    if isinstance(value, torch.Tensor) and value.ndim > 0 and name not in _NOT_BATCHED:
        return torch.cat([value, value])
    return value


def _sample_of(output: Any) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    sample = output[0] if isinstance(output, tuple) else getattr(output, "sample", None)
    if not isinstance(sample, torch.Tensor):
        raise TypeError(
            f"batched guidance: cannot find the prediction in a {type(output).__name__}"
        )
    return sample


def _with_sample(output: Any, sample: torch.Tensor) -> Any:
    if isinstance(output, torch.Tensor):
        return sample
    if isinstance(output, tuple):
        return (sample, *output[1:])
    return type(output)(**{**output, "sample": sample})
