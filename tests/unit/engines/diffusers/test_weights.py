"""Weights directories are checked before loading: what is wrong is said once, with the path."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from kirin_api.engines.diffusers.weights import WeightsError, inspect_weights


def safetensors(path: Path, payload: int = 16) -> None:
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [payload // 4], "data_offsets": [0, payload]}}
    )
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"\0" * payload)


def pipeline_dir(root: Path) -> Path:
    root.mkdir()
    (root / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "WanPipeline",
                "_diffusers_version": "0.42.1",
                "scheduler": ["diffusers", "UniPCMultistepScheduler"],
                "tokenizer": ["transformers", "PreTrainedTokenizerFast"],
                "transformer": ["diffusers", "WanTransformer3DModel"],
                "transformer_2": [None, None],
            }
        )
    )
    (root / "scheduler").mkdir()
    (root / "scheduler" / "scheduler_config.json").write_text("{}")
    (root / "tokenizer").mkdir()
    (root / "tokenizer" / "tokenizer.json").write_text("{}")
    (root / "transformer").mkdir()
    (root / "transformer" / "config.json").write_text("{}")
    safetensors(root / "transformer" / "diffusion_pytorch_model.safetensors")
    return root


def test_a_good_directory(tmp_path: Path) -> None:
    info = inspect_weights(pipeline_dir(tmp_path / "w"))
    assert info.pipeline == "WanPipeline"
    assert info.components == ("scheduler", "tokenizer", "transformer")
    assert info.size_bytes > 16


def test_what_is_wrong_is_named(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not a directory"):
        inspect_weights(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WeightsError, match=r"no model_index\.json"):
        inspect_weights(empty)

    root = pipeline_dir(tmp_path / "a")
    (root / "model_index.json").write_text("{not json")
    with pytest.raises(WeightsError, match=r"model_index\.json: unreadable"):
        inspect_weights(root)

    root = pipeline_dir(tmp_path / "b")
    (root / "transformer" / "config.json").unlink()
    with pytest.raises(WeightsError, match=r"transformer: no config\.json"):
        inspect_weights(root)

    root = pipeline_dir(tmp_path / "c")
    (root / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(WeightsError, match="no weight files"):
        inspect_weights(root)

    root = pipeline_dir(tmp_path / "d")
    (root / "tokenizer" / "tokenizer.json").unlink()
    with pytest.raises(WeightsError, match="tokenizer: none of"):
        inspect_weights(root)


def test_a_truncated_weights_file_is_caught(tmp_path: Path) -> None:
    root = pipeline_dir(tmp_path / "w")
    weights = root / "transformer" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-5])
    with pytest.raises(WeightsError, match="truncated"):
        inspect_weights(root)
    weights.write_bytes(b"\xff" * 8 + b"{}")
    with pytest.raises(WeightsError, match="corrupt safetensors header"):
        inspect_weights(root)
