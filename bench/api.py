"""The API against its framework: kirin-api's requests per second as a share of bare FastAPI's.

Run: ``.venv/bin/python bench/api.py`` (``--smoke``: one short round on SQLite, what the test runs;
``--databases sqlite`` for one database; ``--kirin-pythonpath DIR`` runs the server from another
checkout's ``src``, to measure a "before"). Needs ``wrk`` (Debian's package) and, for
PostgreSQL, the Debian server binaries (a throwaway server is started as the tests do).

On the same machine, with the same load generator (``wrk -t2 -c64``), two servers:

- bare: FastAPI on the same uvicorn, one process, answering GET with a static JSON object of the
  size kirin-api answers (the very object, parsed once) and POST by parsing the body and echoing
  it;
- kirin: ``kirin serve --workers 0`` (no rendering competes for the CPU), one API process unless
  ``--api-processes`` says otherwise.

Three operations, each run bare then kirin, ``--rounds`` times (alternating keeps the ratio fair
on a machine whose load changes): GET one completed task (auth, read, result URLs signed), GET the
task list (20 completed tasks), POST a kirin_v1_t2v task. For each: req/s, p50 and p99 of both,
and the ratios kirin/bare (req/s: the median round's; p99: kirin's over bare's). Then the cost of
the request-rate limit: GET one task with a limit high enough never to refuse, against none.

Goals (docs/benchmarks.md): GET one >= 50% of bare, list >= 35%, POST >= 30%, kirin's p99 at most
2.5x bare's; printed as met or not per database.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path, where bench/queue.py would
# shadow the standard library's ``queue``: put the repository root there instead (for
# ``tests.pg_server``).
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402

PYTHON = sys.executable
POST_BODY = {"model": "kirin_v1_t2v", "prompt": "a red fox running through snow"}
LIST_SIZE = 20
SMOKE_LIST_SIZE = 3  # --smoke renders fewer tasks: it checks the bench runs, not the figures
# Goals, as shares of bare FastAPI's req/s, and the most kirin's p99 may be of bare's.
GOALS = {"get_one": 0.50, "list": 0.35, "post": 0.30}
P99_FACTOR = 2.5
OPERATIONS = ("get_one", "list", "post")


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors


# --- the bare app ------------------------------------------------------------------------------


def bare_main(port: int, get_one: Path, page: Path) -> None:
    """The bare FastAPI app (run in its own process by ``bare_server``)."""
    import uvicorn

    one = json.loads(get_one.read_text())
    listing = json.loads(page.read_text())
    app = FastAPI()

    @app.get("/model/v1/generation/task/{task_id}")
    async def get_task(task_id: str) -> dict[str, Any]:
        return dict(one)

    @app.get("/model/v1/generation/tasks")
    async def list_tasks() -> dict[str, Any]:
        return dict(listing)

    @app.post("/model/v1/generation")
    async def create(request: Request) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(await request.body())
        return body

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- processes ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not start in 60 s: {log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def bare_server(work: Path, get_one: dict[str, Any], page: dict[str, Any]) -> Iterator[str]:
    (work / "one.json").write_text(json.dumps(get_one))
    (work / "page.json").write_text(json.dumps(page))
    port = _free_port()
    log = work / "bare.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                PYTHON,
                __file__,
                "--bare",
                str(port),
                str(work / "one.json"),
                str(work / "page.json"),
            ],
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        _stop(proc)


class KirinServer:
    """``kirin serve`` on a data dir (and a database URL), started and stopped at will."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.env = env
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "-m", "kirin_api", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    def start(self, extra_env: dict[str, str] | None = None) -> None:
        log = self.data_dir / "server.log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "kirin_api",
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    "0",
                ],
                env={**self.env, **(extra_env or {})},
                stdout=out,
                stderr=out,
            )
        _wait_healthy(self.url, self.proc, log)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None

    def worker(self) -> subprocess.Popen[bytes]:
        with (self.data_dir / "worker.log").open("ab") as out:
            return subprocess.Popen(
                [PYTHON, "-m", "kirin_api", "worker"], env=self.env, stdout=out, stderr=out
            )


def prepare(server: KirinServer, size: int) -> tuple[str, str, str]:
    """Keys of a reading and a writing account, and a completed task of the reader that has
    ``size`` completed tasks (rendered by a real worker, then the worker stops)."""
    read_key = server.cli("keys", "create", "--account", "bench-read").strip()
    write_key = server.cli("keys", "create", "--account", "bench-write").strip()
    headers = {"Authorization": f"Bearer {read_key}"}
    ids = []
    for index in range(size):
        body = {**POST_BODY, "prompt": f"scene {index}", "duration": 5}
        answer = httpx.post(server.url + "/model/v1/generation", json=body, headers=headers)
        answer.raise_for_status()
        ids.append(answer.json()["id"])
    worker = server.worker()
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            page = httpx.get(
                server.url + "/model/v1/generation/tasks",
                params={"limit": size, "status": "completed"},
                headers=headers,
                timeout=30,
            ).json()
            if len(page["data"]) == size:
                break
            time.sleep(1)
        else:
            raise RuntimeError("the tasks were not rendered in 15 minutes")
    finally:
        _stop(worker)
    return read_key, write_key, ids[0]


# --- the load generator ------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"cannot read wrk's duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> Run:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sockets:
        errors += sum(int(n) for n in sockets.groups())
    return Run(rps, p50, p99, errors)


def wrk(
    url: str,
    *,
    key: str | None,
    seconds: float,
    connections: int,
    threads: int,
    post: dict[str, Any] | None,
    work: Path,
) -> Run:
    lines = []
    if key is not None:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {key}"')
    if post is not None:
        lines += [
            'wrk.method = "POST"',
            'wrk.headers["Content-Type"] = "application/json"',
            f"wrk.body = {json.dumps(json.dumps(post))}",
        ]
    script = work / "wrk.lua"
    script.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return parse_wrk(done.stdout)


# --- the comparison ----------------------------------------------------------------------------


@dataclass
class Comparison:
    operation: str
    bare: list[Run]
    kirin: list[Run]

    @staticmethod
    def _median(runs: list[Run]) -> Run:
        ordered = sorted(runs, key=lambda r: r.rps)
        return ordered[len(ordered) // 2]

    @property
    def ratio(self) -> float:
        # Per round (bare and kirin side by side), then the median of the rounds.
        return statistics.median(k.rps / b.rps for b, k in zip(self.bare, self.kirin, strict=True))

    @property
    def p99_ratio(self) -> float:
        return statistics.median(
            k.p99_ms / b.p99_ms for b, k in zip(self.bare, self.kirin, strict=True)
        )

    def met(self) -> bool:
        goal = GOALS.get(self.operation)
        errors = sum(r.errors for r in self.kirin + self.bare)
        return (
            errors == 0
            and (goal is None or self.ratio >= goal)
            and (goal is None or self.p99_ratio <= P99_FACTOR)
        )

    def line(self) -> str:
        b, k = self._median(self.bare), self._median(self.kirin)
        goal = GOALS.get(self.operation)
        verdict = "" if goal is None else ("  goal met" if self.met() else "  GOAL NOT MET")
        errors = sum(r.errors for r in self.kirin)
        bare_errors = sum(r.errors for r in self.bare)
        return (
            f"  {self.operation:<12} bare {b.rps:8.0f} req/s p50 {b.p50_ms:6.1f} ms "
            f"p99 {b.p99_ms:6.1f} ms | kirin {k.rps:8.0f} req/s p50 {k.p50_ms:6.1f} ms "
            f"p99 {k.p99_ms:7.1f} ms | kirin/bare {self.ratio:6.1%} p99 x{self.p99_ratio:4.1f}"
            f"{'' if not errors else f'  ({errors} kirin errors)'}"
            f"{'' if not bare_errors else f'  ({bare_errors} bare errors)'}{verdict}"
        )


def compare(
    bare_url: str,
    server: KirinServer,
    keys: tuple[str, str, str],
    args: argparse.Namespace,
    work: Path,
) -> list[Comparison]:
    read_key, write_key, task_id = keys
    targets = {
        "get_one": (f"/model/v1/generation/task/{task_id}", read_key, None),
        "list": (f"/model/v1/generation/tasks?limit={args.list_size}", read_key, None),
        "post": ("/model/v1/generation", write_key, POST_BODY),
    }
    load = {"connections": args.connections, "threads": args.threads, "work": work}
    results = {op: Comparison(op, [], []) for op in OPERATIONS}
    # Warm both servers up on each operation (imports, caches, pools) before measuring.
    for path, key, body in targets.values():
        for base, used_key in ((bare_url, None), (server.url, key)):
            wrk(base + path, key=used_key, seconds=1, post=body, **load)  # type: ignore[arg-type]
    for _ in range(args.rounds):
        for op, (path, key, body) in targets.items():
            bare = wrk(bare_url + path, key=None, seconds=args.seconds, post=body, **load)  # type: ignore[arg-type]
            kirin = wrk(server.url + path, key=key, seconds=args.seconds, post=body, **load)  # type: ignore[arg-type]
            results[op].bare.append(bare)
            results[op].kirin.append(kirin)
    return list(results.values())


def rate_limit_cost(
    server: KirinServer, keys: tuple[str, str, str], args: argparse.Namespace, work: Path
) -> tuple[Run, Run]:
    """GET one task without a rate limit, then with one that never refuses (its bookkeeping
    only): alternating, the median of the rounds each."""
    read_key, _, task_id = keys
    url = f"{server.url}/model/v1/generation/task/{task_id}"
    load = {"connections": args.connections, "threads": args.threads, "work": work}
    off: list[Run] = []
    on: list[Run] = []
    limits = {
        "off": {"KIRIN_RATE_LIMIT_PER_MINUTE": "0"},
        "on": {"KIRIN_RATE_LIMIT_PER_MINUTE": "100000000", "KIRIN_RATE_LIMIT_BURST": "100000000"},
    }
    for _ in range(args.rounds):
        for name, env in limits.items():
            server.stop()
            server.start(env)
            wrk(url, key=read_key, seconds=1, post=None, **load)  # type: ignore[arg-type]
            run = wrk(url, key=read_key, seconds=args.seconds, post=None, **load)  # type: ignore[arg-type]
            (off if name == "off" else on).append(run)
    return Comparison._median(off), Comparison._median(on)


def bench_database(name: str, database_url: str | None, args: argparse.Namespace) -> bool:
    work = Path(tempfile.mkdtemp(prefix=f"kirin-bench-{name}-"))
    env = {
        **os.environ,
        "KIRIN_DATA_DIR": str(work / "data"),
        "KIRIN_LOG_LEVEL": "WARNING",
        "KIRIN_RATE_LIMIT_PER_MINUTE": "0",
        "KIRIN_MAX_UNFINISHED_TASKS": "0",
        # Tasks that POST creates are never rendered: the watchdog must not fail them meanwhile.
        "KIRIN_UNSERVED_TIMEOUT_SECONDS": "86400",
        "KIRIN_API_PROCESSES": str(args.api_processes),
    }
    if args.kirin_pythonpath:
        env["PYTHONPATH"] = args.kirin_pythonpath
    if database_url is not None:
        env["KIRIN_DATABASE_URL"] = database_url
    (work / "data").mkdir()
    server = KirinServer(work / "data", env)
    try:
        server.start()
        keys = prepare(server, args.list_size)
        headers = {"Authorization": f"Bearer {keys[0]}"}
        one = httpx.get(f"{server.url}/model/v1/generation/task/{keys[2]}", headers=headers).json()
        page = httpx.get(
            f"{server.url}/model/v1/generation/tasks",
            params={"limit": args.list_size},
            headers=headers,
        ).json()
        with bare_server(work, one, page) as bare_url:
            results = compare(bare_url, server, keys, args, work)
        off, on = rate_limit_cost(server, keys, args, work)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    processes = f", {args.api_processes} API processes" if args.api_processes != 1 else ""
    print(
        f"{name}{processes} ({args.rounds} rounds of {args.seconds:g} s, "
        f"wrk -t{args.threads} -c{args.connections}):"
    )
    for comparison in results:
        print(comparison.line())
    print(
        f"  rate limit   GET one: off {off.rps:8.0f} req/s p99 {off.p99_ms:6.1f} ms | "
        f"on {on.rps:8.0f} req/s p99 {on.p99_ms:6.1f} ms | cost {1 - on.rps / off.rps:6.1%}"
    )
    met = all(c.met() for c in results)
    print(f"  {name}: {'goals met' if met else 'goals NOT met'}")
    return met


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--bare":
        bare_main(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--seconds", type=float, default=10.0, help="per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--api-processes", type=int, default=1)
    parser.add_argument("--kirin-pythonpath", help="run kirin serve from this src directory")
    parser.add_argument("--smoke", action="store_true", help="one short round, sqlite only")
    parser.add_argument("--postgres-url", help="a PostgreSQL database of your own (emptied)")
    args = parser.parse_args()
    args.list_size = LIST_SIZE
    if args.smoke:
        args.seconds, args.rounds, args.connections = 1.0, 1, 8
        args.databases, args.list_size = "sqlite", SMOKE_LIST_SIZE
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    all_met = True
    for name in args.databases.split(","):
        if name == "sqlite":
            all_met &= bench_database("sqlite", None, args)
        elif name == "postgres":
            if args.postgres_url:
                all_met &= bench_database("postgres", args.postgres_url, args)
                continue
            from tests.pg_server import PostgresServer, find_bin_dir

            bin_dir = find_bin_dir()
            if bin_dir is None:
                print("postgres: skipped, no PostgreSQL server binaries (Debian: postgresql)")
                continue
            pg = PostgresServer(bin_dir)
            try:
                pg.start()
                pg.create_database()
                all_met &= bench_database("postgres", pg.url, args)
            finally:
                pg.destroy()
        else:
            parser.error(f"--databases: sqlite or postgres, got {name!r}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("all goals met" if all_met else "goals NOT all met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
