"""Hardening benchmark: the worst requests the limits allow, and memory under batch load.

Method. The script starts `reflexe serve` (one worker, a fresh SQLite database,
development mode so that loopback calls need no key, no rate limit) with the default
limits, and creates the criteria sets the worst cases need.

Responsiveness. For each worst case below, a probe thread sends `GET /healthz` every
20 ms on a connection of its own while another thread sends the worst request (or
`--repeat` of them, one after the other); the script reports how long the worst request
took and the probe's worst and median latency during it, next to the probe's latency with
the server idle.
- a stored evaluation at its budget: ten slow regular expressions (within the program
  size) on a 5,000-character text, 1,000,000 units;
- a stored evaluation with 200 keyword leaves (a 500-keyword param) on a 4,000-character
  headline: 800,000 units, and the largest answer;
- an inline draft at its budget: 45 regular expressions to compile, each on 500 characters;
- a batch at the request budget: ten such evaluations of 1,000,000 units;
- a batch of 200 items of 10,000 values each, as many as a 4 MiB body holds;
- a batch of 1,000 typical PIPU items with a 3,500-character headline (4 MiB).

Memory. `--clients` threads (20) each send the largest batch (1,000 items, 4 MiB) again
and again for `--duration` seconds; a batch refused because the process already runs its
maximum is retried after its Retry-After. The server's resident memory (VmRSS) is sampled
every 100 ms: the script reports it before, its peak (VmHWM), right after the load and
after `--settle` seconds idle, and how many batches were answered 200 and 503.

    .venv/bin/python -m bench.hardening [--duration 20] [--clients 20] [--settle 10]
"""

import argparse
import functools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.load import free_port

JSON = {"content-type": "application/json"}
SLOW_REGEX = "(.{0,20}){0,9}"  # program size 1,6xx: slow for RE2, within the limit
TEXT = "".join(chr(97 + (i * 7919) % 23) if i % 6 else " " for i in range(5000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--settle", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, served(f"sqlite:///{folder}/h.db") as (base, pid):
        prepare(base)
        idle = probe_during(base, lambda: time.sleep(2))
        print(f"idle server: /healthz p50 {idle['p50']:.1f} ms, max {idle['max']:.1f} ms")
        print(f"{'worst case':52} {'request':>9} {'healthz p50':>12} {'healthz max':>12}")
        for name, send in worst_cases(base).items():
            timings: list[float] = []
            probe = probe_during(base, functools.partial(timed, send, args.repeat, timings))
            print(f"{name:52} {max(timings):7.0f} ms {probe['p50']:9.1f} ms {probe['max']:9.1f} ms")
        memory(base, pid, args)


def timed(send: Callable[[], httpx.Response], repeat: int, timings: list[float]) -> None:
    """Send the request `repeat` times, one after the other, adding each duration (ms)."""
    for _ in range(repeat):
        started = time.perf_counter()
        response = send()
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 201), response.text[:300]


def worst_cases(base: str) -> dict[str, Callable[[], httpx.Response]]:
    http = httpx.Client(base_url=base, timeout=120)
    single = {"criteria_set": "regex10", "attributes": {"bio": TEXT}}
    keywords = {"criteria_set": "widest", "attributes": {"headline": headline()}}
    draft = draft_at_budget()
    # As many values as a 4 MiB body holds, spread over items of the most values allowed.
    item = b'{"attributes": {"x": [' + b",".join([b"0"] * 9_990) + b"]}}"
    tiny = b'{"items": [' + b",".join([item] * 200) + b"]}"
    typical = largest_batch()
    return {
        "evaluation, 10 slow regexes x 5,000 chars": lambda: http.post("/evaluate", json=single),
        "evaluation, 200 keyword leaves x 4,000 chars": lambda: http.post(
            "/evaluate", json=keywords
        ),
        "inline draft, 45 regexes compiled": lambda: http.post("/evaluate", json=draft),
        "batch at the request budget (10 x 1,000,000 units)": lambda: http.post(
            "/evaluate/batch", json={"items": [single] * 10}
        ),
        "batch of 200 items of 10,000 values each (4 MiB)": lambda: http.post(
            "/evaluate/batch", content=tiny, headers=JSON
        ),
        "batch of 1,000 typical items (4 MiB)": lambda: http.post(
            "/evaluate/batch", content=typical, headers=JSON
        ),
    }


def prepare(base: str) -> None:
    regex = [
        {"attribute": "bio", "operator": "matches", "value": SLOW_REGEX + end}
        for end in "klmnopqrst"
    ]
    leaf = {"attribute": "headline", "operator": "contains_any", "value": {"param": "keywords"}}
    sets = [
        criteria_set("regex10", [{"any": regex}]),
        criteria_set("widest", [{"any": [leaf] * 4}] * 50, {"keywords": keyword_list()}),
    ]
    with httpx.Client(base_url=base, timeout=60) as http:
        for body in sets:
            response = http.post("/criteria", json=body)
            assert response.status_code == 201, response.text


def criteria_set(
    slug: str | None, rules: list[dict[str, Any]], params: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"{slug or 'draft'} set",
        "criteria": [
            {"key": f"c{i}", "label": f"C{i}", "question": "?", "rules": rule}
            for i, rule in enumerate(rules)
        ],
        "policy": {"accept_at": 1},
        "params": params or {},
    }
    if slug is not None:
        body["slug"] = slug
    return body


def keyword_list() -> list[str]:
    return [f"keyword{i:03d}" for i in range(500)]


def headline() -> str:
    return " ".join(["growth", "keyword499"] + ["lorem"] * 800)[:4000]


def draft_at_budget() -> dict[str, Any]:
    # 45 x (1,000 + 10,000) to compile + 45 x 500 x 20 to run: 945,000 units.
    regexes = [
        {"attribute": "bio", "operator": "matches", "value": f"{SLOW_REGEX}{i:02d}"}
        for i in range(45)
    ]
    rules = [{"any": regexes[i : i + 5]} for i in range(0, 45, 5)]
    attributes = {"bio": TEXT[:500]}
    return {"dry_run": True, "criteria": criteria_set(None, rules), "attributes": attributes}


def largest_batch() -> bytes:
    body = json.dumps({"items": [typical_item(i) for i in range(1000)]}, ensure_ascii=False)
    return body.encode()


def typical_item(i: int) -> dict[str, Any]:
    return {
        "subject": {"ref": f"https://www.linkedin.com/in/person-{i}"},
        "answers": {"pertinence": True},
        "attributes": {
            "headline": ("Directrice Générale chez Acme — growth & digital " * 80)[:3500],
            "industry": "Software Development",
            "mutual_connections": i % 9,
            "location": "Lyon",
        },
    }


def probe_during(base: str, work: Callable[[], None]) -> dict[str, float]:
    """Latencies of GET /healthz every 20 ms while `work` runs in another thread."""
    latencies: list[float] = []
    done = threading.Event()

    def run() -> None:
        try:
            work()
        finally:
            done.set()

    worker = threading.Thread(target=run)
    with httpx.Client(base_url=base, timeout=30) as http:
        http.get("/healthz")
        worker.start()
        while not done.is_set():
            started = time.perf_counter()
            assert http.get("/healthz").status_code == 200
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    worker.join()
    return {"p50": statistics.median(latencies), "max": max(latencies)}


def memory(base: str, pid: int, args: argparse.Namespace) -> None:
    payload = largest_batch()
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + args.duration

    def client() -> None:
        with httpx.Client(base_url=base, timeout=120) as http:
            while time.monotonic() < deadline:
                response = http.post("/evaluate/batch", content=payload, headers=JSON)
                with lock:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 503:
                    time.sleep(int(response.headers.get("retry-after", "1")))

    before = rss(pid)
    samples: list[float] = []
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        samples.append(rss(pid))
        time.sleep(0.1)
    after = rss(pid)
    time.sleep(args.settle)
    settled = rss(pid)
    peak = status_field(pid, "VmHWM")
    print(
        f"memory, {args.clients} clients x 1,000-item batches for {args.duration} s: "
        f"RSS {before:.0f} MiB before, peak {peak:.0f} MiB (sampled max {max(samples):.0f}), "
        f"{after:.0f} MiB right after, {settled:.0f} MiB {args.settle} s later; "
        f"answers {dict(sorted(statuses.items()))}"
    )


def rss(pid: int) -> float:
    return status_field(pid, "VmRSS")


def status_field(pid: int, name: str) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{name}:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


class served:
    """`reflexe serve` on `url` for the block: its base URL and process id."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> tuple[str, int]:
        port = free_port()
        env = {
            **os.environ,
            "REFLEXE_DATABASE_URL": self.url,
            "REFLEXE_DEV_MODE": "true",
            "REFLEXE_RATE_LIMIT": "",
            "REFLEXE_LOG_LEVEL": "warning",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            env=env,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        return base, self.process.pid

    def __exit__(self, *_: object) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


if __name__ == "__main__":
    main()
