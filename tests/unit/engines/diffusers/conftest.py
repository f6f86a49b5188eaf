"""The tiny Wan pipelines, built once per test session (tests/diffusers_models.py).

Tests get the saved directories and load their own pipeline from them (tens of milliseconds), so
that nothing one test does to a pipeline (hooks, caches, offload) leaks into another.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.diffusers_models import build_i2v, build_t2v, build_vace

# Everything is built and loaded from local directories: make sure nothing asks the Hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-wan")


@pytest.fixture(scope="session")
def t2v_dir(tiny_root: Path) -> Path:
    """A saved tiny WanPipeline (text to video)."""
    return build_t2v(tiny_root / "t2v")


@pytest.fixture(scope="session")
def flf2v_dir(tiny_root: Path) -> Path:
    """A saved tiny WanImageToVideoPipeline, Wan 2.1 first-and-last-frame layout."""
    return build_i2v(tiny_root / "flf2v")


@pytest.fixture(scope="session")
def i2v_dir(tiny_root: Path) -> Path:
    """A saved tiny WanImageToVideoPipeline, Wan 2.1 first-frame-only layout."""
    return build_i2v(tiny_root / "i2v", layout="wan2.1-i2v")


@pytest.fixture(scope="session")
def a14b_dir(tiny_root: Path) -> Path:
    """A saved tiny WanImageToVideoPipeline, Wan 2.2 A14B layout (two transformers)."""
    return build_i2v(tiny_root / "a14b", layout="wan2.2-a14b")


@pytest.fixture(scope="session")
def vace_dir(tiny_root: Path) -> Path:
    """A saved tiny WanVACEPipeline."""
    return build_vace(tiny_root / "vace")
