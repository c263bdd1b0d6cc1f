"""Every query on the decision log. Helpers flush; callers commit."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from app.evaluations.models import EvaluationRecord


@dataclass(frozen=True, slots=True)
class EvaluationFilter:
    decision: str | None = None
    criteria_set: str | None = None
    subject_ref: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    api_key_id: str | None = None


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
    if filters.decision is not None:
        statement = statement.where(EvaluationRecord.decision == filters.decision)
    if filters.criteria_set is not None:
        statement = statement.where(EvaluationRecord.criteria_set_slug == filters.criteria_set)
    if filters.subject_ref is not None:
        statement = statement.where(EvaluationRecord.subject_ref == filters.subject_ref)
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
