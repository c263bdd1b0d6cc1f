"""Reliability run: 50 concurrent clients for 30 seconds against 2 workers.

wrk keeps 50 connections posting PIPU evaluations while another client replaces the
criteria set every half second (so workers keep meeting versions another worker just
replaced) and pages through the decision log. Pass when no response is a 5xx, no socket
error occurs, and the decisions stored equal the 2xx responses (give or take the requests
in flight when wrk stopped).

    .venv/bin/python -m bench.reliability [--db sqlite|postgresql] [--workers 2]
                                          [--connections 50] [--duration 30]
"""

import argparse
import sys
import threading
import time

import httpx

from bench.load import auth_headers, count_rows, migrated_database, server, wrk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=30)
    args = parser.parse_args()

    with migrated_database(args.db) as url:
        env = {"REFLEXE_DATABASE_URL": url}
        with server(["app.main:create_app", "--factory"], env, args.workers) as (base, _):
            stop = threading.Event()
            side = {"puts": 0, "reads": 0, "failures": 0}
            churn = threading.Thread(target=change_criteria, args=(base, stop, side))
            churn.start()
            try:
                load = wrk(base, args.duration, args.connections, "X-Request-Id", "reliability")
            finally:
                stop.set()
                churn.join()
            time.sleep(1)
            rows = count_rows(url)

    in_flight = rows - load["ok"]
    passed = (
        load["non_2xx"] == 0
        and load["errors"] == 0
        and side["failures"] == 0
        and 0 <= in_flight <= args.connections
    )
    print(
        f"# {args.db}, {args.workers} workers, {args.connections} connections, "
        f"{args.duration} s\n"
        f"evaluations: {load['ok']} 2xx ({load['rps']:.0f}/s, p99 {load['p99']:.1f} ms), "
        f"{load['non_2xx']} other statuses, {load['errors']} socket errors\n"
        f"stored: {rows} ({in_flight} in flight when wrk stopped)\n"
        f"criteria replaced {side['puts']} times, log pages read {side['reads']}, "
        f"side-client failures {side['failures']}\n"
        f"{'PASS' if passed else 'FAIL'}"
    )
    sys.exit(0 if passed else 1)


def change_criteria(base: str, stop: threading.Event, side: dict[str, int]) -> None:
    with httpx.Client(base_url=base, timeout=10, headers=auth_headers()) as http:
        while not stop.wait(0.5):
            current = http.get("/criteria/pipu")
            content = {
                key: value
                for key, value in current.json().items()
                if key not in ("slug", "version", "created_at", "is_default", "archived_at")
            }
            content["params"]["min_mutual_connections"] = 5 + side["puts"] % 5
            put = http.put(
                "/criteria/pipu", json=content, headers={"If-Match": current.headers["etag"]}
            )
            page = http.get("/evaluations", params={"limit": 100})
            side["puts"] += put.status_code == 200
            side["reads"] += page.status_code == 200
            side["failures"] += put.status_code != 200 or page.status_code != 200


if __name__ == "__main__":
    main()
