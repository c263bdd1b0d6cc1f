"""Every query on verdicts but the statistics' (reviews.stats). Helpers flush; callers commit."""

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select
from sqlmodel import Session, col, select

from app.forgetting import Doomed, Kind
from app.reviews.models import ReviewQueue, Verdict, VerdictCriterion, VerdictLeaf


def current(session: Session, evaluation_id: uuid.UUID) -> Verdict | None:
    statement = select(Verdict).where(Verdict.evaluation_id == evaluation_id, Verdict.current)
    return session.exec(statement).first()


def current_of(session: Session, evaluation_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Verdict]:
    """The current verdict of each of `evaluation_ids` that has one."""
    if not evaluation_ids:
        return {}
    statement = select(Verdict).where(
        col(Verdict.evaluation_id).in_(evaluation_ids), Verdict.current
    )
    return {verdict.evaluation_id: verdict for verdict in session.exec(statement)}


def history(session: Session, evaluation_id: uuid.UUID) -> list[Verdict]:
    statement = (
        select(Verdict)
        .where(Verdict.evaluation_id == evaluation_id)
        .order_by(col(Verdict.sequence))
    )
    return list(session.exec(statement))


def histories(
    session: Session, evaluation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Verdict]]:
    """Every verdict on each decision, oldest first."""
    found: dict[uuid.UUID, list[Verdict]] = {evaluation_id: [] for evaluation_id in evaluation_ids}
    statement = (
        select(Verdict)
        .where(col(Verdict.evaluation_id).in_(evaluation_ids))
        .order_by(col(Verdict.evaluation_id), col(Verdict.sequence))
    )
    for verdict in session.exec(statement):
        found[verdict.evaluation_id].append(verdict)
    return found


def queued(session: Session, evaluation_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of the decisions wait in the review queue."""
    statement = select(ReviewQueue.evaluation_id).where(
        col(ReviewQueue.evaluation_id).in_(evaluation_ids)
    )
    return set(session.exec(statement))


def add(
    session: Session,
    verdict: Verdict,
    criteria: Sequence[VerdictCriterion],
    leaves: Sequence[VerdictLeaf],
    replaces: Verdict | None,
) -> None:
    """Add `verdict` with its rows; `replaces` stops being current."""
    if replaces is not None:
        replaces.current = False
        session.add(replaces)
    session.add(verdict)
    session.flush()  # the verdict's row before the rows that refer to it
    session.add_all([*criteria, *leaves])
    session.flush()


# --- what removing decisions removes of verdicts (app.forgetting) ---------------

_VERDICTS = Verdict.__table__  # type: ignore[attr-defined]
_CRITERIA = VerdictCriterion.__table__  # type: ignore[attr-defined]
_LEAVES = VerdictLeaf.__table__  # type: ignore[attr-defined]
_QUEUE = ReviewQueue.__table__  # type: ignore[attr-defined]


def _verdict_of(doomed: Doomed) -> ColumnElement[bool]:
    return _VERDICTS.c.evaluation_id.in_(doomed.ids)  # type: ignore[no-any-return]


def _verdict_ids(doomed: Doomed) -> Select[tuple[uuid.UUID]]:
    return select(_VERDICTS.c.id).where(_verdict_of(doomed))


# In this order: a verdict's criteria and leaves before the verdict they belong to.
FORGOTTEN = (
    Kind("verdict_leaves", _LEAVES, lambda d: _LEAVES.c.verdict_id.in_(_verdict_ids(d))),
    Kind("verdict_criteria", _CRITERIA, lambda d: _CRITERIA.c.verdict_id.in_(_verdict_ids(d))),
    Kind("verdicts", _VERDICTS, _verdict_of),
    Kind("review_queue_entries", _QUEUE, lambda d: _QUEUE.c.evaluation_id.in_(d.ids)),
)
