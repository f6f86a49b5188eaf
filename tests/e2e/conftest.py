from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Kirin


@pytest.fixture(scope="module")
def kirin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kirin]:
    """A server with one worker, shared by the tests of a module."""
    server = Kirin(tmp_path_factory.mktemp("kirin"))
    server.start_server(workers=1)
    yield server
    server.stop()


@pytest.fixture
def fresh_kirin(tmp_path: Path) -> Iterator[Kirin]:
    """A server of one test's own, not started: the test decides how."""
    server = Kirin(tmp_path / "data", env={"KIRIN_LEASE_SECONDS": "2"})
    yield server
    server.stop()
