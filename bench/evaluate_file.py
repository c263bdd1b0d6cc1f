"""`reflexe evaluate FILE` against a local server: rows/second, and where the time goes.

Method. A CSV of `--rows` distinct invitations (subject, headline, industry, location,
counts, a flag, skills; every row different) is written to a temporary directory. A server
(`reflexe serve --dev`, no rate limit; one uvicorn worker, then two) runs on a fresh SQLite
database;
each run is `reflexe evaluate` in a process of its own, `--quiet`, results to a file, and
times the whole command: reading, mapping, batches, answers, results. Each run uses a
fresh copy of the file (one changed row), so no Idempotency-Key is answered from an
earlier run. The server's CPU time (`/proc/<pid>/stat` of its workers) and the client's
(its rusage) over each run say which side is the limit. `--local` runs the same command
in process, on a fresh SQLite database of its own. Talks to 127.0.0.1 only.

    .venv/bin/python -m bench.evaluate_file [--rows 50000]
"""

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.db.servers import free_port

WORKERS = (1, 2)
RUNS = (("500", "2"), ("1000", "2"), ("1000", "4"))
INDUSTRIES = ("Software Development", "Marketing Services", "Higher Education", "Retail")
TICK = os.sysconf("SC_CLK_TCK")


def write_file(path: Path, rows: int, salt: str) -> None:
    with path.open("w") as file:
        file.write(
            "subject_ref,subject_name,headline,industry,location,mutual_connections,"
            "followers,has_message,skills\n"
        )
        for n in range(rows):
            file.write(
                f"https://www.linkedin.com/in/bench-{salt}-{n},Person {n},Head of Growth {n} "
                f'at Company {n % 997},{INDUSTRIES[n % 4]},"Lyon, France",{n % 40},'
                f"{(n * 37) % 20000},{'true' if n % 3 else 'false'},growth;saas;b2b\n"
            )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def worker_pids(parent: int) -> list[int]:
    """The uvicorn processes serving: the server's own with one worker, else its workers."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(child) for child in children] or [parent]


def run_evaluate(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and client CPU seconds of one `reflexe evaluate`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "app", "evaluate", *args, "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"evaluate failed ({done.returncode}): {done.stderr[-2000:]}")
    client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=50_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REFLEXE_")}
        env |= {"REFLEXE_RATE_LIMIT": "", "REFLEXE_LOG_LEVEL": "warning"}
        for workers in WORKERS:
            with serving(root / f"server-{workers}.db", workers, env) as (url, pids):
                for index, (size, concurrency) in enumerate(RUNS):
                    path = root / f"rows-{workers}-{index}.csv"
                    write_file(path, options.rows, f"w{workers}r{index}")
                    served = sum(map(cpu_seconds, pids))
                    wall, client = run_evaluate(
                        [str(path), "--url", url, "--batch-size", size,
                         "--concurrency", concurrency, "--output", str(root / "out.jsonl")],
                        env,
                    )  # fmt: skip
                    server = sum(map(cpu_seconds, pids)) - served
                    print(
                        f"{workers} worker(s), batches of {size}, {concurrency} in flight: "
                        f"{options.rows / wall:,.0f} rows/s ({wall:.1f} s; CPU server "
                        f"{server:.1f} s, {server / options.rows * 1e6:,.0f} µs a row; client "
                        f"{client:.1f} s)"
                    )
        path = root / "rows-local.csv"
        write_file(path, options.rows, "local")
        local_env = env | {"REFLEXE_DATABASE_URL": f"sqlite:///{root}/local.db"}
        wall, client = run_evaluate(
            [str(path), "--local", "--batch-size", "1000", "--output", str(root / "out.jsonl")],
            local_env,
        )
        print(f"--local, batches of 1000: {options.rows / wall:,.0f} rows/s ({wall:.1f} s)")


@contextmanager
def serving(database: Path, workers: int, env: dict[str, str]) -> Iterator[tuple[str, list[int]]]:
    """`reflexe serve --dev` on a fresh database: its URL and the pids of its workers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--dev", "--port", str(port),
         "--workers", str(workers)],
        env=env | {"REFLEXE_DATABASE_URL": f"sqlite:///{database}"},
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url, worker_pids(process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
