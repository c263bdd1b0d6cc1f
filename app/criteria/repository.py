"""Every query on criteria sets and their versions. Helpers flush; callers commit."""

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.criteria.models import CriteriaSet, CriteriaVersion


def get_set(session: Session, slug: str) -> CriteriaSet | None:
    return session.exec(select(CriteriaSet).where(CriteriaSet.slug == slug)).first()


def slugs(session: Session, *, limit: int) -> list[str]:
    """The first `limit` sets' slugs, in order."""
    return list(session.exec(select(CriteriaSet.slug).order_by(CriteriaSet.slug).limit(limit)))


def has_any_set(session: Session) -> bool:
    return session.exec(select(CriteriaSet.id).limit(1)).first() is not None


def list_current(
    session: Session, *, include_archived: bool
) -> list[tuple[CriteriaSet, CriteriaVersion]]:
    statement = (
        select(CriteriaSet, CriteriaVersion)
        .join(CriteriaVersion, col(CriteriaVersion.criteria_set_id) == CriteriaSet.id)
        .where(CriteriaVersion.version == CriteriaSet.current_version)
        .order_by(col(CriteriaSet.slug))
    )
    if not include_archived:
        statement = statement.where(col(CriteriaSet.archived_at).is_(None))
    return list(session.exec(statement).all())


def get_version(session: Session, set_id: int, version: int) -> CriteriaVersion | None:
    return session.exec(
        select(CriteriaVersion).where(
            CriteriaVersion.criteria_set_id == set_id, CriteriaVersion.version == version
        )
    ).first()


def list_versions(session: Session, set_id: int) -> list[CriteriaVersion]:
    return list(
        session.exec(
            select(CriteriaVersion)
            .where(CriteriaVersion.criteria_set_id == set_id)
            .order_by(col(CriteriaVersion.version))
        ).all()
    )


def advance_version(session: Session, criteria_set: CriteriaSet, expected: int) -> bool:
    """Move the set to version `expected + 1` unless another writer got there first."""
    result = session.exec(
        update(CriteriaSet)
        .where(col(CriteriaSet.id) == criteria_set.id, col(CriteriaSet.current_version) == expected)
        .values(current_version=expected + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def clear_default(session: Session) -> None:
    session.exec(
        update(CriteriaSet)
        .where(col(CriteriaSet.is_default))
        .values(is_default=False)
        .execution_options(synchronize_session=False)
    )
    session.flush()
