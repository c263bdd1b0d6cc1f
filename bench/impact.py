"""Impact benchmark: a replay of 1,000,000 stored decisions, and the evaluate path shadowed.

Method. Replay: a fresh database (a temporary SQLite file, or the PostgreSQL database
`reflexe_bench_impact`, created for the run and dropped after it) is filled as bench/stats.py
fills it: the PIPU set with a version 2 (`unknown: review`), `--profiles` (4,000) distinct
profiles judged by the real engine with each version, copied up to `--decisions`
(1,000,000) over the year before the run, `--verdicts` (20,000) verdicts. Each copy's
headline carries the copy's own number (in its stored `attributes` and in its answer), so
the replay judges a million distinct headlines and no leaf cache sees one twice; the
number matches no keyword, so the stored statuses stay those of the inputs.

One uvicorn worker (bench/load.py's settings) then runs `POST /criteria/pipu/impact` with
`Prefer: respond-async` and a draft that changes PIPU's params (`min_mutual_connections` 5
-> 3, one more target keyword), for every decision made before the run (`until`), and the
job is polled until done. Figures: decisions replayed per second, (compared + not
replayed) / (finished_at - created_at) of the job; the worker's CPU time (/proc/<pid>/stat,
every thread) per 1,000 decisions from the POST to the end; its resident memory before,
sampled every 100 ms during the job (peak) and `VmHWM` (reset before each job). The job
runs twice: once alone, for these figures, then while two probes, each on a connection of
its own, send `GET /healthz` every 20 ms and a stored `POST /evaluate` (a distinct profile
each time) every 50 ms; their p50 / p99 / max over the job are printed next to the same
probes for `--probe-seconds` (10) with no job running.

Shadow: two fresh databases of the same kind, each with its own admin key, one server on
each, the same code; on one, `PUT /criteria/pipu/shadow` with the same draft. As in
bench/limiter.py, each server is pinned to a core it shares with the other's wrk, wrk
drives both at once with bench/post.lua (a distinct profile per request), and each round
starts the pair in both orders, on swapped cores. Figures: each server's CPU time per
stored `POST /evaluate` over 2 s slices, shadowed minus plain, median and quartiles of the
pairs of slices; req/s and p50/p99 of each; the engine runs per stored evaluation, counted
by the servers (`counted_app`: `evaluate` and `replay` of `evaluations.deciding` wrapped in
a counter); and the stored rows that carry a shadow decision. Then, in process, the time
`deciding.judge` takes with the shadow and without, on 2,000 distinct profiles a round.

    .venv/bin/python -m bench.impact [--db sqlite|postgresql] [--decisions 1000000]
                                     [--verdicts 20000] [--profiles 4000]
                                     [--probe-seconds 10] [--rounds 2] [--duration 10]
                                     [--skip-replay] [--skip-shadow]
"""

import argparse
import contextlib
import dataclasses
import gc
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from app.auth.service import key_id_of
from app.criteria.registry import CriteriaRegistry
from app.criteria.seed import PIPU
from app.db import create_db_engine
from app.evaluations.deciding import Budget, judge, prepare
from app.evaluations.models import EvaluationRequest
from app.settings import Settings
from bench.limiter import cpu_seconds
from bench.load import BODY, HERE, auth_headers, migrated_database, rss_mib, server
from bench.stats import (
    SET,
    add_version_2,
    analyse,
    base_rows,
    fill_decisions,
    fill_verdicts,
    iso,
    judged_count,
    profile_request,
    sizes,
)

DATABASE = "reflexe_bench_impact"
TARGET_PER_S = 20_000
HEALTH_EVERY_S = 0.02
EVALUATE_EVERY_S = 0.05
RSS_EVERY_S = 0.1
POLL_EVERY_S = 0.5
SLICE = 2  # seconds of wrk between two readings of the servers' CPU time
COUNTS = "/bench/engine-runs"  # where `counted_app` answers its counts
JOB_TIMEOUT_S = 1800


def draft() -> dict[str, Any]:
    """PIPU's content with retuned params: what the replay and the shadow decide with."""
    content = PIPU.model_dump(mode="json", exclude={"slug"})
    content["policy"]["unknown"] = "review"  # as the current version 2
    content["params"]["min_mutual_connections"] = 3
    content["params"]["target_keywords"] = [*content["params"]["target_keywords"], "python"]
    return content


def distinct_headline(number: int, base: int, row: dict[str, Any]) -> None:
    """The copy's own number in its headline, where the base profile has its number."""
    old, new = f" {base} \u2014 ", f" {number} \u2014 "
    row["attributes"] = row["attributes"].replace(old, new)
    row["answer"] = row["answer"].replace(old, new)


# --- the replay ----------------------------------------------------------------------------


def replay_phase(args: argparse.Namespace) -> None:
    now = datetime.now(UTC)
    print(f"# replay, {args.db}: {args.decisions:,} decisions, {args.verdicts:,} verdicts")
    with migrated_database(args.db, DATABASE) as url:
        key_id = key_id_of(os.environ["REFLEXE_BENCH_KEY"])
        assert key_id is not None
        engine = create_db_engine(Settings(database_url=url))
        add_version_2(engine)
        bases = base_rows(engine, key_id, args.profiles, args.seed)
        judged = set(
            random.Random(args.seed).sample(range(args.decisions), judged_count(args.verdicts))
        )
        started = time.monotonic()
        generated = fill_decisions(
            engine, bases, args.decisions, judged, now, [], args.seed, vary=distinct_headline
        )
        filled = fill_verdicts(engine, generated, args.verdicts, key_id, now, args.seed)
        engine.dispose()
        analysed = analyse(url)
        print(
            f"filled in {time.monotonic() - started:.0f} s: {args.decisions:,} decisions, "
            f"{filled}; {analysed}\n{sizes(url)}"
        )
        body = {"criteria": draft(), "until": iso(now)}
        target = ["app.main:create_app", "--factory"]
        with (
            server(target, {"REFLEXE_DATABASE_URL": url}, 1) as (base, pids),
            httpx.Client(base_url=base, headers=auth_headers(), timeout=120) as http,
        ):
            pid = pids[0]
            idle = probe(base, args.probe_seconds)
            alone = run_job(http, pid, body)
            print(f"job alone:       {job_line(alone)}")
            with probing(base) as latencies:
                loaded = run_job(http, pid, body)
            print(f"job with probes: {job_line(loaded)}")
            report_job(alone, args.decisions)
            print("\n| probe | no job: p50 / p99 / max ms (n) | during the job |\n|---|---|---|")
            for name in idle:
                print(f"| {name} | {percentiles(idle[name])} | {percentiles(latencies[name])} |")


def run_job(http: httpx.Client, pid: int, body: dict[str, Any]) -> dict[str, Any]:
    """POST the impact request as a job, poll it to the end; what it took the worker."""
    gc.collect()
    with contextlib.suppress(OSError):  # resets VmHWM to the current RSS (Linux >= 4.0)
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    rss_before, cpu_before = rss_mib(pid), cpu_seconds(pid)
    started = time.monotonic()
    response = http.post(f"/criteria/{SET}/impact", json=body, headers={"Prefer": "respond-async"})
    accepted_s = time.monotonic() - started
    assert response.status_code == 202, (response.status_code, response.text[:500])
    location = response.headers["location"]
    peak, polled = rss_before, 0.0
    deadline = started + JOB_TIMEOUT_S
    while True:
        peak = max(peak, rss_mib(pid))
        time.sleep(RSS_EVERY_S)
        if time.monotonic() - polled < POLL_EVERY_S:
            continue
        polled = time.monotonic()
        job = http.get(location).json()
        if job["status"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, "the job did not finish in time"
    cpu = cpu_seconds(pid) - cpu_before
    assert job["status"] == "done", job
    report = job["report"]
    replayed = report["compared"] + report["not_replayed"]
    elapsed = (
        datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["created_at"])
    ).total_seconds()
    return {
        "replayed": replayed,
        "seconds": elapsed,
        "per_s": replayed / elapsed,
        "cpu_per_1000": cpu / replayed * 1000,
        "accepted_s": accepted_s,
        "rss": (rss_before, peak, rss_mib(pid), hwm_mib(pid)),
        "report": report,
    }


def job_line(job: dict[str, Any]) -> str:
    before, peak, after, hwm = job["rss"]
    return (
        f"{job['replayed']:,} decisions in {job['seconds']:.1f} s = {job['per_s']:,.0f}/s, "
        f"{job['cpu_per_1000']:.3f} CPU s per 1,000; 202 in {job['accepted_s'] * 1000:.0f} ms; "
        f"RSS {before:.0f} -> peak {peak:.0f} (VmHWM {hwm:.0f}) -> {after:.0f} MiB"
    )


def report_job(job: dict[str, Any], decisions: int) -> None:
    report = job["report"]
    matrix = {old: dict(row) for old, row in report["matrix"].items()}
    flips = {c["key"]: c["flipped"] for c in report["criteria"]}
    print(
        f"report: compared {report['compared']:,}, changed {report['changed']:,}, not "
        f"replayed {report['not_replayed']:,}, truncated {report['truncated']}; matrix "
        f"{matrix}; flips {flips}; verdicts {report['verdicts']}; cases {report['cases']}"
    )
    if job["replayed"] != decisions:
        print(f"  MISMATCH: {job['replayed']:,} replayed, {decisions:,} stored")
    met = "met" if job["per_s"] >= TARGET_PER_S else "NOT met"
    print(f"target {TARGET_PER_S:,} decisions/s on one worker: {met} ({job['per_s']:,.0f}/s)")


def hwm_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


# --- the probes ----------------------------------------------------------------------------


def probe(base: str, seconds: float) -> dict[str, list[float]]:
    """The probes' latencies over `seconds` with nothing else running."""
    with probing(base) as latencies:
        time.sleep(seconds)
    return latencies


@contextlib.contextmanager
def probing(base: str) -> Iterator[dict[str, list[float]]]:
    """Two probe threads while the block runs; their latencies in ms, filled as they go."""
    latencies: dict[str, list[float]] = {"GET /healthz": [], "POST /evaluate (stored)": []}
    stop = threading.Event()
    counter = iter(range(10**9))

    def health() -> Iterator[httpx.Request]:
        while True:
            yield httpx.Request("GET", f"{base}/healthz")

    def evaluate() -> Iterator[httpx.Request]:
        while True:
            unique = f"probe-{time.time_ns()}-{next(counter)}"
            item = json.loads(json.dumps(BODY))
            item["subject"]["ref"] = f"https://www.linkedin.com/in/{unique}"
            item["attributes"]["headline"] = f"Directrice Générale chez Acme {unique} — growth"
            yield httpx.Request("POST", f"{base}/evaluate", json=item, headers=auth_headers())

    def send(name: str, requests: Iterator[httpx.Request], every: float) -> None:
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                started = time.perf_counter()
                response = http.send(next(requests))
                latencies[name].append((time.perf_counter() - started) * 1000)
                if response.status_code >= 300:
                    print(f"  {name}: {response.status_code} {response.text[:200]}")
                stop.wait(max(0.0, every - (time.perf_counter() - started)))

    threads = [
        threading.Thread(target=send, args=("GET /healthz", health(), HEALTH_EVERY_S)),
        threading.Thread(
            target=send, args=("POST /evaluate (stored)", evaluate(), EVALUATE_EVERY_S)
        ),
    ]
    for thread in threads:
        thread.start()
    try:
        yield latencies
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return f"({len(values)})"
    cuts = statistics.quantiles(values, n=100)
    return f"{cuts[49]:.1f} / {cuts[98]:.1f} / {max(values):.1f} ({len(values)})"


# --- the shadow ----------------------------------------------------------------------------


def shadow_phase(args: argparse.Namespace) -> None:
    print(f"\n# shadow, {args.db}: {args.rounds} rounds of {args.duration} s a pair, both orders")
    with contextlib.ExitStack() as stack:
        databases: dict[str, tuple[str, str]] = {}
        for name in ("plain", "shadowed"):
            url = stack.enter_context(migrated_database(args.db, f"{DATABASE}_{name}"))
            databases[name] = url, os.environ["REFLEXE_BENCH_KEY"]
        url, key = databases["shadowed"]
        with server(["app.main:create_app", "--factory"], {"REFLEXE_DATABASE_URL": url}, 1) as (
            base,
            _,
        ):
            response = httpx.put(
                f"{base}/criteria/{SET}/shadow",
                json={"criteria": draft()},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            print(f"shadow: {response.json()}")
        cpu: dict[str, list[float]] = {"plain": [], "shadowed": []}
        differences: list[float] = []
        for round_ in range(1, args.rounds + 1):
            for order in (("plain", "shadowed"), ("shadowed", "plain")):
                run = measure_pair(databases, order, args.duration, f"r{round_}{order[0]}")
                for name in cpu:
                    cpu[name] += run[name]["slices"]
                pairs = zip(run["plain"]["slices"], run["shadowed"]["slices"], strict=True)
                slices = [on - off for off, on in pairs]
                differences += slices
                print(
                    f"round {round_}, {order[0]} first: "
                    + "; ".join(f"{name} {pair_line(run[name])}" for name in order)
                    + f"; shadow {statistics.median(slices):+.0f} µs CPU/request"
                )
        print(compared(cpu, differences, ("plain", "shadowed"), "shadow"))
        for name, (url, _) in databases.items():
            print(f"  {name}: {stored_rows(url)}")
    in_process(args.seed)


def compared(
    cpu: dict[str, list[float]], differences: list[float], names: tuple[str, str], what: str
) -> str:
    """The line that sums up a side-by-side run: each variant's median CPU per request, and
    the median and quartiles of the differences of the pairs of slices."""
    quartiles = " / ".join(f"{q:+.0f}" for q in statistics.quantiles(differences, n=4))
    base, other = (statistics.median(cpu[name]) for name in names)
    return (
        f"CPU per stored POST /evaluate: {names[0]} {base:.0f} µs, {names[1]} {other:.0f} µs; "
        f"{what} {statistics.median(differences):+.0f} µs (median of {len(differences)} "
        f"pairs of slices; quartiles {quartiles}), {other / base - 1:+.1%}"
    )


def measure_pair(
    databases: dict[str, tuple[str, str]], order: tuple[str, ...], seconds: int, run: str
) -> dict[str, dict[str, Any]]:
    """Start a server per database, in `order`, and drive them at once."""
    servers: dict[str, tuple[str, int, int, str]] = {}
    with contextlib.ExitStack() as stack:
        for core, name in enumerate(order):
            url, key = databases[name]
            target = ["bench.impact:counted_app", "--factory"]
            base, pids = stack.enter_context(server(target, {"REFLEXE_DATABASE_URL": url}, 1))
            for thread in Path(f"/proc/{pids[0]}/task").iterdir():
                os.sched_setaffinity(int(thread.name), {core})
            servers[name] = base, pids[0], 1 - core, key
        drive(servers, 3, f"{run}-warm")
        counted_before = {name: counts(base) for name, (base, *_) in servers.items()}
        slices, totals = drive(servers, seconds, run)
        result = {}
        for name, (base, *_) in servers.items():
            done = counts(base)
            evaluations = done["evaluate"] - counted_before[name]["evaluate"]
            replays = done["replay"] - counted_before[name]["replay"]
            result[name] = {
                "slices": slices[name],
                "runs": (evaluations, replays),
                **totals[name],
            }
    return result


def drive(
    servers: dict[str, tuple[str, int, int, str]], seconds: int, run: str
) -> tuple[dict[str, list[float]], dict[str, dict[str, Any]]]:
    """wrk on every server at once, in slices: CPU µs per request per slice, and totals."""
    slices: dict[str, list[float]] = {name: [] for name in servers}
    totals = {
        name: {"requests": 0, "ok": 0, "seconds": 0.0, "p50": [], "p99": []} for name in servers
    }
    for number in range(max(1, seconds // SLICE)):
        before = {name: cpu_seconds(pid) for name, (_, pid, _, _) in servers.items()}
        started = {
            name: start_wrk(base, core, key, f"{run}-{name}-{number}")
            for name, (base, _, core, key) in servers.items()
        }
        done = {name: finish_wrk(process) for name, process in started.items()}
        time.sleep(0.1)  # let the last requests in flight finish
        for name, (_, pid, _, _) in servers.items():
            found = done[name]
            slices[name].append((cpu_seconds(pid) - before[name]) / found["requests"] * 1e6)
            total = totals[name]
            total["requests"] += found["requests"]
            total["ok"] += found["requests"] - found["non_2xx"]
            total["seconds"] += found["duration_us"] / 1e6
            total["p50"].append(found["p50_us"] / 1000)
            total["p99"].append(found["p99_us"] / 1000)
            if found["non_2xx"] or found["socket_errors"]:
                print(f"  {name}: {found['non_2xx']} non-2xx, {found['socket_errors']} errors")
    return slices, totals


def start_wrk(base: str, core: int, key: str, run: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *("taskset", "-c", str(core), "wrk", "-t1", "-c16", f"-d{SLICE}s"),
            *("--timeout", "5s", "-s", str(HERE / "post.lua"), f"{base}/evaluate"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "REFLEXE_BENCH_KEY": key,
            "REFLEXE_BENCH_HEADER": "X-Request-Id",
            "REFLEXE_BENCH_RUN": run,
        },
    )


def finish_wrk(process: subprocess.Popen[str]) -> dict[str, int]:
    out, _ = process.communicate(timeout=120)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, process.args)
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", out.split("RESULT", 1)[1])}


def pair_line(run: dict[str, Any]) -> str:
    evaluations, replays = run["runs"]
    return (
        f"{run['requests'] / run['seconds']:,.0f} req/s (p50 {statistics.median(run['p50']):.1f}"
        f" / p99 {statistics.median(run['p99']):.1f} ms), "
        f"{statistics.median(run['slices']):.0f} µs CPU/request, engine runs per stored "
        f"evaluation {(evaluations + replays) / max(1, evaluations):.3f} ({evaluations:,} "
        f"evaluate + {replays:,} replay; wrk {run['ok']:,} 2xx)"
    )


def counts(base: str) -> dict[str, int]:
    found: dict[str, int] = httpx.get(f"{base}{COUNTS}", timeout=10).json()
    return found


def stored_rows(url: str) -> str:
    engine = create_engine(url)
    with engine.connect() as connection:
        total, shadowed = connection.execute(
            text("SELECT count(*), count(shadow_version) FROM evaluation")
        ).one()
    engine.dispose()
    return f"{total:,} decisions stored, {shadowed:,} with a shadow decision"


def counted_app() -> Any:
    """The app, with the engine runs of `evaluations.deciding` counted (`evaluate`, the
    explained run; `replay`, the shadow's): `GET COUNTS` answers them, outside the app."""
    from app.evaluations import deciding
    from app.main import create_app

    runs = {"evaluate": 0, "replay": 0}
    evaluate, replay = deciding.run_engine, deciding.replay

    def counted_evaluate(*args: Any) -> Any:
        runs["evaluate"] += 1
        return evaluate(*args)

    def counted_replay(*args: Any) -> Any:
        runs["replay"] += 1
        return replay(*args)

    deciding.run_engine = counted_evaluate  # type: ignore[assignment]
    deciding.replay = counted_replay  # type: ignore[assignment]
    app = create_app()

    async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != COUNTS:
            return await app(scope, receive, send)
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(runs).encode()})

    return counted


def in_process(seed: int, profiles: int = 2000, rounds: int = 7) -> None:
    """`deciding.judge` with the shadow and without, µs per distinct profile."""
    from app.criteria import service as criteria_service
    from app.criteria.models import CriteriaSetReplace
    from app.migrate import prepare_database

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite:///{folder}/in-process.db")
        prepare_database(settings)
        engine = create_db_engine(settings)
        plain = CriteriaRegistry(engine).load(SET, None)
        engine.dispose()
    definition = criteria_service.build_definition(CriteriaSetReplace.model_validate(draft()))
    shadowed = dataclasses.replace(plain, shadow=(3, definition))
    budget = Budget(evaluation=10**9, request=10**9)
    rng = random.Random(seed)
    times: dict[str, list[float]] = {"plain": [], "shadowed": []}
    gc.collect()
    gc.disable()
    for round_ in range(rounds):
        for name, resolved in (("plain", plain), ("shadowed", shadowed)):
            requests = [
                EvaluationRequest.model_validate(profile_request(round_ * 10**6 + number, rng))
                for number in range(profiles)
            ]
            prepared = [prepare(r, resolved, budget) for r in requests]
            started = time.perf_counter()
            for item in prepared:
                judge(item, None)
            times[name].append((time.perf_counter() - started) / profiles * 1e6)
    gc.enable()
    off, on = statistics.median(times["plain"]), statistics.median(times["shadowed"])
    print(
        f"in process, deciding.judge on {profiles:,} distinct profiles (median of {rounds} "
        f"rounds): plain {off:.1f} µs, shadowed {on:.1f} µs, shadow {on - off:+.1f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--verdicts", type=int, default=20_000)
    parser.add_argument("--profiles", type=int, default=4_000)
    parser.add_argument("--probe-seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="shadow: rounds of both orders")
    parser.add_argument("--duration", type=int, default=10, help="shadow: seconds of wrk a pair")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--skip-replay", action="store_true")
    parser.add_argument("--skip-shadow", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    if not 0 < judged_count(args.verdicts) <= args.verdicts <= args.decisions:
        sys.exit("--verdicts: at least 1, at most --decisions")
    if not args.skip_replay:
        replay_phase(args)
    if not args.skip_shadow:
        shadow_phase(args)


if __name__ == "__main__":
    main()
