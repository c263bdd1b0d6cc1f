"""What observing costs the evaluate path: metrics on and one active webhook subscription,
against metrics off and no subscription.

Method. Two fresh databases of the same kind, each with its own admin key, one uvicorn
worker on each (bench/load.py's settings), the same code. "plain" runs with
`REFLEXE_METRICS_ENABLED=false` and no subscription; "observed" with metrics on and one
subscription to every event type, whose target is a receiver in this process answering
204 over kept-alive HTTP/1.1 connections (`REFLEXE_WEBHOOK_ALLOW_PRIVATE_TARGETS=true`):
every stored decision writes an event and a delivery in its transaction, and is sent,
signed, while the load runs. As in
bench/impact.py's shadow phase, each server is pinned to a core it shares with the other's
wrk, wrk drives both at once with bench/post.lua (a distinct profile per request), in 2 s
slices, and each round starts the pair in both orders, on swapped cores. Figures: each
server's CPU time per stored `POST /evaluate` (observed minus plain: median and quartiles
of the pairs of slices), req/s and p50/p99, the metrics' own count of stored decisions,
the deliveries received during each pair (the delivery worker keeping up or not) and, at
the end, the outbox's deliveries by state: none should be left pending.

    .venv/bin/python -m bench.observe [--db sqlite|postgresql] [--rounds 2] [--duration 10]
                                      [--no-subscription]

`--no-subscription` leaves the subscription out: metrics on against off, alone.
`--deliver-process` runs the observed server with `REFLEXE_WEBHOOK_WORKERS=false` and a
`reflexe deliver` process beside it (not pinned), whose own CPU per delivery is reported.
"""

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench.impact import finish_wrk, start_wrk
from bench.limiter import cpu_seconds
from bench.load import BENCH_SECRET, migrated_database, server

SLICE = 2
VARIANTS = {
    "plain": {"REFLEXE_METRICS_ENABLED": "false"},
    "observed": {
        "REFLEXE_METRICS_ENABLED": "true",
        "REFLEXE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    },
}


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # connections kept alive, as receivers' servers do
    received = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with Receiver.lock:
            Receiver.received += 1
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def drive_pair(
    databases: dict[str, tuple[str, str]],
    order: tuple[str, str],
    seconds: int,
    run: str,
    hook: str | None,
    deliverer: bool,
) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        servers = {}
        for core, name in enumerate(order):
            url, key = databases[name]
            env = {"REFLEXE_DATABASE_URL": url, **VARIANTS[name]}
            if name == "observed" and deliverer:
                env["REFLEXE_WEBHOOK_WORKERS"] = "false"
            base, pids = stack.enter_context(server(["app.main:create_app", "--factory"], env, 1))
            for thread in Path(f"/proc/{pids[0]}/task").iterdir():
                os.sched_setaffinity(int(thread.name), {core})
            servers[name] = base, pids[0], 1 - core, key
            if name == "observed" and hook is not None:
                subscribe(base, key, hook)
        delivering = stack.enter_context(deliver_process(databases["observed"][0], deliverer))
        if delivering:
            time.sleep(2)  # its start (imports) is not what a delivery costs
        started_cpu = cpu_seconds(delivering.pid) if delivering else 0.0
        for name in servers:
            result[name] = {"slices": [], "requests": 0, "seconds": 0.0, "p50": [], "p99": []}
        for number in range(max(1, seconds // SLICE)):
            before = {name: cpu_seconds(pid) for name, (_, pid, _, _) in servers.items()}
            started = {
                name: start_wrk(base, core, key, f"{run}-{name}-{number}")
                for name, (base, _, core, key) in servers.items()
            }
            done = {name: finish_wrk(process) for name, process in started.items()}
            time.sleep(0.1)
            for name, (_, pid, _, _) in servers.items():
                found, total = done[name], result[name]
                total["slices"].append((cpu_seconds(pid) - before[name]) / found["requests"] * 1e6)
                total["requests"] += found["requests"]
                total["seconds"] += found["duration_us"] / 1e6
                total["p50"].append(found["p50_us"] / 1000)
                total["p99"].append(found["p99_us"] / 1000)
        time.sleep(1)  # the last deliveries of the pair
        result["observed"]["deliverer_cpu"] = (
            cpu_seconds(delivering.pid) - started_cpu if delivering else None
        )
        base, _, _, key = servers["observed"]
        metrics = httpx.get(
            f"{base}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=10
        ).text
        result["observed"]["decisions_counted"] = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("reflexe_decisions_total{")
        )
    return result


@contextlib.contextmanager
def deliver_process(url: str, wanted: bool) -> Iterator[subprocess.Popen[bytes] | None]:
    """`reflexe deliver` on the observed database, if `wanted`."""
    if not wanted:
        yield None
        return
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "deliver"],
        env={
            **os.environ,
            "REFLEXE_DATABASE_URL": url,
            "REFLEXE_SECRET_KEY": BENCH_SECRET,
            "REFLEXE_LOG_LEVEL": "warning",
            **VARIANTS["observed"],
        },
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def subscribe(base: str, key: str, hook: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    if httpx.get(f"{base}/webhooks", headers=headers, timeout=10).json()["items"]:
        return
    events = ["evaluation.created", "verdict.recorded", "criteria.published"]
    response = httpx.post(
        f"{base}/webhooks", json={"url": hook, "events": events}, headers=headers, timeout=10
    )
    assert response.status_code == 201, response.text


def states(url: str) -> str:
    """The observed database's deliveries, counted by state."""
    engine = create_engine(url)
    with engine.connect() as connection:
        counts = connection.execute(
            text("SELECT state, count(*) FROM webhook_delivery GROUP BY state ORDER BY state")
        ).all()
    engine.dispose()
    return ", ".join(f"{state} {count:,}" for state, count in counts) or "none"


def deliverer_line(cpu: float | None, delivered: int) -> str:
    if cpu is None:
        return ""
    return f" (reflexe deliver: {cpu / max(delivered, 1) * 1e6:.0f} µs CPU a delivery)"


def line(run: dict[str, Any]) -> str:
    return (
        f"{run['requests'] / run['seconds']:,.0f} req/s (p50 {statistics.median(run['p50']):.1f}"
        f" / p99 {statistics.median(run['p99']):.1f} ms), "
        f"{statistics.median(run['slices']):.0f} µs CPU/request"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument(
        "--no-subscription", action="store_true", help="metrics on alone, against off"
    )
    parser.add_argument(
        "--deliver-process",
        action="store_true",
        help="the observed server sends nothing; a `reflexe deliver` process does",
    )
    args = parser.parse_args()
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = None if args.no_subscription else f"http://127.0.0.1:{receiver.server_address[1]}/hooks"
    print(f"# observing, {args.db}: {args.rounds} rounds of {args.duration} s a pair")
    with contextlib.ExitStack() as stack:
        databases = {}
        for name in VARIANTS:
            url = stack.enter_context(migrated_database(args.db, f"reflexe_bench_{name}"))
            databases[name] = url, os.environ["REFLEXE_BENCH_KEY"]
        cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
        differences: list[float] = []
        stored = 0
        for round_ in range(1, args.rounds + 1):
            for order in (("plain", "observed"), ("observed", "plain")):
                received = Receiver.received
                run = drive_pair(
                    databases,
                    order,
                    args.duration,
                    f"o{round_}{order[0]}",
                    hook,
                    args.deliver_process,
                )
                for name in cpu:
                    cpu[name] += run[name]["slices"]
                pairs = zip(run["plain"]["slices"], run["observed"]["slices"], strict=True)
                slices = [on - off for off, on in pairs]
                differences += slices
                stored += run["observed"]["requests"]
                print(
                    f"round {round_}, {order[0]} first: "
                    + "; ".join(f"{name} {line(run[name])}" for name in order)
                    + f"; observed {statistics.median(slices):+.0f} µs CPU/request"
                    + f"; decisions counted by /metrics {run['observed']['decisions_counted']:,.0f}"
                    + f", deliveries received meanwhile {Receiver.received - received:,}"
                    + deliverer_line(run["observed"]["deliverer_cpu"], Receiver.received - received)
                )
        quartiles = " / ".join(f"{q:+.0f}" for q in statistics.quantiles(differences, n=4))
        plain, observed = statistics.median(cpu["plain"]), statistics.median(cpu["observed"])
        print(
            f"CPU per stored POST /evaluate: plain {plain:.0f} µs, observed {observed:.0f} µs; "
            f"observing {statistics.median(differences):+.0f} µs (median of {len(differences)} "
            f"pairs of slices; quartiles {quartiles}), {observed / plain - 1:+.1%}"
        )
        time.sleep(3)  # the last deliveries
        print(f"webhook deliveries received: {Receiver.received:,} (wrk sent {stored:,} requests)")
        if hook is not None:
            print(f"the outbox's deliveries: {states(databases['observed'][0])}")
    receiver.shutdown()


if __name__ == "__main__":
    main()
