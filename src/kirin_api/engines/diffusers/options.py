"""One model's settings for the diffusers engine, read from its table in ``KIRIN_ENGINES_FILE``.

::

    [models.kirin_v1_t2v]
    engine = "diffusers"
    weights = "/models/Wan2.1-T2V-1.3B-Diffusers"   # a save_pretrained directory
    steps = 30
    size = "832x480"      # internal generation size for landscape; other aspects keep the area
    compile = true

Every option is checked here, before any weights are touched, and an unknown or malformed one is
an :class:`OptionsError` naming the model, the option and the rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from kirin_api.engines.diffusers.acceleration import Speedups

# Wan's VAE compresses 8x in space and the transformer patches 2x2: sides are multiples of 16.
SIDE_MULTIPLE = 16
# Wan's VAE compresses 4x in time: frame counts are 4k + 1.
FRAME_STEP = 4
DEFAULT_SIZE = (832, 480)  # Wan 480p
DEFAULT_FPS = 16  # Wan's native frame rate
# cfg_scale in [0, 1] (Kirin) onto classifier-free guidance: 0.5 (the default) gives 5.0,
# the Wan model cards' value; 0 gives 1.0, which switches guidance off (one pass per step).
DEFAULT_GUIDANCE_RANGE = (1.0, 9.0)
DTYPES = ("bfloat16", "float16", "float32")
DEVICES = ("auto", "cuda", "cpu")


class OptionsError(ValueError):
    """An option in the engines file is unknown or breaks its rule."""


@dataclass(frozen=True)
class DiffusersOptions:
    """What one model runs on and how; see docs/gpu-engine.md for every option."""

    weights: Path
    # A WanVACEPipeline for what the main weights cannot do (motion brush, references,
    # subjects) where the main weights are an image-to-video or text-to-video pipeline.
    vace_weights: Path | None = None
    steps: int = 30
    size: tuple[int, int] = DEFAULT_SIZE
    # Frames generated per clip; None: ``fps`` x the clip's duration, rounded up to 4k + 1.
    frames: int | None = None
    fps: int = DEFAULT_FPS
    guidance_range: tuple[float, float] = DEFAULT_GUIDANCE_RANGE
    flow_shift: float | None = None
    negative_prompt: str = ""
    dtype: str = "bfloat16"
    device: str = "auto"
    seed_offset: int = 0
    # mode "pro": generate at pro_size with pro_steps where given, else upscale the std size.
    pro_size: tuple[int, int] | None = None
    pro_steps: int | None = None
    # Virtual camera (kirin_v1_t2v camera_control): the plate may be generated up to this many
    # times the view's size per side; a move that needs more films a narrower view instead.
    max_plate: float = 1.5
    conditioning_scale: float = 1.0  # VACE control strength
    preload: bool = False  # load the weights when the worker starts rather than on first use
    speedups: Speedups = field(default_factory=Speedups)

    def guidance(self, cfg_scale: float | None) -> float:
        """The guidance scale for a request's ``cfg_scale`` (None: the contract's 0.5)."""
        low, high = self.guidance_range
        return low + (0.5 if cfg_scale is None else float(cfg_scale)) * (high - low)

    def steps_for(self, mode: str | None) -> int:
        return self.pro_steps if mode == "pro" and self.pro_steps else self.steps

    def base_size(self, mode: str | None) -> tuple[int, int]:
        return self.pro_size if mode == "pro" and self.pro_size else self.size

    def frames_for(self, seconds: float) -> int:
        """Frames to generate for a clip of ``seconds``: the configured count, or the native
        frame rate's worth rounded up to the VAE's 4k + 1."""
        if self.frames is not None:
            return self.frames
        wanted = max(1, math.ceil(seconds * self.fps))
        return FRAME_STEP * math.ceil(wanted / FRAME_STEP) + 1


def generation_size(base: tuple[int, int], aspect: float) -> tuple[int, int]:
    """The generation size for an output of ``aspect`` (width / height).

    The configured size is used as is when its aspect (or, for portrait, its transpose) is
    within 5% of the output's; otherwise the area is kept and the sides follow the aspect.
    Sides are multiples of 16; the result is cover-fitted to the output later.
    """
    width, height = base
    for w, h in ((width, height), (height, width)):
        if abs(w / h - aspect) / aspect < 0.05:
            return w, h
    area = width * height
    w = snap(math.sqrt(area * aspect))
    h = snap(math.sqrt(area / aspect))
    return w, h


def snap_up(side: float) -> int:
    """The smallest side of at least ``side`` that the VAE and the patches accept."""
    return SIDE_MULTIPLE * max(1, math.ceil(side / SIDE_MULTIPLE - 1e-9))


def snap(side: float) -> int:
    """The nearest side the VAE and the patches accept (a multiple of 16, at least 16)."""
    return max(SIDE_MULTIPLE, SIDE_MULTIPLE * round(side / SIDE_MULTIPLE))


# --- parsing -------------------------------------------------------------------------------


def parse_options(model: str, table: Mapping[str, Any]) -> DiffusersOptions:
    """The options of ``model``'s table (``engine`` itself excluded); raises OptionsError."""
    reader = _Reader(model, table)
    options = DiffusersOptions(
        weights=reader.path("weights", required=True) or Path(),
        vace_weights=reader.path("vace_weights"),
        steps=reader.integer("steps", 30, low=1, high=1000),
        size=reader.size("size") or DEFAULT_SIZE,
        frames=reader.frame_count("frames"),
        fps=reader.integer("fps", DEFAULT_FPS, low=1, high=60),
        guidance_range=reader.guidance_range(),
        flow_shift=reader.number("flow_shift", None, low=0.0, high=100.0),
        negative_prompt=reader.text("negative_prompt", ""),
        dtype=reader.choice("dtype", "bfloat16", DTYPES),
        device=reader.choice("device", "auto", DEVICES),
        seed_offset=reader.integer("seed_offset", 0, low=0, high=2**31),
        pro_size=reader.size("pro_size"),
        pro_steps=reader.integer_or_none("pro_steps", low=1, high=1000),
        max_plate=reader.number("max_plate", 1.5, low=1.0, high=3.0) or 1.5,
        conditioning_scale=reader.number("conditioning_scale", 1.0, low=0.0, high=2.0) or 0.0,
        preload=reader.boolean("preload", False),
        speedups=_speedups(reader),
    )
    reader.finish()
    return options


def _speedups(reader: _Reader) -> Speedups:
    defaults = Speedups()
    try:
        return Speedups(
            # On by default on a GPU, where compiling once pays back over the warm pipeline's
            # many calls; off on a CPU, where it only adds the compile time.
            compile=reader.boolean("compile", _on_gpu(reader)),
            attention=reader.text("attention", defaults.attention),
            cache=reader.text("cache", defaults.cache),
            cache_threshold=reader.number(
                "cache_threshold", defaults.cache_threshold, low=1e-6, high=10.0
            ),
            vae_tiling=reader.boolean("vae_tiling", defaults.vae_tiling),
            offload=reader.text("offload", defaults.offload),
            batch_cfg=reader.boolean("batch_cfg", defaults.batch_cfg),
            mag_ratios=reader.numbers("mag_ratios"),
        )
    except ValueError as exc:  # an unknown attention backend, cache or offload name
        raise OptionsError(f"[models.{reader.model}]: {exc}") from exc


def _on_gpu(reader: _Reader) -> bool:
    return resolve_device(reader.peek("device") or "auto").type == "cuda"


def resolve_device(name: str) -> torch.device:
    """The device for the ``device`` option: ``auto`` is the GPU where there is one."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class _Reader:
    """Reads options one by one, remembering which were used so leftovers can be refused."""

    def __init__(self, model: str, table: Mapping[str, Any]) -> None:
        self.model = model
        self._table = {k: v for k, v in table.items() if k != "engine"}
        self._used: set[str] = set()

    def peek(self, key: str) -> Any:
        """A value without marking it read (for another option's default)."""
        return self._table.get(key)

    def _get(self, key: str) -> Any:
        self._used.add(key)
        return self._table.get(key)

    def _error(self, key: str, rule: str, value: Any) -> OptionsError:
        return OptionsError(f"[models.{self.model}] {key} {rule}, got {value!r}")

    def finish(self) -> None:
        unknown = sorted(set(self._table) - self._used)
        if unknown:
            raise OptionsError(
                f"[models.{self.model}] unknown diffusers options {unknown}; known: "
                f"{', '.join(sorted(self._used))}"
            )

    def path(self, key: str, *, required: bool = False) -> Path | None:
        value = self._get(key)
        if value is None:
            if required:
                raise OptionsError(
                    f"[models.{self.model}] {key} is required: the directory of a diffusers "
                    "pipeline saved with save_pretrained"
                )
            return None
        if not isinstance(value, str) or not value.strip():
            raise self._error(key, "must be a directory path (a string)", value)
        return Path(value).expanduser()

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        value = self.integer_or_none(key, low=low, high=high)
        return default if value is None else value

    def integer_or_none(self, key: str, *, low: int, high: int) -> int | None:
        value = self._get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._error(key, f"must be an integer from {low} to {high}", value)
        return value

    def number(self, key: str, default: float | None, *, low: float, high: float) -> float | None:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._error(key, "must be a number", value)
        if not low <= float(value) <= high:
            raise self._error(key, f"must be from {low:g} to {high:g}", value)
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._error(key, "must be true or false", value)
        return value

    def text(self, key: str, default: str) -> str:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self._error(key, "must be a string", value)
        return value

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(key, default)
        if value not in allowed:
            raise self._error(key, f"must be one of {', '.join(allowed)}", value)
        return value

    def size(self, key: str) -> tuple[int, int] | None:
        value = self._get(key)
        if value is None:
            return None
        rule = f'must be "WxH" with sides multiples of {SIDE_MULTIPLE} from 16 to 4096'
        if not isinstance(value, str) or value.count("x") != 1:
            raise self._error(key, rule, value)
        w_text, h_text = value.lower().split("x")
        if not (w_text.isdigit() and h_text.isdigit()):
            raise self._error(key, rule, value)
        w, h = int(w_text), int(h_text)
        if not all(16 <= s <= 4096 and s % SIDE_MULTIPLE == 0 for s in (w, h)):
            raise self._error(key, rule, value)
        return w, h

    def frame_count(self, key: str) -> int | None:
        value = self.integer_or_none(key, low=1, high=1025)
        if value is not None and value % FRAME_STEP != 1:
            raise self._error(key, "must be 4k + 1 (Wan's VAE packs 4 frames per latent)", value)
        return value

    def numbers(self, key: str) -> tuple[float, ...] | None:
        value = self._get(key)
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise self._error(key, "must be a non-empty list of numbers", value)
        return tuple(float(v) for v in value)

    def guidance_range(self) -> tuple[float, float]:
        value = self._get("guidance_range")
        if value is None:
            return DEFAULT_GUIDANCE_RANGE
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            or not 0.0 <= value[0] <= value[1] <= 30.0
        ):
            raise self._error(
                "guidance_range", "must be [low, high] with 0 <= low <= high <= 30", value
            )
        return float(value[0]), float(value[1])
