"""What humans disagree with, in numbers: SQL aggregates over indexed columns.

Nothing here loads decisions into Python. The decisions are counted from one index
(`ix_evaluation_stats`: set, version, outcome, the criteria's statuses, time), grouped by
outcome and statuses, so that Python only sees each distinct combination once; verdicts,
far fewer, carry copies of what they are filtered by (`Verdict`), and are counted from
their own index.
"""

import math
from collections import Counter
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, cast, func
from sqlmodel import Session, col, select

from app.criteria import repository as criteria_repository
from app.criteria.models import CriteriaSet, CriteriaVersion
from app.db import utcnow
from app.errors import InvalidInput, NotFound
from app.evaluations.models import EvaluationRecord
from app.reviews.models import (
    CriterionCounts,
    CriterionDisagreement,
    DayCount,
    DecisionCounts,
    LeafDisagreement,
    QueueCounts,
    SourceCounts,
    Stats,
    Verdict,
    VerdictCounts,
    VerdictCriterion,
    VerdictLeaf,
)
from app.reviews.queue import Scope, waiting

OUTCOMES = ("accept", "decline", "review")
HUMAN = ("accept", "decline")
_MET = {"+": "met", "-": "not_met", "?": "unknown"}
_SOURCE = {"a": "answer", "r": "rules", "n": "none"}
MOST_LEAVES = 100


def set_of(session: Session, criteria_set: str | None) -> str:
    """The set the statistics are about: `criteria_set` (404 if unknown), or else the only
    one; 422 naming the parameter when several exist."""
    if criteria_set is not None:
        if criteria_repository.get_set(session, criteria_set) is None:
            raise NotFound(f"No criteria set '{criteria_set}'.")
        return criteria_set
    slugs = criteria_repository.slugs(session, limit=11)
    if len(slugs) == 1:
        return slugs[0]
    if not slugs:
        raise NotFound("There is no criteria set yet.")
    listed = ", ".join(slugs[:10]) + (", ..." if len(slugs) > 10 else "")
    raise InvalidInput(
        [("criteria_set", f"required when several sets exist (here: {listed})")],
        location="query",
    )


def compute(session: Session, scope: Scope, *, by_day: bool = False) -> Stats:
    """The statistics of the decisions in `scope` (of one criteria set), and their verdicts."""
    assert scope.criteria_set is not None
    evaluation, verdict = scope.of_decisions(), _verdict_filter(scope)
    machine, criteria = _decisions(session, scope, evaluation)
    current = _count(
        session,
        select(Verdict.machine_decision, Verdict.decision, func.count())
        .where(*verdict, col(Verdict.current))
        .group_by(Verdict.machine_decision, Verdict.decision),
    )
    matrix = {m: {h: current.get((m, h), 0) for h in HUMAN} for m in OUTCOMES}
    return Stats(
        criteria_set=scope.criteria_set,
        version=scope.version,
        since=scope.since,
        until=scope.until,
        decisions=DecisionCounts(
            total=sum(machine.values()),
            machine={o: machine.get(o, 0) for o in OUTCOMES},
            final=_final(machine, current),
            by_day=_by_day(session, evaluation, verdict) if by_day else None,
        ),
        criteria=criteria,
        verdicts=_verdicts(session, verdict, matrix),
        queue=_queue(session, scope, verdict),
    )


def _verdict_filter(scope: Scope) -> list[ColumnElement[bool]]:
    """The scope's decisions, through the copies their verdicts keep."""
    v = Verdict
    return scope.of(v.criteria_set_slug, v.criteria_set_version, v.evaluation_created_at)


def _count(session: Session, statement: Any) -> Counter[Any]:
    """`statement`'s rows as counts: every column but the last is the key."""
    counts: Counter[Any] = Counter()
    for *key, count in session.exec(statement):
        counts[key[0] if len(key) == 1 else tuple(key)] += count
    return counts


def _decisions(
    session: Session, scope: Scope, conditions: list[ColumnElement[bool]]
) -> tuple[Counter[str], list[CriterionCounts]]:
    """Decisions by the machine's outcome, and each criterion's statuses and sources."""
    groups = _count(session, _outcome_groups(scope, conditions))
    keys = _keys(session, scope.criteria_set or "")
    machine: Counter[str] = Counter()
    per_key: dict[str, Counter[str]] = {}
    for (version, decision, statuses), count in groups.items():
        machine[decision] += count
        for key, index in zip(keys.get(version, ()), range(0, len(statuses), 2), strict=False):
            counts = per_key.setdefault(key, Counter())
            counts[_MET[statuses[index]]] += count
            counts[_SOURCE[statuses[index + 1]]] += count
    order = _order(keys, scope.version)
    criteria = [
        CriterionCounts(
            key=key,
            met=per_key[key]["met"],
            not_met=per_key[key]["not_met"],
            unknown=per_key[key]["unknown"],
            source=SourceCounts(**{s: per_key[key][s] for s in _SOURCE.values()}),
        )
        for key in order
        if key in per_key
    ]
    return machine, criteria


def _outcome_groups(scope: Scope, conditions: list[ColumnElement[bool]]) -> Any:
    """Decisions counted per version, outcome and statuses, grouped in index order.

    A whole set (or version) is read from `ix_evaluation_stats`, already in that order. A
    time range is read from `ix_evaluation_days`, in day order: counted per day first, as
    the index streams, then those few counts summed, rather than sorting every decision.
    """
    e = EvaluationRecord
    version, decision, statuses = col(e.criteria_set_version), col(e.decision), col(e.statuses)
    if scope.since is None and scope.until is None:
        return (
            select(version, decision, statuses, func.count())
            .where(*conditions)
            .group_by(version, decision, statuses)
        )
    per_day = (
        select(version, decision, statuses, func.count().label("decisions"))
        .where(*conditions)
        .group_by(col(e.created_on), decision, version, statuses)
        .subquery()
    )
    c = per_day.c
    total = cast(func.sum(c.decisions), BigInteger)  # not PostgreSQL's numeric
    return select(c.criteria_set_version, c.decision, c.statuses, total).group_by(
        c.criteria_set_version, c.decision, c.statuses
    )


def _keys(session: Session, slug: str) -> dict[int, list[str]]:
    """Each version's criterion keys, in order."""
    statement = (
        select(CriteriaVersion.version, CriteriaVersion.criteria)
        .join(CriteriaSet, col(CriteriaSet.id) == col(CriteriaVersion.criteria_set_id))
        .where(CriteriaSet.slug == slug)
    )
    return {version: [c["key"] for c in criteria] for version, criteria in session.exec(statement)}


def _order(keys: dict[int, list[str]], version: int | None) -> list[str]:
    """The criteria in the order of the chosen (or newest) version, then older ones' own."""
    versions = sorted(keys, reverse=True)
    if version is not None:
        versions = [version]
    seen: dict[str, None] = {}
    for v in versions:
        seen.update(dict.fromkeys(keys.get(v, [])))
    return list(seen)


def _final(machine: Counter[str], current: Counter[Any]) -> dict[str, int]:
    """By final outcome: each decision with a verdict moves to the verdict's outcome."""
    final = {o: machine.get(o, 0) for o in OUTCOMES}
    for (was, now), count in current.items():
        final[was] -= count
        final[now] += count
    return final


def _day(column: Any, dialect: str) -> Any:
    """A timestamp's day in UTC, as YYYY-MM-DD, in the database's own terms."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)  # SQLite keeps UTC as text: YYYY-MM-DD HH:MM:SS


def _by_day(
    session: Session,
    evaluation: list[ColumnElement[bool]],
    verdict: list[ColumnElement[bool]],
) -> list[DayCount]:
    dialect = session.get_bind().dialect.name
    e = EvaluationRecord
    machine = _count(
        session,
        select(col(e.created_on), col(e.decision), func.count())
        .where(*evaluation)
        .group_by(col(e.created_on), col(e.decision)),
    )
    v_day = _day(Verdict.evaluation_created_at, dialect)
    moved = _count(
        session,
        select(v_day, Verdict.machine_decision, Verdict.decision, func.count())
        .where(*verdict, col(Verdict.current))
        .group_by(v_day, Verdict.machine_decision, Verdict.decision),
    )
    days = sorted({day.isoformat() for day, _ in machine})
    machine = Counter({(day.isoformat(), o): n for (day, o), n in machine.items()})
    result = []
    for day in days:
        made = Counter({o: machine.get((day, o), 0) for o in OUTCOMES})
        changed = Counter({(was, now): n for (d, was, now), n in moved.items() if d == day})
        result.append(DayCount(day=day, machine=dict(made), final=_final(made, changed)))
    return result


def _verdicts(
    session: Session, conditions: list[ColumnElement[bool]], matrix: dict[str, dict[str, int]]
) -> VerdictCounts:
    current = [*conditions, col(Verdict.current)]
    replaced = session.exec(
        select(func.count()).select_from(Verdict).where(*conditions, ~col(Verdict.current))
    ).one()
    vc = VerdictCriterion
    judged = _count(
        session,
        select(vc.criterion_key, vc.human_met, vc.machine_met, func.count())
        .join(Verdict, col(Verdict.id) == col(vc.verdict_id))
        .where(*current)
        .group_by(col(vc.criterion_key), col(vc.human_met), col(vc.machine_met)),
    )
    per_key: dict[str, Counter[str]] = {}
    for (key, human, machine), count in judged.items():
        counts = per_key.setdefault(key, Counter())
        counts["judged"] += count
        if human and machine is not True:
            counts["met_by_human_only"] += count
        if not human and machine is True:
            counts["met_by_machine_only"] += count
    vl = VerdictLeaf
    contradicted = func.count()
    leaves = session.exec(
        select(vl.criterion_key, vl.leaf, contradicted)
        .join(Verdict, col(Verdict.id) == col(vl.verdict_id))
        .where(*current)
        .group_by(vl.criterion_key, vl.leaf)
        .order_by(contradicted.desc(), vl.criterion_key, vl.leaf)
        .limit(MOST_LEAVES)
    ).all()
    decided = sum(matrix[m][h] for m in HUMAN for h in HUMAN)
    agreeing = sum(matrix[o][o] for o in HUMAN)
    return VerdictCounts(
        count=sum(n for row in matrix.values() for n in row.values()),
        replaced=replaced,
        agreement=matrix,
        agreement_rate=agreeing / decided if decided else None,
        criteria=[
            CriterionDisagreement(
                key=key,
                judged=counts["judged"],
                met_by_human_only=counts["met_by_human_only"],
                met_by_machine_only=counts["met_by_machine_only"],
            )
            for key, counts in sorted(per_key.items())
        ],
        leaves=[
            LeafDisagreement(criterion=key, leaf=leaf, contradicted=count)
            for key, leaf, count in leaves
        ],
    )


def _queue(session: Session, scope: Scope, conditions: list[ColumnElement[bool]]) -> QueueCounts:
    count, first = waiting(session, scope)
    # A review's first verdict: how long it waited.
    resolved = [
        *conditions,
        col(Verdict.machine_decision) == "review",
        col(Verdict.sequence) == 1,
    ]
    resolved_count = session.exec(select(func.count()).select_from(Verdict).where(*resolved)).one()

    def percentile(share: float) -> float | None:
        if not resolved_count:
            return None
        rank = max(math.ceil(share * resolved_count) - 1, 0)  # nearest rank
        statement = (
            select(Verdict.seconds_to_verdict)
            .where(*resolved)
            .order_by(col(Verdict.seconds_to_verdict))
            .offset(rank)
            .limit(1)
        )
        return session.exec(statement).one()

    return QueueCounts(
        open=count,
        oldest_age_seconds=None if first is None else (utcnow() - first).total_seconds(),
        median_seconds_to_verdict=percentile(0.5),
        p90_seconds_to_verdict=percentile(0.9),
    )
