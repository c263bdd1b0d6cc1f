"""Every query on the decision log. Helpers flush; callers commit."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, not_, or_, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from app.evaluations.models import EvaluationRecord
from app.forgetting import Doomed, Kind
from app.reviews.models import Verdict


@dataclass(frozen=True, slots=True)
class EvaluationFilter:
    decision: str | None = None
    criteria_set: str | None = None
    subject_key: str | None = None  # the subject's ref as its keyed hash (app.privacy)
    since: datetime | None = None
    until: datetime | None = None
    api_key_id: str | None = None
    final_decision: str | None = None
    has_verdict: bool | None = None
    verdict_agrees: bool | None = None


def get(session: Session, evaluation_id: uuid.UUID) -> EvaluationRecord | None:
    return session.get(EvaluationRecord, evaluation_id)


def list_page(
    session: Session,
    filters: EvaluationFilter,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[EvaluationRecord]:
    """Newest first, ordered by (created_at, id) so a cursor stays stable under inserts."""
    statement = select(EvaluationRecord)
    if (filters.final_decision, filters.has_verdict, filters.verdict_agrees) != (None,) * 3:
        statement = _by_verdict(statement, filters)
    if filters.decision is not None:
        statement = statement.where(EvaluationRecord.decision == filters.decision)
    if filters.criteria_set is not None:
        statement = statement.where(EvaluationRecord.criteria_set_slug == filters.criteria_set)
    if filters.subject_key is not None:
        statement = statement.where(EvaluationRecord.subject_key == filters.subject_key)
    if filters.api_key_id is not None:
        statement = statement.where(EvaluationRecord.api_key_id == filters.api_key_id)
    if filters.since is not None:
        statement = statement.where(col(EvaluationRecord.created_at) >= filters.since)
    if filters.until is not None:
        statement = statement.where(col(EvaluationRecord.created_at) < filters.until)
    if after is not None:
        created_at, last_id = after
        statement = statement.where(
            or_(
                col(EvaluationRecord.created_at) < created_at,
                and_(
                    col(EvaluationRecord.created_at) == created_at,
                    col(EvaluationRecord.id) < last_id,
                ),
            )
        )
    statement = statement.order_by(
        col(EvaluationRecord.created_at).desc(), col(EvaluationRecord.id).desc()
    ).limit(limit)
    return list(session.exec(statement).all())


def _by_verdict(statement: Any, filters: EvaluationFilter) -> Any:
    """`statement` joined to each decision's current verdict, filtered by it."""
    statement = statement.outerjoin(
        Verdict, and_(col(Verdict.evaluation_id) == col(EvaluationRecord.id), col(Verdict.current))
    )
    if filters.final_decision is not None:
        final = func.coalesce(Verdict.decision, EvaluationRecord.decision)
        statement = statement.where(final == filters.final_decision)
    if filters.has_verdict is not None:
        verdict = col(Verdict.id)
        statement = statement.where(
            verdict.is_not(None) if filters.has_verdict else verdict.is_(None)
        )
    if filters.verdict_agrees is not None:
        statement = statement.where(col(Verdict.agrees).is_(filters.verdict_agrees))
    return statement


# --- removing decisions (app.forgetting) ------------------------------------------
_EVALUATIONS = EvaluationRecord.__table__  # type: ignore[attr-defined]


def doomed_of(
    connection: Connection, where: ColumnElement[bool], limit: int, after: Doomed | None = None
) -> Doomed | None:
    """The decisions `where` selects, the oldest first, at most `limit` (after those of
    `after`, in the log's order); None if none."""
    selection = where
    if after is not None:
        created_at, last_id = after.newest, after.ids[-1]
        where = and_(
            where,
            or_(
                _EVALUATIONS.c.created_at > created_at,
                and_(_EVALUATIONS.c.created_at == created_at, _EVALUATIONS.c.id > last_id),
            ),
        )
    statement = (
        core_select(_EVALUATIONS.c.id, _EVALUATIONS.c.subject_key, _EVALUATIONS.c.created_at)
        .where(where)
        .order_by(_EVALUATIONS.c.created_at, _EVALUATIONS.c.id)
        .limit(limit)
    )
    rows = connection.execute(statement).all()
    if not rows:
        return None
    return Doomed(
        ids=[row.id for row in rows],
        made_at=[row.created_at for row in rows],
        subject_keys=sorted({row.subject_key for row in rows if row.subject_key is not None}),
        selection=selection,
    )


def each_chunk(connection: Connection, where: ColumnElement[bool], size: int) -> Iterator[Doomed]:
    """The decisions `where` selects, `size` at a time, each chunk read once the caller is
    done with the one before (it may have removed it)."""
    doomed = doomed_of(connection, where, size)
    while doomed is not None:
        yield doomed
        doomed = doomed_of(connection, where, size, after=doomed)


def of_subject(subject_key: str) -> ColumnElement[bool]:
    """A subject's decisions, by its ref's keyed hash."""
    return _EVALUATIONS.c.subject_key == subject_key  # type: ignore[no-any-return]


def older_than(slug: str, cutoff: datetime) -> ColumnElement[bool]:
    """A set's decisions made before `cutoff`, found through `ix_evaluation_days`."""
    return and_(
        _EVALUATIONS.c.criteria_set_slug == slug,
        _EVALUATIONS.c.created_on <= cutoff.date(),
        _EVALUATIONS.c.created_at < cutoff,
    )


class _Unlinked(Kind):
    """Later decisions of the same subjects, kept by the removal, whose `previous_id` names
    a removed one: the column becomes null. Their stored answers stay as they were told (a
    `previous_id` that now finds nothing, `changes` naming attributes alone)."""

    def __init__(self) -> None:
        super().__init__(
            "unlinked_decisions",
            _EVALUATIONS,
            lambda d: and_(
                _EVALUATIONS.c.subject_key.in_(d.subject_keys),
                _EVALUATIONS.c.previous_id.in_(d.ids),
                not_(d.selection),
            ),
        )

    def remove(self, connection: Connection, doomed: Doomed) -> int:
        done = connection.execute(
            update(_EVALUATIONS).where(self.where(doomed)).values(previous_id=None)
        )
        return int(done.rowcount)


# Last of all kinds: everything else hangs off the decisions.
FORGOTTEN = (
    _Unlinked(),
    Kind("decisions", _EVALUATIONS, lambda d: _EVALUATIONS.c.id.in_(d.ids)),
)
