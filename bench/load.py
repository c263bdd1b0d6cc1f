"""Load benchmark: stored POST /evaluate against the framework's limit, batches, memory.

Method. The script starts, with the same uvicorn settings (httptools, uvloop, no access
log, N workers), a bare FastAPI app that validates the same request body and returns a
constant (bench/bare.py), and Reflexe on a fresh database with its rate limiter on
(in-process store, a limit too high to throttle). wrk drives them on loopback with
bench/post.lua, a PIPU request with answers and attributes whose subject and headline
differ on every request, for a fixed time at a fixed number of connections, after a short
warm-up, in rounds: bare, Reflexe, Reflexe with a unique `Idempotency-Key` per request
(the other two runs send a unique header the apps ignore, so the client's work is the
same), one after the other, so that a noisy machine affects all alike. It prints
requests/s and p50/p99 latency of each run, and the median of each round's ratios; then
checks that the decisions stored equal the 2xx responses. The batch phase posts 1,000-item
batches (50 distinct bodies, so 50,000 distinct profiles), full and compact answers in
turn, from two client threads per worker, a new connection each, for a fixed time, and
reports evaluations/s, with an in-process breakdown of where an item's time goes. The
memory phase stores `--memory` evaluations in compact batches and reports the workers'
resident memory as it goes. Every loop is bounded in time or count and talks to 127.0.0.1
only.

    .venv/bin/python -m bench.load [--db sqlite|postgresql] [--workers 1] [--duration 15]
                                   [--connections 32] [--rounds 3] [--memory 1000000]
                                   [--skip-batches] [--skip-memory]
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
import statistics
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
_PARTS = dict(
    re.findall(r"local (head|middle|tail) = \[\[(.*?)\]\]", (HERE / "post.lua").read_text())
)
BODY = json.loads(_PARTS["head"] + "0" + _PARTS["middle"] + "0" + _PARTS["tail"])
RATE_LIMIT = "1000000/minute"  # on, and never reached: its cost, not its throttle
BATCH = 1000
DISTINCT_BATCHES = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", type=int, default=1_000_000, help="evaluations to store")
    parser.add_argument("--skip-batches", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--rate-limit",
        default=RATE_LIMIT,
        help=f'REFLEXE_RATE_LIMIT of the server ("" for none); {RATE_LIMIT} by default',
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")

    print(
        f"# {args.db}, {args.workers} worker(s), {args.connections} connections, "
        f"{args.duration} s x {args.rounds} rounds, rate limit {args.rate_limit or 'off'}"
    )
    # The bare app gets a key-sized Authorization header too, and ignores it.
    os.environ.setdefault("REFLEXE_BENCH_KEY", "rfx_000000000000_" + "x" * 43)
    with migrated_database(args.db) as url:
        env = {"REFLEXE_DATABASE_URL": url, "REFLEXE_RATE_LIMIT": args.rate_limit}
        target = ["app.main:create_app", "--factory"]
        with (
            server(["bench.bare:app"], {}, args.workers) as (bare_base, _),
            server(target, env, args.workers) as (base, _),
        ):
            single_phase(bare_base, base, url, args)
        if not args.skip_batches or not args.skip_memory:
            with server(target, env, args.workers) as (base, pids):
                if not args.skip_batches:
                    batch_phase(base, args)
                if not args.skip_memory:
                    memory_phase(base, pids, args.memory)
    if not args.skip_batches:
        breakdown()


def single_phase(bare_base: str, base: str, url: str, args: argparse.Namespace) -> None:
    """Rounds of bare, Reflexe and Reflexe with an Idempotency-Key, one after the other."""
    ignored, idempotent = "X-Request-Id", "Idempotency-Key"
    for warm in (bare_base, base):
        wrk(warm, 3, args.connections, ignored, "warm-up")
    time.sleep(1)  # let the warm-up's last requests land before counting
    ratios: dict[str, list[float]] = {"stored": [], "idempotent": []}
    for round_ in range(1, args.rounds + 1):
        bare = wrk(bare_base, args.duration, args.connections, ignored, f"bare-{round_}")
        print(f"bare FastAPI        {line(bare)}")
        runs = {}
        for name, header in (("stored", ignored), ("idempotent", idempotent)):
            rows_before = count_rows(url)
            run = wrk(base, args.duration, args.connections, header, f"{name}-{round_}")
            time.sleep(0.5)
            check_stored(run, count_rows(url) - rows_before, args.connections)
            runs[name] = run
            label = "Reflexe" if name == "stored" else "with Idempotency-Key"
            print(f"{label:20}{line(run)}")
        ratios["stored"].append(runs["stored"]["rps"] / bare["rps"])
        ratios["idempotent"].append(runs["idempotent"]["rps"] / runs["stored"]["rps"])
    print(
        f"median ratio: Reflexe / bare {statistics.median(ratios['stored']):.2f} "
        f"({fmt_ratios(ratios['stored'])}); with key / without "
        f"{statistics.median(ratios['idempotent']):.2f} ({fmt_ratios(ratios['idempotent'])})"
    )


def check_stored(run: dict[str, Any], rows: int, connections: int) -> None:
    # wrk stops with up to one request in flight per connection: such a decision may be
    # stored without wrk counting its response. An acknowledged one must never be missing.
    if run["errors"] or run["non_2xx"]:
        print(f"  errors {run['errors']}  non-2xx {run['non_2xx']}")
    if not 0 <= rows - run["ok"] <= connections:
        print(f"  MISMATCH: {run['ok']} acknowledged, {rows} stored")


def fmt_ratios(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def line(run: dict[str, Any]) -> str:
    return f"{run['rps']:8.0f} req/s  p50 {run['p50']:6.1f} ms  p99 {run['p99']:6.1f} ms"


def wrk(base: str, seconds: int, connections: int, header: str, run: str) -> dict[str, Any]:
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
        env={**os.environ, "REFLEXE_BENCH_HEADER": header, "REFLEXE_BENCH_RUN": run},
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


def batch_bodies(answer: str) -> list[bytes]:
    """`DISTINCT_BATCHES` bodies of `BATCH` items, no two items alike."""
    bodies = []
    for b in range(DISTINCT_BATCHES):
        items = []
        for i in range(BATCH):
            item = json.loads(json.dumps(BODY))
            item["subject"]["ref"] = f"https://example.org/in/{b}-{i}"
            item["attributes"]["headline"] = f"Directrice Générale chez Acme {b}-{i} — growth"
            item["attributes"]["mutual_connections"] = i % 40
            items.append(item)
        bodies.append(json.dumps({"items": items, "answer": answer}).encode())
    return bodies


def batch_phase(base: str, args: argparse.Namespace) -> None:
    for answer in ("full", "compact", "full", "compact"):
        rate, failures = post_batches(base, batch_bodies(answer), args.duration, 2 * args.workers)
        print(
            f"batch (1,000/req, {answer:7}) {rate:8.0f} evaluations/s stored  "
            f"({2 * args.workers} clients, failed batches {failures})"
        )


def post_batches(base: str, bodies: list[bytes], seconds: float, clients: int) -> tuple[float, int]:
    """Evaluations stored per second by `clients` threads posting `bodies` in turn."""
    done, failures, lock = [0], [0], threading.Lock()
    deadline = time.monotonic() + seconds
    ending = b'"stored":%d,"failed":0}' % BATCH

    def client(first: int) -> None:
        # A new connection per batch, so that the kernel spreads batches over the workers.
        headers = {"content-type": "application/json", "connection": "close", **auth_headers()}
        turn = first
        with httpx.Client(base_url=base, timeout=60) as http:
            while time.monotonic() < deadline:
                body = bodies[turn % len(bodies)]
                turn += 1
                response = http.post("/evaluate/batch", content=body, headers=headers)
                # Read the count from the end of the body rather than parsing 3 MB of JSON:
                # the client shares the machine's two cores with the server.
                with lock:
                    if response.status_code == 200 and response.content.endswith(ending):
                        done[0] += BATCH
                    else:
                        failures[0] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(7 * n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0] / (time.monotonic() - started), failures[0]


def memory_phase(base: str, pids: list[int], evaluations: int) -> None:
    """Resident memory of the workers while `evaluations` are stored in compact batches."""
    bodies = batch_bodies("compact")
    samples = [fmt([rss_mib(pid) for pid in pids])]
    batches = evaluations // BATCH
    with httpx.Client(base_url=base, timeout=60, headers=auth_headers()) as http:
        for n in range(1, batches + 1):
            response = http.post(
                "/evaluate/batch",
                content=bodies[n % len(bodies)],
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 200, response.text[:200]
            if n % max(1, batches // 5) == 0:
                samples.append(fmt([rss_mib(pid) for pid in pids]))
    print(f"memory over {batches * BATCH:,} evaluations: RSS (MiB) {' -> '.join(samples)}")


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

        rows = [d.row for d in decided if d.row is not None]

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
            "REFLEXE_RATE_LIMIT": "",  # unless the caller sets one (load.py: --rate-limit)
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
def fresh_database(kind: str, name: str = "reflexe_bench") -> Iterator[str]:
    """An empty database of `kind`, as its URL: a temporary SQLite file, or the PostgreSQL
    database `name`, created for the run and dropped after it."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    drop()
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        drop()
        admin.dispose()


@contextlib.contextmanager
def migrated_database(kind: str, name: str = "reflexe_bench") -> Iterator[str]:
    """A fresh database of `kind` (`fresh_database`), migrated and seeded, as its URL.

    It holds one admin API key, put in REFLEXE_BENCH_KEY for wrk and `auth_headers()`: the
    benchmarks measure requests as they are made in production, key check included.
    """
    with fresh_database(kind, name) as url:
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
