"""A real S3-compatible server (moto's server mode) as a process on loopback, for the S3 tests.

Credentials are dummies handed to clients directly (and to child processes in their own
environment); nothing here changes this process's ``os.environ``.

Moto serves S3 faithfully enough for storage round trips, multipart uploads, content types and
bucket errors, but it does not check the signature or the expiry of presigned URLs: a tampered
or expired one still answers 200. Tests check those properties of our URLs with their own SigV4
verifier (``verify_presigned_url``) instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

ACCESS_KEY = "kirin-test-access-key"
SECRET_KEY = "kirin-test-secret-key"
REGION = "us-east-1"

MISSING_REASON = (
    "the S3-compatible test server is not installed: pip install 'moto[server]' boto3 "
    "(both are in the dev extra)"
)


def s3_server_available() -> bool:
    """Whether moto's server mode and boto3 can be used here."""
    return all(importlib.util.find_spec(name) is not None for name in ("moto", "flask", "boto3"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class S3Server:
    """A running moto server; ``endpoint_url`` is what KIRIN_S3_ENDPOINT_URL would be."""

    endpoint_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self) -> Any:
        """An S3 client of this server with the dummy credentials, as the storage makes them."""
        from kirin_api.storage.s3 import make_client

        return make_client(
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def env(self) -> dict[str, str]:
        """The variables a Kirin process needs to use this server (for its own environment)."""
        return {
            "KIRIN_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def running_s3_server(log_dir: Path, timeout: float = 30.0) -> Iterator[S3Server]:
    """Start ``python -m moto.server`` on a free loopback port, wait until it answers, stop it
    on the way out (also when the test fails)."""
    port = _free_port()
    log_path = log_dir / f"moto-{port}.log"
    log = log_path.open("ab")
    # The child's own environment: moto must not pick up real AWS settings or proxies.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key.lower() not in {"http_proxy", "https_proxy"}
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=log,
        env=env,
    )
    server = S3Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited: {log_path.read_text()[-3000:]}")
            try:
                httpx.get(server.endpoint_url + "/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start in {timeout} s") from None
                time.sleep(0.1)
        yield server
    finally:
        server.stop()
        log.close()


# --- an independent check of presigned URLs (moto does not check them) ----------------------


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def verify_presigned_url(
    url: str,
    *,
    access_key_id: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    now: dt.datetime | None = None,
) -> bool:
    """Whether ``url`` is a valid, unexpired SigV4 presigned GET of ``secret_key``, computed
    here from the SigV4 specification (not with botocore, which made the URL)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or params.get("X-Amz-SignedHeaders") != (
        "host"
    ):
        return False
    try:
        signed_at = dt.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=dt.UTC
        )
        expires = int(params["X-Amz-Expires"])
        access_key, date, region, service, terminator = params["X-Amz-Credential"].split("/")
        signature = params["X-Amz-Signature"]
    except (KeyError, ValueError):
        return False
    now = now or dt.datetime.now(dt.UTC)
    if now > signed_at + dt.timedelta(seconds=expires):
        return False
    canonical_query = "&".join(
        f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(query) if k != "X-Amz-Signature"
    )
    canonical_request = "\n".join(
        ["GET", parts.path, canonical_query, f"host:{parts.netloc}\n", "host", "UNSIGNED-PAYLOAD"]
    )
    scope = f"{date}/{region}/{service}/{terminator}"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            params["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, service, terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return access_key == access_key_id and hmac.compare_digest(expected, signature)
