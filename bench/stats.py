"""Statistics benchmark: GET /stats and the review queue over 1,000,000 stored decisions.

Method. A fresh database (a temporary SQLite file, or the PostgreSQL database
`reflexe_bench_stats`, created for the run and dropped after it), migrated and seeded with
the PIPU set, holding one admin key (bench/load.py's helpers). The real engine judges
`--profiles` (4,000) distinct PIPU profiles (`deciding.prepare` and `deciding.judge`):
answers true, false, null or absent, attributes present or missing, so that the three
outcomes and many tuples of statuses occur. Their rows are then replicated up to
`--decisions`, each copy with an id of its own (a UUIDv7 of its time, as the service makes
them), a subject of its own and a time of its own; the copies are spread evenly over the
365 days before the run and written in that order, as the log grows. The stored answer is
the engine's (3 KB of JSON) with the copy's id, subject and time, so the table has its real
size. Rows go straight to the driver with the service's own insert (`RowInsert`), in
`executemany` chunks of 5,000, 50,000 per transaction. Then `--verdicts` (20,000) verdict
rows on decisions drawn at random, with the copies `Verdict` keeps of them: one decision in
ten has a second verdict that replaced the first, half of the verdicts judge every
criterion (`verdict_criterion`), with the rule leaves they contradict (`verdict_leaf`), as
`reviews.service` records them. Then `ANALYZE` (SQLite) or `VACUUM ANALYZE` (PostgreSQL:
what autovacuum does to a table after bulk inserts; it sets the visibility map that lets
index-only scans skip the table).

The real server (uvicorn, one worker, bench/load.py's settings) then answers over HTTP, with
the admin key: GET /stats for the set, with `bucket=day`, over a range (90 to 30 days ago),
for version 1, and the first page of GET /reviews. Each request once to warm up, then
`--runs` (5) times: the median and the slowest, in ms. Every answer must be 200, count the
decisions generated in its range, the verdicts and the open reviews; the queue must start
with the oldest review without a verdict. Requirement: each under 1 s.

`--explain`, or any request over the second, then runs the request in process and times
each of its SQL statements again, printing the plan of those over 100 ms (SQLite
`EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN (ANALYZE, BUFFERS)`). Every loop is bounded in
count or time and talks to 127.0.0.1 only.

    .venv/bin/python -m bench.stats [--db sqlite|postgresql] [--decisions 1000000]
                                    [--verdicts 20000] [--profiles 4000] [--runs 5]
                                    [--explain]
"""

import argparse
import contextlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, Table, create_engine, event, insert, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.auth.service import key_id_of
from app.criteria.registry import CriteriaRegistry, ResolvedCriteria
from app.db import create_db_engine
from app.evaluations.deciding import Budget, judge, prepare
from app.evaluations.models import EvaluationRecord, EvaluationRequest
from app.evaluations.writer import RowInsert
from app.reviews import stats
from app.reviews.models import Verdict, VerdictCriterion, VerdictLeaf
from app.reviews.queue import Scope, list_queue
from app.reviews.service import leaf_name
from app.settings import Settings
from bench.load import BENCH_SECRET, POSTGRES_URL, auth_headers, migrated_database, server

DATABASE = "reflexe_bench_stats"
SET = "pipu"
SPAN = timedelta(days=365)
CHUNK = 5_000
PER_TRANSACTION = 50_000
LIMIT_MS = 1000.0
SLOW_STATEMENT_S = 0.1
REQUEST_TIMEOUT_S = 120.0
KEYS = ("pertinence", "interaction", "prescription", "utilite")
_EVALUATION: Table = EvaluationRecord.__table__  # type: ignore[attr-defined]
_VERDICT: Table = Verdict.__table__  # type: ignore[attr-defined]
_CRITERION: Table = VerdictCriterion.__table__  # type: ignore[attr-defined]
_LEAF: Table = VerdictLeaf.__table__  # type: ignore[attr-defined]

# Profile vocabulary: some values match the PIPU rules' params, the others do not.
TITLES = (
    "Directrice Générale",
    "Head of Growth",
    "Fondateur",
    "Consultant marketing",
    "Développeur Python",
    "Comptable",
    "Responsable RH",
    "Infirmière",
    "Chargée de recrutement",
    "Technicien de maintenance",
    "Partner",
    "Étudiant",
    "Chef de chantier",
    "Professeure des écoles",
    "Pharmacien",
)
INDUSTRIES = (
    "Software Development",
    "Marketing Services",
    "IT Services and IT Consulting",
    "Retail",
    "Construction",
    "Hospitals and Health Care",
    "Education",
    "Banking",
    "Farming",
    "Transportation",
)
COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Soylent", "Hooli", "Vandelay")
LOCATIONS = (
    "Lyon, Auvergne-Rhône-Alpes",
    "Paris, Île-de-France",
    "Bordeaux, Nouvelle-Aquitaine",
    "Marseille, Provence-Alpes-Côte d'Azur",
    "Lille, Hauts-de-France",
    "Genève, Suisse",
    "Montréal, Québec",
    "Strasbourg, Grand Est",
    "Toulouse, Occitanie",
    "Bruxelles, Belgique",
)
FLAVOURS = ("growth & digital", "ventes B2B", "santé", "open source", "BTP", "freelance")
SKILLS = ("Marketing", "Growth", "Python", "SQL", "Vente", "Management", "Comptabilité")


# --- the database -------------------------------------------------------------------------


@contextlib.contextmanager
def stats_database(kind: str) -> Iterator[str]:
    """A fresh migrated database of `kind` holding one admin key, as its URL.

    SQLite: bench/load.py's temporary file. PostgreSQL: `reflexe_bench_stats`, created for
    the run and dropped after it (bench/load.py's `reflexe_bench` is left alone).
    """
    if kind == "sqlite":
        with migrated_database("sqlite") as url:
            yield url
        return
    admin = create_engine(
        make_url(POSTGRES_URL).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))

    drop()
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    url = make_url(POSTGRES_URL).set(database=DATABASE).render_as_string(hide_password=False)
    try:
        create_admin_key(url)
        yield url
    finally:
        drop()
        admin.dispose()


def create_admin_key(url: str) -> None:
    """Migrate `url` and create an admin key in it (`reflexe keys create`), as load.py does."""
    env = {**os.environ, "REFLEXE_DATABASE_URL": url, "REFLEXE_SECRET_KEY": BENCH_SECRET}
    created = subprocess.run(
        [sys.executable, "-m", "app", "keys", "create", "--role", "admin", "--name", "bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    os.environ["REFLEXE_BENCH_KEY"] = created.stdout.strip()


# --- the rows ------------------------------------------------------------------------------


def profile_request(number: int, rng: random.Random) -> dict[str, Any]:
    """A distinct PIPU request: each answer and attribute present or not, matching or not."""
    answers: dict[str, bool | None] = {}
    for key in KEYS:
        draw = rng.random()
        if draw < 0.12:
            answers[key] = True
        elif draw < 0.24:
            answers[key] = False
        elif draw < 0.32:
            answers[key] = None
    title, company = rng.choice(TITLES), rng.choice(COMPANIES)
    candidates: dict[str, Any] = {
        "headline": f"{title} chez {company} {number} — {rng.choice(FLAVOURS)}",
        "current_title": title,
        "company": company,
        "industry": rng.choice(INDUSTRIES),
        "location": rng.choice(LOCATIONS),
        "connections": rng.randrange(20, 5000),
        "followers": rng.choice((rng.randrange(0, 900), rng.randrange(0, 900), rng.randrange(900, 20000))),
        "mutual_connections": rng.randrange(0, 9),
        "has_message": rng.random() < 0.2,
        "engaged_with_my_posts": rng.random() < 0.15,
        "met_in_person": rng.random() < 0.1,
        "skills": rng.sample(SKILLS, rng.randrange(0, 4)),
    }
    # Missing attributes leave rule leaves unknown: the source of the `review` outcomes.
    share = rng.choice((0.95, 0.7, 0.4))
    attributes = {name: value for name, value in candidates.items() if rng.random() < share}
    return {
        "criteria_set": SET,
        "subject": {"ref": f"https://www.linkedin.com/in/profil-{number}", "name": f"P {number}"},
        "answers": answers,
        "attributes": attributes,
    }


@dataclass(frozen=True, slots=True)
class Base:
    """A row the engine made, ready to be copied: its answer cut where a copy differs."""

    row: dict[str, Any]
    parts: tuple[str, ...]  # literal text at even positions, a slot's name at odd ones
    criteria: tuple[dict[str, Any], ...]  # the answer's criteria, for the verdicts

    def answer(self, values: dict[str, str]) -> str:
        return "".join(
            part if index % 2 == 0 else values[part] for index, part in enumerate(self.parts)
        )


def iso(moment: datetime) -> str:
    """A time as the answer writes it (`deciding.judge`)."""
    return moment.isoformat().replace("+00:00", "Z")


def base_rows(url: str, key_id: str, count: int, rng: random.Random) -> list[Base]:
    """`count` rows judged by the engine from distinct profiles."""
    engine = create_db_engine(Settings(database_url=url))
    try:
        resolved: ResolvedCriteria = CriteriaRegistry(engine).load(SET, None)
    finally:
        engine.dispose()
    budget = Budget(evaluation=10**9, request=10**9)
    bases = []
    for number in range(count):
        request = EvaluationRequest.model_validate(profile_request(number, rng))
        decided = judge(prepare(request, resolved, budget), key_id)
        row = decided.row
        assert row is not None
        slots = {"id": str(row["id"]), "at": iso(row["created_at"]), "ref": row["subject_ref"]}
        answer = row["answer"]
        for name, value in slots.items():
            assert answer.count(f'"{value}"') == 1, (name, value)
            answer = answer.replace(f'"{value}"', f'"\x00{name}\x00"')
        parts = tuple(answer.split("\x00"))
        document = json.loads(row["answer"])
        bases.append(Base(row, parts, tuple(document["criteria"])))
    return bases


def uuid7_at(moment: datetime, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 of `moment`, as the service gives a decision made then."""
    ms = int(moment.timestamp() * 1000)
    return uuid.UUID(
        int=(ms << 80) | (7 << 76) | (rng.getrandbits(12) << 64) | (2 << 62) | rng.getrandbits(62)
    )


@dataclass
class Expected:
    """What the answers must count, worked out while the rows were made."""

    total: int = 0
    in_range: int = 0
    reviews: int = 0
    reviews_judged: int = 0
    verdicts: int = 0
    replaced: int = 0
    oldest_open: str | None = None
    judged: dict[int, tuple[uuid.UUID, datetime, Base]] = field(default_factory=dict)


def fill_decisions(
    engine: Engine,
    bases: list[Base],
    count: int,
    verdicts: int,
    now: datetime,
    since: datetime,
    until: datetime,
    rng: random.Random,
) -> Expected:
    """Store `count` copies of `bases`, in time order over the year before `now`."""
    rows = RowInsert(_EVALUATION, engine.dialect)
    judged = set(rng.sample(range(count), judged_count(verdicts)))
    expected = Expected(total=count)
    start, step = now - SPAN, SPAN / count
    done, reported = 0, time.monotonic()
    while done < count:
        with engine.begin() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            cursor = driver.cursor()
            for first in range(done, min(done + PER_TRANSACTION, count), CHUNK):
                chunk = []
                for number in range(first, min(first + CHUNK, count)):
                    base = bases[number % len(bases)]
                    made = start + step * (number + rng.random() * 0.99)
                    identifier = uuid7_at(made, rng)
                    ref = f"https://www.linkedin.com/in/bench-{number}"
                    row = {
                        **base.row,
                        "id": identifier,
                        "created_at": made,
                        "subject_ref": ref,
                        "answer": base.answer({"id": str(identifier), "at": iso(made), "ref": ref}),
                    }
                    chunk.append(rows.params(row))
                    if since <= made < until:
                        expected.in_range += 1
                    if number in judged:
                        expected.judged[number] = (identifier, made, base)
                    if base.row["decision"] == "review":
                        expected.reviews += 1
                        if number in judged:
                            expected.reviews_judged += 1
                        elif expected.oldest_open is None:
                            expected.oldest_open = str(identifier)
                cursor.executemany(rows.sql, chunk)
            cursor.close()
        done = min(done + PER_TRANSACTION, count)
        if time.monotonic() - reported > 15:
            print(f"  {done:,} decisions stored", flush=True)
            reported = time.monotonic()
    return expected


def judged_count(verdicts: int) -> int:
    """Decisions with a verdict: one in ten of them has two, so `verdicts` rows in all."""
    return round(verdicts * 10 / 11)


def fill_verdicts(
    engine: Engine, expected: Expected, verdicts: int, key_id: str, now: datetime, seed: int
) -> None:
    """Verdicts on the drawn decisions, as `reviews.service.record` would have stored them."""
    rng = random.Random(seed)
    judged = sorted(expected.judged)
    replaced = set(rng.sample(judged, verdicts - len(judged)))
    verdict_rows: list[dict[str, Any]] = []
    criterion_rows: list[dict[str, Any]] = []
    leaf_rows: list[dict[str, Any]] = []
    for number in judged:
        evaluation_id, made, base = expected.judged[number]
        machine = base.row["decision"]
        given = made
        sequences = 2 if number in replaced else 1
        for sequence in range(1, sequences + 1):
            # Hours to days after the decision (or the verdict it replaces), never ahead of now.
            given = min(given + timedelta(seconds=rng.expovariate(1 / 86_400)), now)
            if machine == "review":
                decision = rng.choice(("accept", "decline"))
            elif rng.random() < 0.8:
                decision = machine
            else:
                decision = "accept" if machine == "decline" else "decline"
            verdict_id = uuid.uuid4()
            criteria = None
            if rng.random() < 0.5:
                criteria = {}
                for found in base.criteria:
                    met = found["met"]
                    human = rng.random() < 0.5 if met is None else met ^ (rng.random() < 0.25)
                    criteria[found["key"]] = human
                    criterion_rows.append(
                        {
                            "verdict_id": verdict_id,
                            "criterion_key": found["key"],
                            "human_met": human,
                            "machine_met": met,
                            "machine_source": found["source"],
                        }
                    )
                    if found["source"] == "rules" and met is not human:
                        leaf_rows.extend(
                            {
                                "verdict_id": verdict_id,
                                "criterion_key": found["key"],
                                "leaf": leaf_name(evidence),
                            }
                            for evidence in found["evidence"]
                        )
            verdict_rows.append(
                {
                    "id": verdict_id,
                    "evaluation_id": evaluation_id,
                    "sequence": sequence,
                    "current": sequence == sequences,
                    "decision": decision,
                    "machine_decision": machine,
                    "agrees": None if machine == "review" else decision == machine,
                    "criteria": criteria,
                    "reason": "bench: a verdict",
                    "note": None,
                    "api_key_id": key_id,
                    "created_at": given,
                    "criteria_set_slug": base.row["criteria_set_slug"],
                    "criteria_set_version": base.row["criteria_set_version"],
                    "evaluation_created_at": made,
                    "seconds_to_verdict": (given - made).total_seconds(),
                }
            )
    with engine.begin() as connection:
        for table, rows in (
            (_VERDICT, verdict_rows),
            (_CRITERION, criterion_rows),
            (_LEAF, leaf_rows),
        ):
            for first in range(0, len(rows), CHUNK):
                connection.execute(insert(table), rows[first : first + CHUNK])
    expected.verdicts, expected.replaced = len(judged), len(replaced)
    print(
        f"  {len(verdict_rows):,} verdicts ({len(replaced):,} replaced), "
        f"{len(criterion_rows):,} judged criteria, {len(leaf_rows):,} contradicted leaves"
    )


def analyse(url: str) -> str:
    """What the database does to its statistics after a bulk load; what was run."""
    if url.startswith("sqlite"):
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        return "ANALYZE"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return "VACUUM ANALYZE (what autovacuum does to a table after bulk inserts)"


def sizes(url: str) -> str:
    """The decision table's size, and its statistics index's."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if url.startswith("sqlite"):
                database = make_url(url).database
                assert database is not None
                total = Path(database).stat().st_size
                try:
                    found: dict[str, int] = dict(
                        connection.exec_driver_sql(
                            "SELECT name, sum(pgsize) FROM dbstat WHERE name IN "
                            "('evaluation', 'ix_evaluation_stats') GROUP BY name"
                        ).all()
                    )
                except Exception:  # dbstat is an optional part of SQLite
                    return f"database file {mib(total)}"
                return (
                    f"database file {mib(total)}, table evaluation {mib(found['evaluation'])}, "
                    f"index ix_evaluation_stats {mib(found['ix_evaluation_stats'])}"
                )
            table, indexes, index = connection.exec_driver_sql(
                "SELECT pg_table_size('evaluation'), pg_indexes_size('evaluation'), "
                "pg_relation_size('ix_evaluation_stats')"
            ).one()
            return (
                f"table evaluation {mib(table)} (with TOAST), its indexes {mib(indexes)}, "
                f"of which ix_evaluation_stats {mib(index)}"
            )
    finally:
        engine.dispose()


def mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB"


# --- the requests --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    label: str
    path: str
    params: dict[str, str]
    check: Callable[[dict[str, Any]], str | None]
    scope: Scope | None = None  # the statistics' scope, for --explain; None: the queue
    by_day: bool = False


def queries(expected: Expected, since: datetime, until: datetime) -> list[Query]:
    def decisions(total: int, *, full: bool = True) -> Callable[[dict[str, Any]], str | None]:
        def check(body: dict[str, Any]) -> str | None:
            found = body["decisions"]["total"]
            if found != total:
                return f"decisions.total {found:,}, expected {total:,}"
            if not full:
                return None
            verdicts, queue = body["verdicts"], body["queue"]
            wanted = (
                expected.verdicts,
                expected.replaced,
                expected.reviews - expected.reviews_judged,
            )
            got = (verdicts["count"], verdicts["replaced"], queue["open"])
            if got != wanted:
                return f"verdicts, replaced, open {got}, expected {wanted}"
            return None

        return check

    def by_day(body: dict[str, Any]) -> str | None:
        days = body["decisions"]["by_day"] or []
        counted = sum(sum(day["machine"].values()) for day in days)
        if not 365 <= len(days) <= 366 or counted != expected.total:
            return f"{len(days)} days counting {counted:,} decisions"
        return decisions(expected.total)(body)

    def queue(body: dict[str, Any]) -> str | None:
        items = body["items"]
        if len(items) != 50:
            return f"{len(items)} items"
        first = items[0]["evaluation"]["id"]
        return None if first == expected.oldest_open else f"first {first}, not the oldest open"

    everything = decisions(expected.total)
    ranged = {"since": iso(since), "until": iso(until)}
    return [
        Query(
            "GET /stats?criteria_set=pipu", "/stats", {"criteria_set": SET}, everything, Scope(SET)
        ),
        Query(
            "GET /stats?criteria_set=pipu&bucket=day",
            "/stats",
            {"criteria_set": SET, "bucket": "day"},
            by_day,
            Scope(SET),
            by_day=True,
        ),
        Query(
            "GET /stats?criteria_set=pipu&since=<90 days ago>&until=<30 days ago>",
            "/stats",
            {"criteria_set": SET, **ranged},
            decisions(expected.in_range, full=False),
            Scope(SET, since=since, until=until),
        ),
        Query(
            "GET /stats?criteria_set=pipu&version=1",
            "/stats",
            {"criteria_set": SET, "version": "1"},
            everything,
            Scope(SET, 1),
        ),
        Query("GET /reviews?limit=50", "/reviews", {"limit": "50"}, queue),
    ]


@dataclass(frozen=True, slots=True)
class Timing:
    median_ms: float
    max_ms: float
    problem: str | None


def time_query(http: httpx.Client, query: Query, runs: int) -> Timing:
    """One warm-up, then `runs` timed requests; the first problem found, if any."""
    problem = None
    times = []
    for run in range(runs + 1):
        started = time.perf_counter()
        response = http.get(query.path, params=query.params)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            problem = problem or f"status {response.status_code}: {response.text[:200]}"
        elif run == 0:
            problem = query.check(response.json())
        if run:
            times.append(elapsed)
    return Timing(statistics.median(times), max(times), problem)


def explain(url: str, query: Query, everything: bool) -> None:
    """Run `query` in process, time each of its SQL statements again, print the slow plans."""
    engine = create_db_engine(Settings(database_url=url))
    seen: list[tuple[str, Any]] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    with Session(engine) as session:
        if query.scope is None:
            list_queue(session, Scope(), limit=50, cursor=None)
        else:
            stats.compute(session, query.scope, by_day=query.by_day)
    event.remove(engine, "before_cursor_execute", record)
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    print(f"\n## {query.label}: {len(seen)} statements")
    with engine.connect() as connection:
        for statement, parameters in seen:
            started = time.perf_counter()
            connection.exec_driver_sql(statement, parameters).fetchall()
            elapsed = time.perf_counter() - started
            one_line = re.sub(r"\s+", " ", statement)
            print(f"{elapsed * 1000:8.1f} ms  {one_line[:160]}")
            if elapsed < SLOW_STATEMENT_S and not everything:
                continue
            print(f"    statement: {one_line}\n    parameters: {parameters}")
            for row in connection.exec_driver_sql(prefix + statement, parameters):
                print(f"    {row[0]:>3} {row[1]:>3} {row[3]}" if sqlite else f"    {row[0]}")
    engine.dispose()


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--verdicts", type=int, default=20_000)
    parser.add_argument("--profiles", type=int, default=4_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--explain", action="store_true", help="plans of every statement")
    args = parser.parse_args()
    if not 0 < judged_count(args.verdicts) <= args.verdicts <= args.decisions:
        sys.exit("--verdicts: at least 1, at most --decisions")
    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    since, until = now - timedelta(days=90), now - timedelta(days=30)
    print(f"# {args.db}: {args.decisions:,} decisions, {args.verdicts:,} verdicts")
    with stats_database(args.db) as url:
        key_id = key_id_of(os.environ["REFLEXE_BENCH_KEY"])
        assert key_id is not None
        started = time.monotonic()
        bases = base_rows(url, key_id, args.profiles, rng)
        outcomes = {o: sum(b.row["decision"] == o for b in bases) for o in stats.OUTCOMES}
        distinct = len({(b.row["decision"], b.row["statuses"]) for b in bases})
        judged_s = time.monotonic() - started
        print(
            f"engine: {len(bases):,} profiles judged in {judged_s:.1f} s, {outcomes}, "
            f"{distinct} distinct (decision, statuses)"
        )
        engine = create_db_engine(Settings(database_url=url))
        started = time.monotonic()
        expected = fill_decisions(
            engine, bases, args.decisions, args.verdicts, now, since, until, rng
        )
        decisions_s = time.monotonic() - started
        started = time.monotonic()
        fill_verdicts(engine, expected, args.verdicts, key_id, now, args.seed)
        verdicts_s = time.monotonic() - started
        engine.dispose()
        started = time.monotonic()
        analysed = analyse(url)
        analyse_s = time.monotonic() - started
        print(
            f"filled: decisions {decisions_s:.0f} s ({args.decisions / decisions_s:,.0f}/s), "
            f"verdicts {verdicts_s:.1f} s, {analysed} {analyse_s:.0f} s"
        )
        print(sizes(url))
        timings = []
        with (
            server(["app.main:create_app", "--factory"], {"REFLEXE_DATABASE_URL": url}, 1) as (
                base,
                _,
            ),
            httpx.Client(base_url=base, headers=auth_headers(), timeout=REQUEST_TIMEOUT_S) as http,
        ):
            for query in queries(expected, since, until):
                timings.append((query, time_query(http, query, args.runs)))
        print("\n| request | median ms | max ms | check |\n|---|---:|---:|---|")
        for query, timing in timings:
            over = " **over 1 s**" if timing.median_ms >= LIMIT_MS else ""
            print(
                f"| `{query.label}` | {timing.median_ms:,.0f} | {timing.max_ms:,.0f} | "
                f"{timing.problem or 'ok'}{over} |"
            )
        for query, timing in timings:
            if args.explain or timing.max_ms >= LIMIT_MS:
                explain(url, query, args.explain)
        if any(timing.problem for _, timing in timings):
            sys.exit("some answer failed its check")


if __name__ == "__main__":
    main()
