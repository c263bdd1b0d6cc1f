"""Every query on verdicts but the statistics' (reviews.stats). Helpers flush; callers commit."""

import uuid
from collections.abc import Sequence

from sqlmodel import Session, col, select

from app.reviews.models import Verdict, VerdictCriterion, VerdictLeaf


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
