"""Rate limiter benchmark: what counting a request costs the running server.

Method. Two servers of the same code run side by side on one fresh SQLite database, one
uvicorn worker each with the settings of bench/load.py: one without rate limits
(REFLEXE_RATE_LIMIT="", "off") and one with a limit no run reaches ("1000000/minute",
"on"). Each server is pinned to a core of its own, which it shares with the other's wrk,
and wrk drives both at once with `GET /criteria?bench=1` and the benchmark's API key: the
gate counts the request against the key's rate limit, then the route refuses the unknown
query parameter with a 422, so the request costs no query and no thread, and the limiter
is a large share of it. What else the machine runs falls on both servers alike.

Two figures, both from the running servers:

- CPU: each server's CPU time (utime + stime of /proc/<pid>/stat, every thread) over a
  slice of SLICE seconds, divided by the requests wrk completed; the limiter's cost is
  on minus off, slice by slice. It counts everything the limiter makes the process do
  (threads, tasks, collections), but a slice is noisy: the script prints the median and
  quartiles of every pair of slices.
- Time in `KeyGuard.limit`: the servers run `timed_app`, the app with `KeyGuard.limit`
  wrapped in a clock, and answer the mean time per call at the end; on minus off is the
  time a request spends in the limiter. With the in-memory window, `limit` never waits,
  so this is its own work, precisely. The old `limits` memory storage waits there for its
  key's lock, which its expiry task holds across a hop to a thread: the figure is then
  mostly waiting, a latency rather than a cost.

Each round starts the pair twice, in both orders and on swapped cores, so that neither
figure favours the server started first. `--baseline DIR` measures, in the same rounds, a
pair running the code of another checkout (a `git worktree` of an earlier commit, served
with uvicorn's `--app-dir`) for a before and after on the same machine.

    .venv/bin/python -m bench.limiter [--duration 10] [--rounds 3] [--connections 16]
                                      [--baseline /work/wt-limiter-old] [--limit ""]
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.load import auth_headers, migrated_database, server

LIMIT = "1000000/minute"
PATH = "/criteria?bench=1"
SLICE = 2  # seconds of wrk between two readings of the servers' CPU time
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TIMINGS = "/bench/limit-timings"  # where `timed_app` answers its timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per pair")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16, help="wrk's, per server")
    parser.add_argument("--baseline", type=Path, help="a checkout of the code to compare with")
    parser.add_argument(
        "--limit", default=LIMIT, help='the "on" server\'s limit; "" measures the noise alone'
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    print(f"# GET {PATH}, {args.connections} connections a server, {args.duration} s a pair")
    with migrated_database("sqlite") as url, tempfile.TemporaryDirectory() as folder:
        # Each code to measure, as the uvicorn arguments that select it. The baseline's
        # folder holds its `app` and this checkout's `bench`, for `timed_app`.
        codes: dict[str, list[str]] = {"this checkout": []}
        if args.baseline is not None:
            (Path(folder) / "app").symlink_to(args.baseline.resolve() / "app")
            (Path(folder) / "bench").symlink_to(Path(__file__).parent.resolve())
            codes = {f"baseline {args.baseline}": ["--app-dir", folder], **codes}
        cpu: dict[str, list[float]] = {code: [] for code in codes}
        unlimited: dict[str, list[float]] = {code: [] for code in codes}
        in_limit: dict[str, list[float]] = {code: [] for code in codes}
        for round_ in range(1, args.rounds + 1):
            for code, app_dir in codes.items():
                slices, timed = [], []
                for order in (("off", "on"), ("on", "off")):
                    run = measure(url, app_dir, {"off": "", "on": args.limit}, order, args)
                    off, on = run["off"], run["on"]
                    unlimited[code] += off["slices"]
                    slices += [b - a for a, b in zip(off["slices"], on["slices"], strict=True)]
                    timed.append(on["limit_us"] - off["limit_us"])
                cpu[code] += slices
                in_limit[code] += timed
                print(
                    f"round {round_}  {code:<36} CPU {statistics.median(slices):+6.1f} µs/request"
                    f"  in limit() {statistics.mean(timed):+5.2f} µs/request"
                )

    print()
    for code in codes:
        quartiles = " / ".join(f"{q:+.1f}" for q in statistics.quantiles(cpu[code], n=4))
        print(f"{code:<36} off {statistics.median(unlimited[code]):5.0f} µs CPU/request; limiter:")
        print(
            f"{'':<36} CPU {statistics.median(cpu[code]):+6.1f} µs/request (median of "
            f"{len(cpu[code])} pairs of slices; quartiles {quartiles})  in limit() "
            f"{statistics.median(in_limit[code]):+5.2f} µs/request (median of "
            f"{len(in_limit[code])} pairs)"
        )


def measure(
    url: str,
    app_dir: list[str],
    limits: dict[str, str],
    order: tuple[str, ...],
    args: argparse.Namespace,
) -> dict[str, dict[str, Any]]:
    """Start a server per limit, in `order`, and measure them side by side."""
    servers = {}
    with contextlib.ExitStack() as stack:
        for core, name in enumerate(order):
            env = {"REFLEXE_DATABASE_URL": url, "REFLEXE_RATE_LIMIT": limits[name]}
            target = ["bench.limiter:timed_app", "--factory", *app_dir]
            base, pids = stack.enter_context(server(target, env, 1))
            # A core for each server, shared with the other server's wrk.
            for thread in Path(f"/proc/{pids[0]}/task").iterdir():
                os.sched_setaffinity(int(thread.name), {core})
            check(base)
            servers[name] = base, pids[0], 1 - core
        cpu_per_request(servers, 3, args.connections)  # warm-up
        slices = cpu_per_request(servers, args.duration, args.connections)
        timings = {}
        for name, (base, _, _) in servers.items():
            check(base)  # never refused: the limit was not reached
            timings[name] = httpx.get(f"{base}{TIMINGS}", timeout=10).json()
    print(f"  {order[0]} started first; KeyGuard from {timings[order[0]]['guard']}")
    return {
        name: {
            "slices": slices[name],
            "limit_us": timings[name]["ns"] / timings[name]["calls"] / 1e3,
        }
        for name in order
    }


def check(base: str) -> None:
    """The request is authenticated, not refused by the rate limit, and answered 422."""
    response = httpx.get(f"{base}{PATH}", headers=auth_headers(), timeout=10)
    assert response.status_code == 422, (response.status_code, response.text)
    assert "unknown query parameter" in response.text, response.text


def cpu_per_request(
    servers: dict[str, tuple[str, int, int]], seconds: int, connections: int
) -> dict[str, list[float]]:
    """Each server's CPU time in µs per request, for each slice of SLICE seconds over
    `seconds`, while wrk drives all the servers at once."""
    result: dict[str, list[float]] = {name: [] for name in servers}
    for _ in range(max(1, seconds // SLICE)):
        before = {name: cpu_seconds(pid) for name, (_, pid, _) in servers.items()}
        runs = {
            name: start_wrk(base, SLICE, connections, core)
            for name, (base, _, core) in servers.items()
        }
        done = {name: finish_wrk(run) for name, run in runs.items()}
        time.sleep(0.1)  # let the last requests in flight finish
        for name, (_, pid, _) in servers.items():
            requests, failed = done[name]
            result[name].append((cpu_seconds(pid) - before[name]) / requests * 1e6)
            if failed:
                print(f"  {name}: {failed} requests got a 2xx or a socket error, not a 4xx")
    return result


def cpu_seconds(pid: int) -> float:
    # Fields after the command name (which may hold spaces, inside parentheses).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def start_wrk(base: str, seconds: int, connections: int, core: int) -> subprocess.Popen[str]:
    """wrk on `PATH` for `seconds`, on `core`."""
    return subprocess.Popen(
        [
            "taskset",
            "-c",
            str(core),
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-H",
            f"Authorization: {auth_headers()['Authorization']}",
            f"{base}{PATH}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def finish_wrk(run: subprocess.Popen[str]) -> tuple[int, int]:
    """The requests wrk completed, and how many of them got a 2xx or a socket error instead
    of the expected 4xx (`check` tells a 422 from a 429)."""
    out, _ = run.communicate(timeout=120)
    if run.returncode:
        raise subprocess.CalledProcessError(run.returncode, run.args)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = requests - (int(refused.group(1)) if refused else 0)
    failed += sum(int(n) for n in errors.groups()) if errors else 0
    return requests, failed


def timed_app() -> Any:
    """The app, with `KeyGuard.limit` timed: `GET TIMINGS` answers the time its calls took
    and their count, as JSON, without going through the app.

    With the memory storage, `limit` never waits, so the clock counts only its own work."""
    from app.auth.guard import KeyGuard
    from app.main import create_app

    original = KeyGuard.limit
    spent: dict[str, Any] = {
        "ns": 0,
        "calls": 0,
        "guard": sys.modules[KeyGuard.__module__].__file__,
    }

    async def limit(self: KeyGuard, principal: Any, cost: int = 1) -> None:
        started = time.perf_counter_ns()
        try:
            await original(self, principal, cost)
        finally:
            spent["ns"] += time.perf_counter_ns() - started
            spent["calls"] += 1

    KeyGuard.limit = limit  # type: ignore[method-assign]
    app = create_app()

    async def timed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != TIMINGS:
            return await app(scope, receive, send)
        body = json.dumps(spent).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return timed


if __name__ == "__main__":
    main()
