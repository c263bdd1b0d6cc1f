"""The review queue: stored `review` decisions without a verdict, oldest first.

`ReviewQueue` holds them alone: a decision enters it when stored, and leaves it with its
first verdict. The scope of the queue and of the statistics (`Scope`) is defined here.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, func, insert, or_
from sqlmodel import Session, col, select

from app.criteria.models import CriteriaVersion
from app.evaluations.log import decode_cursor, encode_cursor
from app.evaluations.models import EvaluationPublic, EvaluationRecord
from app.reviews.models import ReviewBecause, ReviewItem, ReviewPage, ReviewQueue

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
        """The scope's conditions on the log; a time range is also a range of days, so
        that the database can read just those days of `ix_evaluation_days`."""
        e = EvaluationRecord
        conditions = self.of(e.criteria_set_slug, e.criteria_set_version, e.created_at)
        if self.since is not None:
            conditions.append(col(e.created_on) >= self.since.date())
        if self.until is not None:
            conditions.append(col(e.created_on) <= self.until.date())
        return conditions


@dataclass(frozen=True, slots=True)
class Enqueue:
    """A step of the decision writer: the unit's `review` decisions enter the queue.

    It writes and never answers or refuses, so it runs after the steps that may (the
    writer stops at the first that does, and the unit then stores nothing).
    """

    rows: Sequence[dict[str, Any]]

    def run(self, connection: Connection) -> None:
        waiting = [
            {
                "evaluation_id": row["id"],
                "criteria_set_slug": row["criteria_set_slug"],
                "criteria_set_version": row["criteria_set_version"],
                "created_at": row["created_at"],
            }
            for row in self.rows
            if row["decision"] == REVIEW
        ]
        if waiting:
            connection.execute(_ENQUEUE, waiting)
        return None


def list_queue(session: Session, scope: Scope, *, limit: int, cursor: str | None) -> ReviewPage:
    q = ReviewQueue
    statement = (
        select(EvaluationRecord)
        .join(q, col(q.evaluation_id) == col(EvaluationRecord.id))
        .where(*scope.of(q.criteria_set_slug, q.criteria_set_version, q.created_at))
    )
    if cursor:
        created_at, last_id = decode_cursor(cursor)
        statement = statement.where(
            or_(
                col(q.created_at) > created_at,
                and_(col(q.created_at) == created_at, col(q.evaluation_id) > last_id),
            )
        )
    statement = statement.order_by(col(q.created_at), col(q.evaluation_id)).limit(limit + 1)
    records = list(session.exec(statement))
    page, more = records[:limit], len(records) > limit
    review_at = _review_at(session, {record.criteria_version_id for record in page})
    return ReviewPage(
        items=[_item(record, review_at[record.criteria_version_id]) for record in page],
        next_cursor=encode_cursor(page[-1]) if more else None,
    )


def leave(session: Session, evaluation_id: uuid.UUID) -> None:
    """The decision leaves the queue (it has a verdict). Flushes; the caller commits."""
    session.exec(delete(ReviewQueue).where(col(ReviewQueue.evaluation_id) == evaluation_id))


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


def waiting(session: Session, scope: Scope) -> tuple[int, datetime | None]:
    """How many decisions wait in `scope`, and when the oldest was made."""
    q = ReviewQueue
    statement = select(func.count(), func.min(q.created_at)).where(
        *scope.of(q.criteria_set_slug, q.criteria_set_version, q.created_at)
    )
    count, first = session.exec(statement).one()
    return count, first


_ENQUEUE = insert(ReviewQueue.__table__)  # type: ignore[attr-defined]
