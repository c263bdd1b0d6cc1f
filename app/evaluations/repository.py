"""Every query on the decision log. Helpers flush; callers commit."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from app.evaluations.models import EvaluationRecord
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
