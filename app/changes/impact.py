"""Impact: replay the stored decisions of a window through a candidate version.

The log is read in chunks, by keyset on `(created_at, id)`, each chunk in its own short
read, so that memory stays flat and no transaction is held for the whole replay. Each
decision is decided again from its stored inputs by `engine.replay` (statuses and the
outcome, no reasons), then counted by `report.Tally`. Blocking: run it in a thread.
"""

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select, tuple_
from sqlmodel import Session

from app.changes.models import (
    CandidateRef,
    CaseReport,
    ChangedDecision,
    ImpactReport,
    ImpactRequest,
    NotReplayed,
)
from app.changes.report import MET_CODES, Tally
from app.criteria import repository as criteria_repository
from app.criteria import service as criteria_service
from app.criteria.cases import check_cases, failures, run_cases
from app.criteria.files import CONTENT_FIELDS, content_hash
from app.criteria.models import CriteriaContent
from app.engine import CriteriaDefinition, replay
from app.errors import InvalidInput
from app.evaluations.log import decode_cursor, encode_position
from app.evaluations.models import EvaluationRecord
from app.privacy import Privacy
from app.reviews.models import Verdict

CHUNK = 5000
_E = EvaluationRecord.__table__  # type: ignore[attr-defined]
_V = Verdict.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the stored decisions are decided again with."""

    slug: str
    version: int | None  # None: a draft
    content: CriteriaContent
    definition: CriteriaDefinition

    def ref(self) -> CandidateRef:
        return CandidateRef(
            version=self.version, content_hash=content_hash(self.slug, self.content)
        )

    def cases(self) -> CaseReport:
        runs = run_cases(self.content.cases, self.definition)
        failed = failures(runs)
        return CaseReport(passed=len(runs) - len(failed), failed=failed)


def candidate_for(session: Session, slug: str, request: ImpactRequest) -> Candidate:
    """The draft compiled (422 naming each problem), or the stored version; 404 if the set or
    the version does not exist. A draft's failing cases are reported, not refused."""
    criteria_set = criteria_service.load_set(session, slug)
    if request.criteria is not None:
        body = request.criteria
        if body.slug is not None and body.slug != slug:
            raise InvalidInput(
                [("criteria.slug", f"this set's slug is '{slug}', not '{body.slug}'")]
            )
        definition = criteria_service.build_definition(body, prefix="criteria.")
        check_cases(body.cases, definition, prefix="criteria.")
        # The draft's own values (not a dump), so that its hash is the file's.
        content = CriteriaContent(**{name: getattr(body, name) for name in CONTENT_FIELDS})
        return Candidate(slug, None, content, definition)
    assert request.version is not None
    version = criteria_service.load_version(session, criteria_set, request.version)
    content = criteria_service.content_of_version(version)
    return Candidate(slug, request.version, content, criteria_service.build_definition(content))


def window_size(session: Session, slug: str, request: ImpactRequest) -> int:
    """How many decisions the replay will compare: those of the window, up to `limit`."""
    inner = select(_E.c.id).where(*_window(slug, request)).limit(request.limit).subquery()
    return int(session.connection().execute(select(func.count()).select_from(inner)).scalar_one())


def run(
    engine: Engine,
    candidate: Candidate,
    request: ImpactRequest,
    progress: Callable[[int], None] | None = None,
) -> ImpactReport:
    """Replay the window through `candidate` and report; `progress` hears the count so far."""
    definition = candidate.definition
    slug = candidate.slug
    new_keys = tuple(c.key for c in definition.criteria)
    with engine.connect() as connection:
        old_keys = criteria_repository.keys_by_version(connection, slug)
    tally = Tally(old_keys, new_keys)
    after = None if request.sample_cursor is None else _cursor(request.sample_cursor)
    sample: list[ChangedDecision] = []
    missing: Counter[tuple[str, str | None]] = Counter()
    seen = 0
    keys = definition.keys
    truncated = False
    for row in _rows(engine, slug, request):
        if seen == request.limit:
            truncated = True
            break
        seen += 1
        answers, attributes = row.answers, row.attributes
        if row.privacy != Privacy.FULL:
            missing[("minimised", None)] += 1
            continue
        if answers is None or attributes is None:
            missing[("no_inputs", None)] += 1
            continue
        removed = next((k for k, v in answers.items() if v is not None and k not in keys), None)
        if removed is not None:
            missing[("removed_criterion", removed)] += 1
            continue
        decision, statuses = replay(definition, answers, attributes)
        new_met = "".join([MET_CODES[status] for status in statuses])
        old_met = row.statuses[::2]
        key = (
            row.criteria_set_version,
            row.decision,
            old_met,
            decision.value,
            new_met,
            row.verdict,
        )
        tally.add(key)
        # One more than asked for, to tell whether the sample has a next page.
        if len(sample) <= request.sample_size and (
            after is None or (row.created_at, row.id) > after
        ):
            flipped = tally.flipped(row.criteria_set_version, old_met, new_met)
            if flipped or decision.value != row.decision:
                sample.append(_changed(row, decision.value, flipped))
        if progress is not None and seen % CHUNK == 0:
            progress(seen)
    sample_next = None
    if len(sample) > request.sample_size:
        sample.pop()
        sample_next = encode_position(sample[-1].created_at, sample[-1].id) if sample else None
    comparison = tally.comparison()
    return ImpactReport(
        **dict(comparison),
        slug=slug,
        candidate=candidate.ref(),
        since=request.since,
        until=request.until,
        not_replayed=sum(missing.values()),
        not_replayed_reasons=[
            NotReplayed(reason=reason, criterion=criterion, count=n)
            for (reason, criterion), n in sorted(
                missing.items(), key=lambda i: (i[0][0], i[0][1] or "")
            )
        ],
        truncated=truncated,
        cases=candidate.cases(),
        sample=sample,
        sample_next=sample_next,
    )


def _window(slug: str, request: ImpactRequest) -> list[Any]:
    where: list[Any] = [_E.c.criteria_set_slug == slug]
    if request.since is not None:
        where.append(_E.c.created_at >= request.since)
    if request.until is not None:
        where.append(_E.c.created_at < request.until)
    return where


def _rows(engine: Engine, slug: str, request: ImpactRequest) -> Iterator[Any]:
    """The window's decisions with their inputs and current verdict, oldest first, read a
    chunk at a time (one more than `limit`, to tell that it stopped early)."""
    statement = (
        select(
            _E.c.id,
            _E.c.created_at,
            _E.c.criteria_set_version,
            _E.c.decision,
            _E.c.statuses,
            _E.c.answers,
            _E.c.attributes,
            _E.c.privacy,
            _V.c.decision.label("verdict"),
        )
        .select_from(_E.outerjoin(_V, and_(_V.c.evaluation_id == _E.c.id, _V.c.current)))
        .where(*_window(slug, request))
        .order_by(_E.c.created_at, _E.c.id)
    )
    left = request.limit + 1
    last: tuple[datetime, uuid.UUID] | None = None
    while left > 0:
        page = (
            statement if last is None else statement.where(tuple_(_E.c.created_at, _E.c.id) > last)
        )
        with engine.connect() as connection:
            rows = connection.execute(page.limit(min(CHUNK, left))).all()
        yield from rows
        if len(rows) < min(CHUNK, left):
            return
        left -= len(rows)
        last = (rows[-1].created_at, rows[-1].id)


def _changed(row: Any, new: str, flipped: list[str]) -> ChangedDecision:
    return ChangedDecision(
        id=row.id, created_at=row.created_at, old=row.decision, new=new, flipped=flipped
    )


def _cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        return decode_cursor(cursor)
    except InvalidInput as exc:
        raise InvalidInput([("sample_cursor", "not a `sample_next` of an impact report")]) from exc
