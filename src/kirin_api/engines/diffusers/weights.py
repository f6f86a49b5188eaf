"""Checks a weights directory before anything is loaded, so a bad one is reported at startup.

A diffusers ``save_pretrained`` directory holds ``model_index.json`` (the pipeline's class and
its components) and one folder per component. What is checked, without torch and without reading
the tensors: the index parses and names a pipeline class; every component it lists has its folder
with its config; every model component has weight files; every ``.safetensors`` file's header
parses and the file is as long as the header says (a truncated copy or download is the usual
breakage). Loading can still fail later (say, a config that does not fit the weights); that is
reported as the task's failure and the next task tries again.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
# Component folders that are not models (no weights expected).
_CONFIG_FILES = {
    "scheduler": ("scheduler_config.json",),
    "tokenizer": ("tokenizer.json", "tokenizer_config.json", "spiece.model"),
    "image_processor": ("preprocessor_config.json",),
    "feature_extractor": ("preprocessor_config.json",),
}
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header


class WeightsError(Exception):
    """The weights directory cannot be used; the message says what is wrong and where."""


@dataclass(frozen=True)
class WeightsInfo:
    """What a checked weights directory holds."""

    path: Path
    pipeline: str  # the pipeline's class name, e.g. "WanPipeline"
    components: tuple[str, ...]
    size_bytes: int  # all weight files together: what loading it costs in memory, roughly
    # The denoiser's config.json: what the recipes need to know before loading (whether an
    # image-to-video transformer takes a last frame, say).
    transformer_config: dict[str, Any] = field(default_factory=dict)


def inspect_weights(path: Path) -> WeightsInfo:
    """Check ``path`` as a diffusers pipeline directory; raises :class:`WeightsError`."""
    if not path.is_dir():
        raise WeightsError(f"{path}: not a directory (expected a save_pretrained pipeline)")
    index_path = path / "model_index.json"
    try:
        index = json.loads(index_path.read_text())
    except FileNotFoundError:
        raise WeightsError(
            f"{path}: no model_index.json; is this a diffusers pipeline directory?"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{index_path}: unreadable: {exc}") from exc
    if not isinstance(index, dict) or not isinstance(index.get("_class_name"), str):
        raise WeightsError(f"{index_path}: no _class_name naming the pipeline")
    components = []
    size = 0
    for name, entry in sorted(index.items()):
        if name.startswith("_") or not _is_component(entry):
            continue
        components.append(name)
        size += _check_component(path / name, name)
    transformer: dict[str, Any] = {}
    if "transformer" in components:
        try:
            transformer = json.loads((path / "transformer" / "config.json").read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WeightsError(
                f"{path / 'transformer' / 'config.json'}: unreadable: {exc}"
            ) from exc
    return WeightsInfo(path, index["_class_name"], tuple(components), size, transformer)


def _is_component(entry: Any) -> bool:
    # ["library", "ClassName"]; [null, null] marks an optional component left out.
    return (
        isinstance(entry, list) and len(entry) == 2 and all(isinstance(part, str) for part in entry)
    )


def _check_component(folder: Path, name: str) -> int:
    if not folder.is_dir():
        raise WeightsError(f"{folder}: missing (model_index.json lists the component {name!r})")
    wanted = _CONFIG_FILES.get(name.rstrip("_0123456789"))
    if wanted is not None:
        if not any((folder / f).is_file() for f in wanted):
            raise WeightsError(f"{folder}: none of {', '.join(wanted)} found")
        return 0
    if not (folder / "config.json").is_file():
        raise WeightsError(f"{folder}: no config.json")
    files = [f for f in folder.iterdir() if f.suffix in WEIGHT_SUFFIXES and f.is_file()]
    if not files:
        raise WeightsError(f"{folder}: no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    for file in files:
        if file.suffix == ".safetensors":
            _check_safetensors(file)
    return sum(f.stat().st_size for f in files)


def _check_safetensors(file: Path) -> None:
    """The header parses and the file holds every tensor the header lists."""
    size = file.stat().st_size
    try:
        with file.open("rb") as handle:
            raw = handle.read(8)
            if len(raw) < 8:
                raise WeightsError(f"{file}: truncated (no safetensors header)")
            (header_len,) = struct.unpack("<Q", raw)
            if header_len > min(_MAX_HEADER, size - 8):
                raise WeightsError(f"{file}: corrupt safetensors header length {header_len}")
            header = json.loads(handle.read(header_len))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{file}: unreadable safetensors header: {exc}") from exc
    if not isinstance(header, dict):
        raise WeightsError(f"{file}: corrupt safetensors header")
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2):
            raise WeightsError(f"{file}: corrupt entry {name!r} in the safetensors header")
        end = max(end, int(offsets[1]))
    if 8 + header_len + end > size:
        raise WeightsError(
            f"{file}: truncated: the header lists {8 + header_len + end} bytes, the file has {size}"
        )
