"""Statistics benchmark: GET /stats and the review queue over 1,000,000 stored decisions.

Method. A fresh database (a temporary SQLite file, or the PostgreSQL database
`reflexe_bench_stats`, created for the run and dropped after it), migrated and seeded with
the PIPU set, holding one admin key (bench/load.py's helpers). The seeded version 1 never
answers `review` (an unknown counts as not met), so the script adds version 2, the same
criteria with `unknown: review`, as `PUT /criteria/pipu` would: the year's first 120 days
of decisions are made with version 1, the rest with version 2.

The real engine judges `--profiles` (4,000) distinct PIPU profiles with each version
(`deciding.prepare` and `deciding.judge`): answers true, false, null or absent, attributes
present or missing, so that the three outcomes and hundreds of tuples of statuses occur.
Their rows are then replicated up to `--decisions`, each copy with an id of its own (a
UUIDv7 of its time, as the service makes them), a subject of its own and a time of its own:
the copies are spread evenly over the 365 days before the run and written in that order, as
the log grows. The stored answer is the engine's (3 KB of JSON) with the copy's id, subject
and time, so the table has its real size. Rows go straight to the driver with the service's
own insert (`RowInsert`), in `executemany` chunks of 5,000, 50,000 per transaction. Then
`--verdicts` (20,000) verdicts on decisions drawn at random, with the copies `Verdict`
keeps of them: one decision in ten has a second verdict that replaced the first, half of
the verdicts judge every criterion (`verdict_criterion`), with the rule leaves they
contradict (`verdict_leaf`), as `reviews.service` records them. Then `ANALYZE` (SQLite) or
`VACUUM ANALYZE` (PostgreSQL: what autovacuum does to a table after bulk inserts; it sets
the visibility map that lets index-only scans skip the table).

The real server (uvicorn, one worker, bench/load.py's settings) then answers over HTTP with
the admin key: GET /stats of the set, with `bucket=day`, over a range (90 to 30 days ago)
and for version 1, and the first page of GET /reviews. Each request once to warm up, then
`--runs` (5) times: the median and the slowest, in ms. Every answer must be 200 and count
what was generated in its scope (decisions, verdicts, replaced verdicts, open reviews); the
queue must start with the oldest review without a verdict. Requirement: each under 1 s.

`--explain`, or any request whose slowest run took a second or more, then runs the request
in process and times each of its SQL statements again, with the plan of those over 100 ms
(SQLite `EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN (ANALYZE, BUFFERS)`; `--explain`: of
all). Every loop is bounded in count or time, and talks to 127.0.0.1 only.

    .venv/bin/python -m bench.stats [--db sqlite|postgresql] [--decisions 1000000]
                                    [--verdicts 20000] [--profiles 4000] [--runs 5]
                                    [--explain]
"""

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, Table, create_engine, event, insert
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.auth.service import key_id_of
from app.criteria import service as criteria_service
from app.criteria.models import CriteriaSetReplace
from app.criteria.registry import CriteriaRegistry
from app.criteria.seed import PIPU
from app.db import RowInsert, create_db_engine
from app.etags import etag
from app.evaluations.deciding import Budget, judge, prepare
from app.evaluations.models import EvaluationRecord, EvaluationRequest
from app.reviews import stats
from app.reviews.models import ReviewQueue, Verdict, VerdictCriterion, VerdictLeaf
from app.reviews.queue import Scope, list_queue
from app.reviews.service import leaf_name
from app.settings import Settings
from bench.load import auth_headers, migrated_database, server

DATABASE = "reflexe_bench_stats"
SET = "pipu"
SPAN = timedelta(days=365)
VERSION_1_DAYS = timedelta(days=120)  # then version 2
CHUNK = 5_000
PER_TRANSACTION = 50_000
LIMIT_MS = 1000.0
SLOW_STATEMENT_S = 0.1
REQUEST_TIMEOUT_S = 120.0
KEYS = ("pertinence", "interaction", "prescription", "utilite")
_EVALUATION: Table = EvaluationRecord.__table__  # type: ignore[attr-defined]
_VERDICT: Table = Verdict.__table__  # type: ignore[attr-defined]
_QUEUE: Table = ReviewQueue.__table__  # type: ignore[attr-defined]
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
        "followers": rng.choice(
            (rng.randrange(0, 900), rng.randrange(0, 900), rng.randrange(900, 20000))
        ),
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


def add_version_2(engine: Engine) -> None:
    """Version 2 of the set: the same criteria; a decision its unknowns could flip is `review`."""
    content = PIPU.model_dump(mode="json", exclude={"slug"})
    content["policy"]["unknown"] = "review"
    with Session(engine) as session:
        criteria_service.replace_set(
            session, SET, CriteriaSetReplace.model_validate(content), etag(1)
        )


def base_rows(engine: Engine, key_id: str, count: int, seed: int) -> dict[int, list[Base]]:
    """Per version, `count` rows the engine made from distinct profiles (the same in each)."""
    registry = CriteriaRegistry(engine)
    budget = Budget(evaluation=10**9, request=10**9)
    bases: dict[int, list[Base]] = {}
    for version in (1, 2):
        resolved = registry.load(SET, version)
        rng = random.Random(seed)
        bases[version] = []
        for number in range(count):
            request = EvaluationRequest.model_validate(profile_request(number, rng))
            row = judge(prepare(request, resolved, budget), key_id).row
            assert row is not None
            slots = {"id": str(row["id"]), "at": iso(row["created_at"]), "ref": row["subject_ref"]}
            answer = row["answer"]
            for name, value in slots.items():
                assert answer.count(f'"{value}"') == 1, (name, value)
                answer = answer.replace(f'"{value}"', f'"\x00{name}\x00"')
            criteria = tuple(json.loads(row["answer"])["criteria"])
            bases[version].append(Base(row, tuple(answer.split("\x00")), criteria))
    return bases


def uuid7_at(moment: datetime, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 of `moment`, as the service gives a decision made then."""
    ms = int(moment.timestamp() * 1000)
    return uuid.UUID(
        int=(ms << 80) | (7 << 76) | (rng.getrandbits(12) << 64) | (2 << 62) | rng.getrandbits(62)
    )


@dataclass(frozen=True, slots=True)
class Window:
    """The decisions a request counts: of a version (None: any), made within a range."""

    version: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def holds(self, version: int, made: datetime) -> bool:
        return (
            (self.version is None or version == self.version)
            and (self.since is None or made >= self.since)
            and (self.until is None or made < self.until)
        )

    def scope(self) -> Scope:
        return Scope(SET, self.version, self.since, self.until)


@dataclass
class Counts:
    """What a request over a window must count."""

    decisions: int = 0
    open: int = 0  # `review` decisions without a verdict
    verdicts: int = 0  # decisions with a (current) verdict
    replaced: int = 0


@dataclass
class Generated:
    """What was stored, worked out while the rows were made."""

    counts: dict[Window, Counts]
    oldest_open: str | None = None  # the queue's first decision
    judged: dict[int, tuple[uuid.UUID, datetime, Base]] = field(default_factory=dict)


def fill_decisions(
    engine: Engine,
    bases: dict[int, list[Base]],
    count: int,
    judged: set[int],
    now: datetime,
    windows: list[Window],
    seed: int,
    vary: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> Generated:
    """Store `count` copies of `bases`, in time order over the year before `now`; `vary`
    (copy number, base number, row) may change a copy's row before it is stored."""
    rng = random.Random(seed)
    rows = RowInsert(_EVALUATION, engine.dialect)
    generated = Generated({window: Counts() for window in windows})
    start, step = now - SPAN, SPAN / count
    done, reported = 0, time.monotonic()
    while done < count:
        with engine.begin() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            cursor = driver.cursor()
            for first in range(done, min(done + PER_TRANSACTION, count), CHUNK):
                chunk, waiting = [], []
                for number in range(first, min(first + CHUNK, count)):
                    made = start + step * (number + rng.random() * 0.99)
                    version = 1 if made < start + VERSION_1_DAYS else 2
                    base = bases[version][number % len(bases[version])]
                    identifier = uuid7_at(made, rng)
                    ref = f"https://www.linkedin.com/in/bench-{number}"
                    answer = base.answer({"id": str(identifier), "at": iso(made), "ref": ref})
                    row = {
                        **base.row,
                        "id": identifier,
                        "created_at": made,
                        "created_on": made.date(),
                        "subject_ref": ref,
                        "answer": answer,
                    }
                    if vary is not None:
                        vary(number, number % len(bases[version]), row)
                    chunk.append(rows.params(row))
                    is_open = base.row["decision"] == "review" and number not in judged
                    if number in judged:
                        generated.judged[number] = (identifier, made, base)
                    elif is_open and generated.oldest_open is None:
                        generated.oldest_open = str(identifier)
                    if is_open:  # as reviews.queue.Enqueue does
                        waiting.append(
                            {
                                "evaluation_id": identifier,
                                "criteria_set_slug": row["criteria_set_slug"],
                                "criteria_set_version": version,
                                "created_at": made,
                            }
                        )
                    for window, counts in generated.counts.items():
                        if window.holds(version, made):
                            counts.decisions += 1
                            counts.open += is_open
                cursor.executemany(rows.sql, chunk)
                if waiting:
                    connection.execute(insert(_QUEUE), waiting)
            cursor.close()
        done = min(done + PER_TRANSACTION, count)
        if time.monotonic() - reported > 30:
            print(f"  {done:,} decisions stored", flush=True)
            reported = time.monotonic()
    return generated


def judged_count(verdicts: int) -> int:
    """Decisions with a verdict: one in ten of them has two, so `verdicts` rows in all."""
    return round(verdicts * 10 / 11)


def fill_verdicts(
    engine: Engine, generated: Generated, verdicts: int, key_id: str, now: datetime, seed: int
) -> str:
    """Verdicts on the drawn decisions, as `reviews.service.record` would have stored them."""
    rng = random.Random(seed)
    judged = sorted(generated.judged)
    replaced = set(rng.sample(judged, verdicts - len(judged)))
    verdict_rows: list[dict[str, Any]] = []
    criterion_rows: list[dict[str, Any]] = []
    leaf_rows: list[dict[str, Any]] = []
    for number in judged:
        evaluation_id, made, base = generated.judged[number]
        machine, version = base.row["decision"], base.row["criteria_set_version"]
        for window, counts in generated.counts.items():
            if window.holds(version, made):
                counts.verdicts += 1
                counts.replaced += number in replaced
        given = made
        sequences = 2 if number in replaced else 1
        for sequence in range(1, sequences + 1):
            # Hours to days after the decision (or the verdict it replaces), never after now.
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
                    "criteria_set_version": version,
                    "evaluation_created_at": made,
                    "seconds_to_verdict": (given - made).total_seconds(),
                }
            )
    tables = ((_VERDICT, verdict_rows), (_CRITERION, criterion_rows), (_LEAF, leaf_rows))
    with engine.begin() as connection:
        for table, rows in tables:
            for first in range(0, len(rows), CHUNK):
                connection.execute(insert(table), rows[first : first + CHUNK])
    return (
        f"{len(verdict_rows):,} verdicts ({len(replaced):,} replaced), "
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
    window: Window | None  # what GET /stats counts; None: the review queue
    by_day: bool = False


def queries(now: datetime) -> list[Query]:
    since, until = now - timedelta(days=90), now - timedelta(days=30)
    year = now - SPAN - timedelta(days=1)
    return [
        Query("GET /stats?criteria_set=pipu", "/stats", {"criteria_set": SET}, Window()),
        Query(
            "GET /stats?criteria_set=pipu&bucket=day",
            "/stats",
            {"criteria_set": SET, "bucket": "day"},
            Window(),
            by_day=True,
        ),
        Query(
            "GET /stats?criteria_set=pipu&since=<90 days ago>&until=<30 days ago>",
            "/stats",
            {"criteria_set": SET, "since": iso(since), "until": iso(until)},
            Window(since=since, until=until),
        ),
        # Every decision, through a range: a client asking for the last year.
        Query(
            "GET /stats?criteria_set=pipu&since=<366 days ago>&until=<now>",
            "/stats",
            {"criteria_set": SET, "since": iso(year), "until": iso(now)},
            Window(since=year, until=now),
        ),
        Query(
            "GET /stats?criteria_set=pipu&version=1",
            "/stats",
            {"criteria_set": SET, "version": "1"},
            Window(version=1),
        ),
        Query("GET /reviews?limit=50", "/reviews", {"limit": "50"}, None),
    ]


def check(query: Query, body: dict[str, Any], generated: Generated) -> str | None:
    """What is wrong with the answer, if anything."""
    if query.window is None:
        items = body["items"]
        if len(items) != 50:
            return f"{len(items)} items"
        first = items[0]["evaluation"]["id"]
        return None if first == generated.oldest_open else f"first {first}, not the oldest open"
    counts = generated.counts[query.window]
    verdicts = body["verdicts"]
    found = Counts(
        body["decisions"]["total"], body["queue"]["open"], verdicts["count"], verdicts["replaced"]
    )
    if found != counts:
        return f"counted {found}, generated {counts}"
    if query.by_day:
        days = body["decisions"]["by_day"] or []
        per_day = sum(sum(day["machine"].values()) for day in days)
        if not 365 <= len(days) <= 366 or per_day != counts.decisions:
            return f"{len(days)} days counting {per_day:,} decisions"
    return None


@dataclass(frozen=True, slots=True)
class Timing:
    median_ms: float
    max_ms: float
    problem: str | None


def time_query(http: httpx.Client, query: Query, runs: int, generated: Generated) -> Timing:
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
            problem = check(query, response.json(), generated)
        if run:
            times.append(elapsed)
    return Timing(statistics.median(times), max(times), problem)


def explain(url: str, query: Query, everything: bool) -> None:
    """Run `query` in process, time each of its SQL statements again, print the slow plans."""
    engine = create_db_engine(Settings(database_url=url))
    seen: list[tuple[str, Any]] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    def run() -> float:
        started = time.perf_counter()
        with Session(engine) as session:
            if query.window is None:
                list_queue(session, Scope(), limit=50, cursor=None)
            else:
                stats.compute(session, query.window.scope(), by_day=query.by_day)
        return time.perf_counter() - started

    run()  # warm, as the timed requests were
    event.listen(engine, "before_cursor_execute", record)
    whole = run()
    event.remove(engine, "before_cursor_execute", record)
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    lines, statements = [], 0.0
    with engine.connect() as connection:
        for statement, parameters in seen:
            started = time.perf_counter()
            connection.exec_driver_sql(statement, parameters).fetchall()
            elapsed = time.perf_counter() - started
            statements += elapsed
            one_line = re.sub(r"\s+", " ", statement)
            lines.append(f"{elapsed * 1000:8.1f} ms  {one_line[:160]}")
            if elapsed < SLOW_STATEMENT_S and not everything:
                continue
            lines.append(f"    statement: {one_line}\n    parameters: {parameters}")
            for row in connection.exec_driver_sql(prefix + statement, parameters):
                lines.append(f"    {row[0]:>3} {row[1]:>3} {row[3]}" if sqlite else f"    {row[0]}")
    engine.dispose()
    print(
        f"\n## {query.label}\nin process: {whole * 1000:.0f} ms; its {len(seen)} statements, "
        f"run again one by one: {statements * 1000:.0f} ms"
    )
    print("\n".join(lines))


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--verdicts", type=int, default=20_000)
    parser.add_argument("--profiles", type=int, default=4_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--explain", action="store_true", help="every statement's plan")
    args = parser.parse_args()
    if not 0 < judged_count(args.verdicts) <= args.verdicts <= args.decisions:
        sys.exit("--verdicts: at least 1, at most --decisions")
    now = datetime.now(UTC)
    print(f"# {args.db}: {args.decisions:,} decisions, {args.verdicts:,} verdicts")
    with migrated_database(args.db, DATABASE) as url:
        key_id = key_id_of(os.environ["REFLEXE_BENCH_KEY"])
        assert key_id is not None
        engine = create_db_engine(Settings(database_url=url))
        add_version_2(engine)
        started = time.monotonic()
        bases = base_rows(engine, key_id, args.profiles, args.seed)
        judging_s = time.monotonic() - started
        print(f"engine: {args.profiles:,} profiles judged by each version in {judging_s:.0f} s")
        for version, rows in bases.items():
            outcomes = {o: sum(b.row["decision"] == o for b in rows) for o in stats.OUTCOMES}
            distinct = len({b.row["statuses"] for b in rows})
            print(f"  version {version}: {outcomes}, {distinct} distinct statuses")
        windows = [q.window for q in queries(now) if q.window is not None]
        judged = set(
            random.Random(args.seed).sample(range(args.decisions), judged_count(args.verdicts))
        )
        started = time.monotonic()
        generated = fill_decisions(engine, bases, args.decisions, judged, now, windows, args.seed)
        decisions_s = time.monotonic() - started
        started = time.monotonic()
        filled = fill_verdicts(engine, generated, args.verdicts, key_id, now, args.seed)
        verdicts_s = time.monotonic() - started
        engine.dispose()
        started = time.monotonic()
        analysed = analyse(url)
        analyse_s = time.monotonic() - started
        print(
            f"filled: {args.decisions:,} decisions in {decisions_s:.0f} s "
            f"({args.decisions / decisions_s:,.0f}/s); {filled} in {verdicts_s:.1f} s; "
            f"{analysed}: {analyse_s:.0f} s"
        )
        print(sizes(url))
        target = ["app.main:create_app", "--factory"]
        timings = []
        with (
            server(target, {"REFLEXE_DATABASE_URL": url}, 1) as (base, _),
            httpx.Client(base_url=base, headers=auth_headers(), timeout=REQUEST_TIMEOUT_S) as http,
        ):
            for query in queries(now):
                timings.append((query, time_query(http, query, args.runs, generated)))
        print(f"\n| request ({args.db}) | median ms | max ms | check |\n|---|---:|---:|---|")
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
