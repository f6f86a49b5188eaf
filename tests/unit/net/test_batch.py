"""A task's URLs fetched at once under one task deadline, against real servers that trickle,
drip, stall and never end."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kirin_api.net.batch import FetchRequest, fetch_all
from kirin_api.net.errors import FetchError
from kirin_api.net.fetch import SafeFetcher
from tests.file_server import FileServer, serve_files

BODY = bytes(range(256)) * 40


@pytest.fixture
def server() -> Iterator[FileServer]:
    with serve_files() as files:
        yield files


def fetcher(timeout: float = 30.0) -> SafeFetcher:
    return SafeFetcher(allow_private=True, timeout=timeout)


def requests(urls: list[str], tmp_path: Path) -> list[FetchRequest]:
    return [
        FetchRequest(url, f"image_list.{i}.image", 1 << 20, tmp_path / f"in-{i}")
        for i, url in enumerate(urls)
    ]


def test_eight_trickling_urls_cost_one_trickle_not_eight(
    server: FileServer, tmp_path: Path
) -> None:
    # Each URL takes 1 s; one after another they would need 8 s, past the 5 s task deadline
    # (which leaves room for a loaded machine: all at once they take about 1 s).
    urls = [server.add_trickle(f"/slow-{i}.bin", BODY, seconds=1.0) for i in range(8)]
    got = fetch_all(fetcher(), requests(urls, tmp_path), deadline_seconds=5.0)
    assert sorted(got) == sorted(f"image_list.{i}.image" for i in range(8))
    for i in range(8):
        assert (tmp_path / f"in-{i}").read_bytes() == BODY


@pytest.mark.parametrize("kind", ["stall", "drip", "fast_drip"])
def test_the_task_deadline_bounds_every_hostile_server(
    server: FileServer, tmp_path: Path, kind: str
) -> None:
    good = server.add("/ok.bin", BODY)
    if kind == "stall":
        bad = server.add_stall("/bad")
    elif kind == "drip":
        bad = server.add_drip("/bad", interval=0.05)
    else:
        bad = server.add_drip("/bad", interval=0.01)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch_all(fetcher(), requests([good, bad], tmp_path), deadline_seconds=1.0)
    assert time.monotonic() - started < 5.0  # not the 30 s of the URL's own limit
    assert caught.value.reason == "timeout"
    assert caught.value.param == "image_list.1.image"
    assert "within 1 s" in caught.value.message


def test_an_endless_body_stops_at_the_size_cap(server: FileServer, tmp_path: Path) -> None:
    bad = server.add_endless("/endless")
    with pytest.raises(FetchError) as caught:
        fetch_all(fetcher(), requests([bad], tmp_path), deadline_seconds=10.0)
    assert caught.value.reason == "too_large"


def test_the_url_timeout_still_applies_inside_a_longer_task_deadline(
    server: FileServer, tmp_path: Path
) -> None:
    bad = server.add_stall("/stall")
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch_all(fetcher(timeout=0.5), requests([bad], tmp_path), deadline_seconds=30.0)
    assert time.monotonic() - started < 5.0
    assert caught.value.message == "image_list.0.image: timed out after 0.5 s"


def test_a_failure_stops_the_other_fetches(server: FileServer, tmp_path: Path) -> None:
    missing = server.base_url + "/missing"
    stalled = server.add_stall("/stall")
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch_all(fetcher(), requests([stalled, missing], tmp_path), deadline_seconds=30.0)
    assert caught.value.reason == "status"
    assert time.monotonic() - started < 5.0


def test_should_stop_cuts_every_fetch_within_a_fraction_of_a_second(
    server: FileServer, tmp_path: Path
) -> None:
    urls = [server.add_stall(f"/stall-{i}") for i in range(3)]
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch_all(
            fetcher(), requests(urls, tmp_path), deadline_seconds=30.0, should_stop=stop.is_set
        )
    assert caught.value.reason == "cancelled"
    assert time.monotonic() - started < 0.3 + 1.0
