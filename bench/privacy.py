"""What a set's privacy costs the evaluate path: `minimal` against `full`, side by side.

Method. Two fresh databases of the same kind, each with its own admin key, one uvicorn
worker on each (bench/load.py's settings), the same code; on one, PIPU's next version says
`"privacy": "minimal"`. As in bench/observe.py, each server is pinned to a core it shares
with the other's wrk, wrk drives both at once with bench/post.lua (a distinct subject and
profile per request, attributes included), in 2 s slices, and each round starts the pair in
both orders, on swapped cores. Figures: each server's CPU time per stored `POST /evaluate`
(minimal minus full: median and quartiles of the pairs of slices), req/s and p50/p99, and
the bytes each database holds per stored decision at the end.

    .venv/bin/python -m bench.privacy [--db sqlite|postgresql] [--rounds 2] [--duration 10]
"""

import argparse
import contextlib
import os
import statistics
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench.impact import compared, drive
from bench.load import count_rows, migrated_database, server
from bench.observe import line

LEVELS = ("full", "minimal")


def minimise(base: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    current = httpx.get(f"{base}/criteria/pipu", headers=headers, timeout=10)
    if current.json()["privacy"] == "minimal":
        return
    response = httpx.put(
        f"{base}/criteria/pipu",
        json={**current.json(), "privacy": "minimal"},
        headers={**headers, "If-Match": current.headers["etag"]},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def drive_pair(
    databases: dict[str, tuple[str, str]], order: tuple[str, str], seconds: int, run: str
) -> dict[str, dict[str, Any]]:
    """A server per database, each pinned to a core, `minimal` made so, driven at once."""
    with contextlib.ExitStack() as stack:
        servers = {}
        for core, name in enumerate(order):
            url, key = databases[name]
            env = {"REFLEXE_DATABASE_URL": url, "REFLEXE_METRICS_ENABLED": "false"}
            base, pids = stack.enter_context(server(["app.main:create_app", "--factory"], env, 1))
            for thread in Path(f"/proc/{pids[0]}/task").iterdir():
                os.sched_setaffinity(int(thread.name), {core})
            servers[name] = base, pids[0], 1 - core, key
            if name == "minimal":
                minimise(base, key)
        slices, totals = drive(servers, seconds, run)
    return {name: {"slices": slices[name], **totals[name]} for name in servers}


def stored_bytes(url: str) -> float:
    """The bytes of the log's personal and explanatory columns per stored decision."""
    engine = create_engine(url)
    length = "length" if url.startswith("sqlite") else "octet_length"
    columns = ("answer", "CAST(attributes AS TEXT)", "subject_ref", "subject_name")
    total = " + ".join(f"coalesce({length}({column}), 0)" for column in columns)
    with engine.connect() as connection:
        found = connection.execute(text(f"SELECT avg({total}) FROM evaluation")).scalar_one()
    engine.dispose()
    return float(found or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    print(f"# privacy, {args.db}: {args.rounds} rounds of {args.duration} s a pair")
    with contextlib.ExitStack() as stack:
        databases = {}
        for name in LEVELS:
            url = stack.enter_context(migrated_database(args.db, f"reflexe_bench_{name}"))
            databases[name] = url, os.environ["REFLEXE_BENCH_KEY"]
        cpu: dict[str, list[float]] = {name: [] for name in LEVELS}
        differences: list[float] = []
        for round_ in range(1, args.rounds + 1):
            for order in (LEVELS, LEVELS[::-1]):
                run = drive_pair(databases, order, args.duration, f"p{round_}{order[0]}")
                for name in cpu:
                    cpu[name] += run[name]["slices"]
                pairs = zip(run["full"]["slices"], run["minimal"]["slices"], strict=True)
                slices = [minimal - full for full, minimal in pairs]
                differences += slices
                print(
                    f"round {round_}, {order[0]} first: "
                    + "; ".join(f"{name} {line(run[name])}" for name in order)
                    + f"; minimal {statistics.median(slices):+.0f} µs CPU/request"
                )
        print(compared(cpu, differences, LEVELS, "minimal"))
        for name in LEVELS:
            url = databases[name][0]
            print(
                f"{name}: {count_rows(url):,} decisions stored, {stored_bytes(url):,.0f} bytes "
                "of answer, attributes, ref and name each"
            )


if __name__ == "__main__":
    main()
