"""The review queue: stored `review` decisions without a verdict, oldest first."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlmodel import Session, col, select

from app.criteria.models import CriteriaVersion
from app.evaluations.log import decode_cursor, encode_cursor
from app.evaluations.models import EvaluationPublic, EvaluationRecord
from app.reviews.models import ReviewBecause, ReviewItem, ReviewPage, Verdict

REVIEW = "review"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which decisions: of a set (a version of it), made within a time range."""

    criteria_set: str | None = None
    version: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def of(self, slug: Any, version: Any, made_at: Any) -> list[ColumnElement[bool]]:
        """The scope's conditions on a table's set, version and decision-time columns."""
        conditions = []
        if self.criteria_set is not None:
            conditions.append(col(slug) == self.criteria_set)
        if self.version is not None:
            conditions.append(col(version) == self.version)
        if self.since is not None:
            conditions.append(col(made_at) >= self.since)
        if self.until is not None:
            conditions.append(col(made_at) < self.until)
        return conditions

    def of_decisions(self) -> list[ColumnElement[bool]]:
        e = EvaluationRecord
        return self.of(e.criteria_set_slug, e.criteria_set_version, e.created_at)


def waiting(scope: Scope) -> ColumnElement[bool]:
    """The condition of a decision in the queue: `review`, no verdict, within `scope`."""
    return and_(
        col(EvaluationRecord.decision) == REVIEW,
        ~exists().where(col(Verdict.evaluation_id) == col(EvaluationRecord.id)),
        *scope.of_decisions(),
    )


def list_queue(session: Session, scope: Scope, *, limit: int, cursor: str | None) -> ReviewPage:
    statement = select(EvaluationRecord).where(waiting(scope))
    if cursor:
        created_at, last_id = decode_cursor(cursor)
        statement = statement.where(
            or_(
                col(EvaluationRecord.created_at) > created_at,
                and_(
                    col(EvaluationRecord.created_at) == created_at,
                    col(EvaluationRecord.id) > last_id,
                ),
            )
        )
    statement = statement.order_by(
        col(EvaluationRecord.created_at), col(EvaluationRecord.id)
    ).limit(limit + 1)
    records = list(session.exec(statement))
    page, more = records[:limit], len(records) > limit
    review_at = _review_at(session, {record.criteria_version_id for record in page})
    return ReviewPage(
        items=[_item(record, review_at[record.criteria_version_id]) for record in page],
        next_cursor=encode_cursor(page[-1]) if more else None,
    )


def _item(record: EvaluationRecord, review_at: float | None) -> ReviewItem:
    answer = json.loads(record.answer)
    score, needed = answer["score"], answer["needed"]
    because = ReviewBecause(
        unknown=[c["key"] for c in answer["criteria"] if c["met"] is None],
        in_band=review_at is not None and review_at <= score < needed,
        review_at=review_at,
    )
    return ReviewItem(evaluation=EvaluationPublic.model_validate(answer), because=because)


def _review_at(session: Session, version_ids: set[int]) -> dict[int, float | None]:
    """Each version's `review_at` (None: the policy has no review band)."""
    if not version_ids:
        return {}
    statement = select(CriteriaVersion.id, CriteriaVersion.policy).where(
        col(CriteriaVersion.id).in_(version_ids)
    )
    return {
        identifier: policy.get("review_at")
        for identifier, policy in session.exec(statement)
        if identifier is not None
    }


def oldest(session: Session, scope: Scope) -> datetime | None:
    """When the oldest decision in the queue was made; None if it is empty."""
    statement = (
        select(EvaluationRecord.created_at)
        .where(waiting(scope))
        .order_by(col(EvaluationRecord.created_at))
        .limit(1)
    )
    return session.exec(statement).first()
