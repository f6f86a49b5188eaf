"""An S3-compatible server (moto's server mode) for the session, and S3 storages on it.

Skipped, with the reason, only where moto or boto3 is not installed; the dev extra has both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kirin_api.storage import S3BlobStorage
from tests.s3_server import MISSING_REASON, S3Server, running_s3_server, s3_server_available


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One moto server process on a loopback port for the whole session, stopped at its end."""
    if not s3_server_available():
        pytest.skip(MISSING_REASON)
    with running_s3_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_client(s3_server: S3Server) -> Any:
    return s3_server.client()


@pytest.fixture(scope="session")
def s3_bucket(s3_client: Any) -> str:
    name = "kirin-test-blobs"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_storage(s3_client: Any, s3_bucket: str) -> S3BlobStorage:
    """An empty storage: a prefix of its own in the session's bucket (prefixes are honoured)."""
    return S3BlobStorage(s3_bucket, f"tests/{uuid.uuid4().hex}", client=s3_client)
