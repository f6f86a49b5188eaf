"""Hostile inputs cost bounded memory: the API under 40 concurrent 49 MP PNG submits, and the
worker's check of a 16000x16000 MP4.

Run: ``.venv/bin/python bench/hostile_inputs.py`` (``--compare-src PATH``: also run both parts
with another checkout's ``src``, e.g. the code before this change, as the baseline; without it the
baseline is the same server idle).

1. ``kirin serve --workers 0`` (the API alone) as a process; ``SUBMITS`` threads post a
   ``kirin_v1_i2v`` task at once, each with a 7000x7000 all-zero PNG (49 MP, about 190 KB) as
   base64, while another thread asks ``/healthz`` every 20 ms. Figures: the API process's peak
   and final RSS (sampled every 20 ms from /proc), ``/healthz`` p50/p99/max, and how long the
   submits took. Goals: peak RSS under 1 GB, ``/healthz`` p99 under 200 ms.
2. A 16000x16000 H.264 MP4 (752 KB; made once, in a child process, cached in the temp dir) is
   checked with the worker's video check (``check_video`` with ``kirin_v3_motion_control``'s
   rules) in a fresh process; the figure is that process's peak RSS growth over its RSS after
   the imports. Goal: under 200 MB.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

import argparse  # noqa: E402
import base64  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import httpx  # noqa: E402
from PIL import Image  # noqa: E402
from tests.e2e.harness import Kirin  # noqa: E402

SUBMITS = 40
SIDE = 7000
HEALTH_EVERY = 0.02
BIG_VIDEO = Path(tempfile.gettempdir()) / "kirin-bench-16000.mp4"


def rss_of(pid: int) -> int:
    """Resident bytes of ``pid`` and its children (uvicorn may run the app in a child)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def zeros_png_b64() -> str:
    out = io.BytesIO()
    Image.new("L", (SIDE, SIDE)).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def api_part(src: Path, image: str, label: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        kirin = Kirin(Path(scratch) / "data", env={"PYTHONPATH": str(src)})
        kirin.start_server(workers=0)
        assert kirin.server is not None
        try:
            key = kirin.create_key()
            pid = kirin.server.pid
            idle_rss = rss_of(pid)
            peak = [idle_rss]
            latencies: list[float] = []
            done = threading.Event()

            def sample() -> None:
                while not done.wait(HEALTH_EVERY):
                    peak[0] = max(peak[0], rss_of(pid))

            def health() -> None:
                with httpx.Client(base_url=kirin.base_url, timeout=60) as client:
                    while not done.is_set():
                        started = time.monotonic()
                        client.get("/healthz")
                        latencies.append(time.monotonic() - started)
                        time.sleep(HEALTH_EVERY)

            statuses: list[int] = []

            def submit() -> None:
                with kirin.client(key) as client:
                    client.timeout = httpx.Timeout(300)
                    body = {"model": "kirin_v1_i2v", "image": image, "prompt": "zeros"}
                    statuses.append(client.post("/model/v1/generation", json=body).status_code)

            watchers = [threading.Thread(target=sample), threading.Thread(target=health)]
            for thread in watchers:
                thread.start()
            time.sleep(0.5)  # a few idle health checks first
            idle_latencies = len(latencies)
            started = time.monotonic()
            threads = [threading.Thread(target=submit) for _ in range(SUBMITS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            took = time.monotonic() - started
            time.sleep(0.5)
            done.set()
            for thread in watchers:
                thread.join()
            loaded = sorted(latencies[idle_latencies:])
            idle = sorted(latencies[:idle_latencies])
            figures = {
                "idle_rss_mb": idle_rss / 2**20,
                "peak_rss_mb": peak[0] / 2**20,
                "final_rss_mb": rss_of(pid) / 2**20,
                "idle_health_p99_ms": 1000 * idle[int(0.99 * (len(idle) - 1))],
                "health_p50_ms": 1000 * statistics.median(loaded),
                "health_p99_ms": 1000 * loaded[int(0.99 * (len(loaded) - 1))],
                "health_max_ms": 1000 * loaded[-1],
                "submits_s": took,
                "accepted": float(statuses.count(200)),
            }
        finally:
            kirin.stop()
    print(f"API, {label}:")
    for name, value in figures.items():
        print(f"  {name:22} {value:10.1f}")
    return figures


def make_big_video() -> None:
    if BIG_VIDEO.exists():
        return
    script = f"""
import av, numpy as np
c = av.open({str(BIG_VIDEO)!r}, "w")
s = c.add_stream("libx264", rate=2)
s.width = s.height = 16000
s.pix_fmt = "yuv420p"
s.options = {{"preset": "ultrafast", "crf": "51"}}
frame = av.VideoFrame.from_ndarray(np.zeros((16000, 16000, 3), np.uint8), format="rgb24")
for _ in range(8):
    for p in s.encode(frame):
        c.mux(p)
for p in s.encode():
    c.mux(p)
c.close()
"""
    subprocess.run([sys.executable, "-c", script], check=True)


WORKER_CHECK = """
import resource, sys
from pathlib import Path
from kirin_api.contract.registry import media_refs
from kirin_api.contract.errors import InvalidMedia
from kirin_api.media.videos import check_video
params = {"image_url": "https://example.com/a.png", "video_url": "https://example.com/v.mp4",
          "character_orientation": "video", "mode": "std"}
rules = next(r.rules for r in media_refs("kirin_v3_motion_control", params) if r.kind == "video")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    check_video(Path(sys.argv[1]), rules, "video_url")
    outcome = "accepted"
except InvalidMedia as exc:
    outcome = exc.message
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) / 1024, outcome)
"""


def worker_part(src: Path, label: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, "-c", WORKER_CHECK, str(BIG_VIDEO)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    growth, outcome = done.stdout.strip().split(" ", 1)
    print(
        f"worker, {label}: 16000x16000 MP4 ({BIG_VIDEO.stat().st_size} bytes): "
        f"peak RSS growth {float(growth):.1f} MB; {outcome}"
    )
    return float(growth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare-src", type=Path, help="a baseline checkout's src directory")
    args = parser.parse_args()
    here = _ROOT / "src"
    image = zeros_png_b64()
    print(
        f"{SUBMITS} submits of a {SIDE}x{SIDE} PNG, {len(image) * 3 // 4} bytes; load "
        f"{os.getloadavg()[0]:.2f}"
    )
    now = api_part(here, image, "this checkout")
    make_big_video()
    grown = worker_part(here, "this checkout")
    if args.compare_src is not None:
        then = api_part(args.compare_src, image, f"baseline {args.compare_src}")
        grown_then = worker_part(args.compare_src, "baseline")
        print(
            f"peak API RSS: {now['peak_rss_mb']:.0f} MB vs {then['peak_rss_mb']:.0f} MB "
            f"({now['peak_rss_mb'] / then['peak_rss_mb']:.2f}x); /healthz p99: "
            f"{now['health_p99_ms']:.0f} ms vs {then['health_p99_ms']:.0f} ms; worker growth: "
            f"{grown:.0f} MB vs {grown_then:.0f} MB"
        )
    print(
        f"goals: peak API RSS < 1024 MB: {now['peak_rss_mb'] < 1024}; /healthz p99 < 200 ms: "
        f"{now['health_p99_ms'] < 200}; worker growth < 200 MB: {grown < 200}"
    )


if __name__ == "__main__":
    main()
