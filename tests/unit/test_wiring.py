"""Configuration files read at the edges: the engines file and the pricing override."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kirin_api.contract.pricing import format_cost
from kirin_api.engines.preview import PreviewEngine
from kirin_api.settings import Settings
from kirin_api.wiring import build_pricing
from kirin_api.worker.engine_registry import EngineConfigError, build_engines, load_assignments

T2V = {"mode": "std", "duration": 5}


def test_without_an_engines_file_every_supported_model_runs_on_preview() -> None:
    engines = build_engines(load_assignments(None))
    assert isinstance(engines["kirin_v1_t2v"], PreviewEngine)


def test_engines_file_assigns_and_refuses_what_it_cannot_run(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[models.kirin_v1_t2v]\nengine = "preview"\n')
    engines = build_engines(load_assignments(good))
    # Every model that makes a video gets an engine; kirin_custom_elements needs none.
    assert set(engines) == {
        "kirin_v1_t2v",
        "kirin_v1_i2v",
        "kirin_v1_6_multi_i2v",
        "kirin_v3_i2v",
        "kirin_v3_motion_control",
    }

    unknown_model = tmp_path / "model.toml"
    unknown_model.write_text('[models.kirin_v9]\nengine = "preview"\n')
    with pytest.raises(EngineConfigError, match="kirin_v9"):
        load_assignments(unknown_model)

    unknown_engine = tmp_path / "engine.toml"
    unknown_engine.write_text('[models.kirin_v1_t2v]\nengine = "warp-drive"\n')
    with pytest.raises(EngineConfigError, match="warp-drive"):
        build_engines(load_assignments(unknown_engine))

    with pytest.raises(EngineConfigError, match="cannot read"):
        load_assignments(tmp_path / "missing.toml")


def test_pricing_file_overrides_the_defaults(tmp_path: Path) -> None:
    assert format_cost(build_pricing(Settings()).cost("kirin_v1_t2v", T2V)) == "0.1400"
    prices = tmp_path / "prices.toml"
    prices.write_text('[kirin_v1_t2v.std]\n5 = "0.25"\n')
    table = build_pricing(Settings(pricing_file=prices))
    assert table.cost("kirin_v1_t2v", T2V) == Decimal("0.25")
    assert table.cost("kirin_v1_t2v", {"mode": "pro", "duration": 10}) == Decimal("0.98")
