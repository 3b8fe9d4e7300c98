"""Server load: 20 users at once on the dashboard, on DuckDB (one worker) and PostgreSQL (workers).

    .venv/bin/python benchmarks/load_bench.py [--size small|medium|large] [--users 20] [--requests 20]
                                              [--seconds 60] [--max-requests 400] [--pg-workers 4]
                                              [--backends duckdb,postgres] [--duckdb PATH] [--postgres URL]

For each backend: generates the demo company (medium: about 35 s on DuckDB, 60 s on PostgreSQL,
in a temporary file or a fresh database ``sp_bench_<random>`` on $SALESPILOT_BENCH_POSTGRES, else
postgresql://postgres@127.0.0.1:5432, dropped at the end; or reuse ``--duckdb PATH`` /
``--postgres URL``), adds a user and an API token, starts ``salespilot serve`` on a free loopback
port (DuckDB: 1 worker, a DuckDB file has one writer process; PostgreSQL: ``--pg-workers``),
warms every worker up, then for each of ``/`` (the overview), ``/funnel``, ``/forecast`` and
``/api/v1/kpis/revenue`` (``--paths``): ``--users`` threads, each with its own keep-alive connection and the
Bearer token, send ``--requests`` requests one after the other. Bounded: no new request after
``--seconds`` per path, nor past ``--max-requests`` per path; requests in flight then finish
(``--timeout`` each); no new path after ``--total-seconds``. Prints p50 / p95 / max latency
(client side, ms) and requests per second, and the ratio of the p95 to the aim: 300 ms for the
overview with 20 users. Each backend runs with the page cache on (the warm-up fills it: the
figures of many users on the same views) and off (``--cache``; every request builds its view).
PostgreSQL is skipped, with the reason, when no server answers.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from salespilot.engine.workspace import Workspace

PATHS = ("/", "/funnel", "/forecast", "/api/v1/kpis/revenue")
AIM_MS = 300.0  # p95 of the overview with 20 users
EMAIL = "load@example.com"
PASSWORD = "correct horse battery"
POSTGRES_SERVER = os.environ.get("SALESPILOT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


@dataclass
class Result:
    backend: str
    workers: int
    cache: str  # "on": the page cache serves repeated views; "off": every request builds its view
    path: str
    latencies_ms: list[float]
    errors: int
    wall_s: float

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)] if ordered else math.nan


class Budget:
    """The requests left for one path, shared by the users' threads."""

    def __init__(self, total: int, seconds: float) -> None:
        self.left = total
        self.stop_at = time.monotonic() + seconds
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0 or time.monotonic() >= self.stop_at:
                return False
            self.left -= 1
            return True


# -- stores ----------------------------------------------------------------------------------------
def prepare(db: str, size: str, generate: bool) -> str:
    """Fill ``db`` with the demo company (unless reused), add the user; returns an API token."""
    t0 = time.perf_counter()
    with Workspace(db) as ws:
        if generate:
            ws.demo(size)
            print(f"  generated the {size} demo company in {time.perf_counter() - t0:.0f} s")
        if EMAIL not in {u.email for u in ws.users()}:
            ws.add_user(EMAIL, PASSWORD, "admin", name="Load")
        leads = ws.sql("SELECT count(*) AS n FROM leads").column(0)[0].as_py()
        print(f"  store: {leads:,} leads")
        return ws.new_token(EMAIL)


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh database on the server, dropped afterwards; None (with the reason printed) without one."""
    try:
        import psycopg
    except ImportError:
        print("postgres: skipped: psycopg is not installed (pip install -e '.[postgres]')")
        yield None
        return
    try:
        admin = psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        print(f"postgres: skipped: no server at {POSTGRES_SERVER.rpartition('@')[2]}: {' '.join(str(exc).split())}")
        yield None
        return
    name = f"sp_bench_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# -- the server ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(db: str, workers: int, log: Path, cache: bool) -> Iterator[str]:
    """``salespilot serve`` on a free loopback port (page cache on or off); yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "salespilot", "serve", "--db", db, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {"SALESPILOT_PAGE_CACHE": "256" if cache else "0"}
    with log.open("w") as out, subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env) as process:
        try:
            wait_until_up(process, base, log)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_until_up(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"salespilot serve ended:\n{log.read_text()}")
        try:
            httpx.get(base + "/login", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    sys.exit(f"salespilot serve did not answer in 120 s:\n{log.read_text()}")


# -- the load --------------------------------------------------------------------------------------
def one_user(base: str, token: str, path: str, count: int, budget: Budget, timeout: float) -> tuple[list[float], int]:
    """Up to ``count`` requests one after the other on one connection: latencies (ms) of the 200s, errors."""
    latencies, errors = [], 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=timeout) as client:
        for _ in range(count):
            if not budget.take():
                break
            t0 = time.perf_counter()
            try:
                ok = client.get(path).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - t0) * 1000)
            else:
                errors += 1
    return latencies, errors


def load(base: str, token: str, path: str, args: argparse.Namespace) -> tuple[list[float], int, float]:
    budget = Budget(args.max_requests, args.seconds)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.users) as pool:
        runs = [
            pool.submit(one_user, base, token, path, args.requests, budget, args.timeout) for _ in range(args.users)
        ]
        done = [run.result() for run in runs]
    wall = time.perf_counter() - t0
    return [ms for lat, _ in done for ms in lat], sum(err for _, err in done), wall


def warm_up(base: str, token: str, workers: int, timeout: float, paths: list[str]) -> None:
    """Every path, ``workers`` requests at once per path (each worker loads its modules and caches)."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for path in paths:
            budget = Budget(workers, timeout)
            runs = [pool.submit(one_user, base, token, path, 1, budget, timeout) for _ in range(workers)]
            for run in runs:
                run.result()
    print(f"  warmed up in {time.perf_counter() - t0:.0f} s")


def bench(backend: str, db: str, workers: int, generate: bool, folder: Path, args: argparse.Namespace) -> list[Result]:
    print(f"{backend}: {workers} worker{'s' if workers > 1 else ''}")
    token = prepare(db, args.size, generate)
    results = []
    for mode in args.cache_modes:
        print(f"  page cache {mode}")
        with serving(db, workers, folder / f"{backend}-{mode}.log", mode == "on") as base:
            warm_up(base, token, workers, args.timeout, args.paths)
            for path in args.paths:
                if time.monotonic() > args.stop_at:
                    print(f"  {path}: skipped: the run passed --total-seconds {args.total_seconds:.0f}")
                    continue
                latencies, errors, wall = load(base, token, path, args)
                result = Result(backend, workers, mode, path, latencies, errors, wall)
                print(f"  {path}: {len(latencies)} requests in {wall:.1f} s, p95 {result.percentile(0.95):,.0f} ms")
                results.append(result)
    return results


# -- the report ------------------------------------------------------------------------------------
def report(results: list[Result], users: int) -> None:
    print()
    print(
        f"{'backend':<9} {'workers':>7} {'cache':>5} {'path':<22} {'users':>5} {'requests':>8} {'errors':>6} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'req/s':>6} {'p95/300ms':>9}"
    )
    for r in results:
        n = len(r.latencies_ms)
        rate = n / r.wall_s if r.wall_s else math.nan
        p95 = r.percentile(0.95)
        print(
            f"{r.backend:<9} {r.workers:>7} {r.cache:>5} {r.path:<22} {users:>5} {n:>8} {r.errors:>6} "
            f"{r.percentile(0.5):>8,.0f} {p95:>8,.0f} {max(r.latencies_ms, default=math.nan):>8,.0f} "
            f"{rate:>6.2f} {p95 / AIM_MS:>9.1f}"
        )
    print("latency: client side, from sending the request to the whole response read; req/s: answered / wall time")
    aims = []
    for r in results:
        if r.path == "/":
            ratio = r.percentile(0.95) / AIM_MS
            aims.append(f"{r.backend} cache {r.cache} {'met' if ratio < 1 else 'MISSED'} ({ratio:.1f}x the aim)")
    print(f"aim: overview p95 under {AIM_MS:.0f} ms with {users} user{'s' if users != 1 else ''}: " + ", ".join(aims))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="medium", choices=("small", "medium", "large"), help="demo company")
    parser.add_argument("--users", type=int, default=20, help="users at once")
    parser.add_argument("--requests", type=int, default=20, help="requests per user and path")
    parser.add_argument("--seconds", type=float, default=60, help="no new request of a path after this")
    parser.add_argument("--max-requests", type=int, default=400, help="requests per path at most")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one request may take")
    parser.add_argument("--total-seconds", type=float, default=1800, help="no new path or backend after this")
    parser.add_argument("--pg-workers", type=int, default=4, help="worker processes on PostgreSQL")
    parser.add_argument("--backends", default="duckdb,postgres", help="comma-separated: duckdb, postgres")
    parser.add_argument("--duckdb", help="reuse this DuckDB store (with the demo company) instead of generating")
    parser.add_argument("--postgres", help="reuse this PostgreSQL store instead of a fresh database")
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated paths to load")
    parser.add_argument("--cache", default="on,off", help="page cache modes to run, comma-separated: on, off")
    args = parser.parse_args()
    args.cache_modes = [m.strip() for m in args.cache.split(",") if m.strip()]
    args.paths = [p.strip() for p in args.paths.split(",") if p.strip().startswith("/")]
    if not args.paths:
        parser.error(f"--paths: expected paths starting with / (got {args.paths!r})")
    if not args.cache_modes or set(args.cache_modes) - {"on", "off"}:
        parser.error(f"--cache: expected on, off or on,off (got {args.cache!r})")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    args.stop_at = time.monotonic() + args.total_seconds
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.users} users x {args.requests} "
        f"requests per path, at most {args.max_requests} requests or {args.seconds:.0f} s per path"
    )
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "duckdb" in backends:
            db = args.duckdb or str(folder / f"{args.size}.duckdb")
            results += bench("duckdb", db, 1, args.duckdb is None, folder, args)
        if "postgres" in backends and args.postgres:
            results += bench("postgres", args.postgres, args.pg_workers, False, folder, args)
        elif "postgres" in backends:
            with postgres_database() as url:
                if url is not None:
                    results += bench("postgres", url, args.pg_workers, True, folder, args)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    report(results, args.users)


if __name__ == "__main__":
    main()
