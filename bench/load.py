"""Load benchmark: stored POST /evaluate against the framework's limit, batches, memory.

Method. The script starts, one after the other and with the same uvicorn settings
(httptools, uvloop, no access log, N workers), a bare FastAPI app that validates the same
request body and returns a constant (bench/bare.py), then Reflexe on a fresh database.
wrk drives each on loopback with bench/post.lua (a PIPU request with answers and
attributes) for a fixed time at a fixed number of connections, after a short warm-up. It
prints requests/s and p50/p99 latency of both and their ratio, then checks that the
decisions stored equal the 2xx responses. The batch phase posts 1,000-item batches
from two client threads per worker, a new connection each, for a fixed time and
reports evaluations/s, with an in-process breakdown of where an item's time goes. The
memory phase pushes 200,000 evaluations through the batch endpoint and reports the
workers' resident memory before and after. Every loop is bounded in time or count and
talks to 127.0.0.1 only.

    .venv/bin/python -m bench.load [--db sqlite|postgresql] [--workers 1] [--duration 15]
                                   [--connections 32] [--skip-memory]
"""

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

HERE = Path(__file__).parent
POSTGRES_URL = os.environ.get(
    "REFLEXE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BENCH_SECRET = "a-benchmark-secret-key-of-48-characters-or-so-ok"
UVICORN = ["--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]
BODY = json.loads(re.search(r"wrk.body = \[\[(.*)\]\]", (HERE / "post.lua").read_text()).group(1))  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--rate-limit",
        default="",
        help='REFLEXE_RATE_LIMIT of the server, e.g. "1000000/minute" to measure the limiter; '
        "none by default",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")

    print(
        f"# {args.db}, {args.workers} worker(s), {args.connections} connections, {args.duration} s"
    )
    # The bare app gets a key-sized Authorization header too, and ignores it.
    os.environ.setdefault("REFLEXE_BENCH_KEY", "rfx_000000000000_" + "x" * 43)
    bare = run_wrk_against(["bench.bare:app"], {}, args)
    print(f"bare FastAPI      {line(bare)}")

    with migrated_database(args.db) as url:
        env = {"REFLEXE_DATABASE_URL": url, "REFLEXE_RATE_LIMIT": args.rate_limit}
        with server(["app.main:create_app", "--factory"], env, args.workers) as (base, _):
            wrk(base, 3, args.connections)  # warm-up
            time.sleep(1)  # let the warm-up's last requests land before counting
            rows_before = count_rows(url)
            stored = wrk(base, args.duration, args.connections)
            rows = count_rows(url) - rows_before
        print(f"Reflexe (stored)  {line(stored)}")
        print(f"ratio             {stored['rps'] / bare['rps']:8.2f}")
        print(
            f"2xx responses     {stored['ok']:8d}  stored decisions {rows}  "
            f"errors {stored['errors']}  non-2xx {stored['non_2xx']}"
        )
        # wrk stops with up to one request in flight per connection: such a decision may be
        # stored without wrk counting its response. An acknowledged one must never be missing.
        if not 0 <= rows - stored["ok"] <= args.connections:
            print("MISMATCH: acknowledged decisions are missing from the log")
        else:
            extra = rows - stored["ok"]
            print(f"every acknowledged decision is stored ({extra} in flight at the end)")

        with server(["app.main:create_app", "--factory"], env, args.workers) as (base, pids):
            batch_phase(base, args)
            if not args.skip_memory:
                memory_phase(base, pids)
    breakdown()


def run_wrk_against(
    target: list[str], env: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    with server(target, env, args.workers) as (base, _):
        wrk(base, 3, args.connections)  # warm-up
        return wrk(base, args.duration, args.connections)


def line(run: dict[str, Any]) -> str:
    return f"{run['rps']:8.0f} req/s  p50 {run['p50']:6.1f} ms  p99 {run['p99']:6.1f} ms"


def wrk(base: str, seconds: int, connections: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(HERE / "post.lua"),
            f"{base}/evaluate",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    found = dict(re.findall(r"(\w+)=(\d+)", out.split("RESULT", 1)[1]))
    requests, duration = int(found["requests"]), int(found["duration_us"]) / 1e6
    errors, non_2xx = int(found["socket_errors"]), int(found["non_2xx"])
    return {
        "rps": requests / duration,
        "p50": int(found["p50_us"]) / 1000,
        "p99": int(found["p99_us"]) / 1000,
        "ok": requests - non_2xx,
        "errors": errors,
        "non_2xx": non_2xx,
    }


def batch_phase(base: str, args: argparse.Namespace) -> None:
    items = [dict(BODY, subject={"ref": f"https://example.org/in/{i}"}) for i in range(1000)]
    payload = json.dumps({"items": items}).encode()
    done, failures, lock = [0], [0], threading.Lock()
    deadline = time.monotonic() + args.duration

    def client() -> None:
        # A new connection per batch, so that the kernel spreads batches over the workers.
        headers = {"content-type": "application/json", "connection": "close", **auth_headers()}
        with httpx.Client(base_url=base, timeout=60) as http:
            while time.monotonic() < deadline:
                response = http.post("/evaluate/batch", content=payload, headers=headers)
                # Read the count from the end of the body rather than parsing 3 MB of JSON:
                # the client shares the machine's two cores with the server.
                with lock:
                    if response.status_code == 200 and response.content.endswith(
                        b'"stored":1000,"failed":0}'
                    ):
                        done[0] += 1000
                    else:
                        failures[0] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(2 * args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    print(
        f"batch (1,000/req) {done[0] / elapsed:8.0f} evaluations/s stored  "
        f"({2 * args.workers} clients, failed batches {failures[0]})"
    )


def memory_phase(base: str, pids: list[int]) -> None:
    items = [dict(BODY, subject={"ref": f"https://example.org/in/{i}"}) for i in range(1000)]
    payload = json.dumps({"items": items}).encode()
    with httpx.Client(base_url=base, timeout=60, headers=auth_headers()) as http:
        http.post("/evaluate/batch", content=payload, headers={"content-type": "application/json"})
        start = [rss_mib(pid) for pid in pids]
        for _ in range(200):
            response = http.post(
                "/evaluate/batch", content=payload, headers={"content-type": "application/json"}
            )
            assert response.status_code == 200
        end = [rss_mib(pid) for pid in pids]
    print(f"memory over 200,000 evaluations: RSS {fmt(start)} MiB -> {fmt(end)} MiB")


def breakdown() -> None:
    """Where one batch item's time goes, measured in process."""
    from app.criteria.registry import CriteriaRegistry
    from app.db import create_db_engine
    from app.evaluations.deciding import Budget, judge, parse, prepare
    from app.evaluations.writer import DecisionWriter
    from app.migrate import prepare_database
    from app.settings import Settings

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite:///{folder}/b.db")
        prepare_database(settings)
        engine = create_db_engine(settings)
        registry = CriteriaRegistry(engine)
        resolved = registry.load(None, None)
        writer = DecisionWriter(engine, registry)
        raw = [dict(BODY) for _ in range(2000)]
        gc.collect()
        gc.disable()  # the costs themselves; the server tunes its collector at start-up
        started = time.perf_counter()
        requests = [parse(item) for item in raw]
        validate = time.perf_counter() - started
        started = time.perf_counter()
        budget = Budget(evaluation=10**9, request=10**9)
        decided = [judge(prepare(r, resolved, budget), None) for r in requests]  # type: ignore[arg-type]
        decide = time.perf_counter() - started

        rows = [d.row for d in decided]

        async def store() -> float:
            writer.start()
            started = time.perf_counter()
            await writer.store([resolved], rows)
            elapsed = time.perf_counter() - started
            await writer.stop()
            return elapsed

        insert = asyncio.run(store())
        gc.enable()
        engine.dispose()
    per = 1e6 / len(raw)
    print(
        f"per batch item, in process: validate {validate * per:.1f} µs, decide (engine, "
        f"answer and its JSON) {decide * per:.1f} µs, insert {insert * per:.1f} µs"
    )


@contextlib.contextmanager
def server(target: list[str], env: dict[str, str], workers: int) -> Iterator[tuple[str, list[int]]]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            *target,
            "--port",
            str(port),
            "--workers",
            str(workers),
            *UVICORN,
        ],
        env={
            **os.environ,
            "REFLEXE_MIGRATE_ON_START": "false",
            "REFLEXE_SECRET_KEY": BENCH_SECRET,
            "REFLEXE_RATE_LIMIT": "",  # measure the service, not its throttle (--rate-limit)
            **env,
        },
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/docs", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        time.sleep(0.5)
        yield base, worker_pids(process.pid, workers)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@contextlib.contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text('DROP DATABASE IF EXISTS "reflexe_bench" WITH (FORCE)'))
        connection.execute(text('CREATE DATABASE "reflexe_bench"'))
    admin.dispose()
    yield make_url(POSTGRES_URL).set(database="reflexe_bench").render_as_string(hide_password=False)


@contextlib.contextmanager
def migrated_database(kind: str) -> Iterator[str]:
    """A fresh database of `kind`, migrated and seeded, as its URL.

    It holds one admin API key, put in REFLEXE_BENCH_KEY for wrk and `auth_headers()`: the
    benchmarks measure requests as they are made in production, key check included.
    """
    with fresh_database(kind) as url:
        env = {**os.environ, "REFLEXE_DATABASE_URL": url, "REFLEXE_SECRET_KEY": BENCH_SECRET}
        created = subprocess.run(
            [sys.executable, "-m", "app", "keys", "create", "--role", "admin", "--name", "bench"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        os.environ["REFLEXE_BENCH_KEY"] = created.stdout.strip()
        yield url


def auth_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {os.environ['REFLEXE_BENCH_KEY']}"}


def count_rows(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        count = int(connection.execute(text("SELECT count(*) FROM evaluation")).scalar_one())
    engine.dispose()
    return count


def worker_pids(parent: int, workers: int) -> list[int]:
    if workers == 1:
        return [parent]
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children]


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def fmt(values: list[float]) -> str:
    return "/".join(f"{v:.0f}" for v in values)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


if __name__ == "__main__":
    main()
