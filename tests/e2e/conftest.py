from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Kirin
from tests.file_server import FileServer, serve_files


@pytest.fixture(scope="module")
def kirin(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kirin]:
    """A server with one worker, shared by the tests of a module; the module's ``KIRIN_ENV``
    (a dict), where it has one, adds settings."""
    server = Kirin(tmp_path_factory.mktemp("kirin"), env=getattr(request.module, "KIRIN_ENV", None))
    server.start_server(workers=1)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def files() -> Iterator[FileServer]:
    """An HTTP server on loopback for input URLs, shared by the tests of a module."""
    with serve_files() as server:
        yield server


@pytest.fixture
def fresh_kirin(tmp_path: Path) -> Iterator[Kirin]:
    """A server of one test's own, not started: the test decides how."""
    server = Kirin(tmp_path / "data", env={"KIRIN_LEASE_SECONDS": "2"})
    yield server
    server.stop()
