"""Every query on criteria sets and their versions. Helpers flush; callers commit."""

import uuid
from collections.abc import Sequence

from sqlalchemy import Connection, func, update
from sqlmodel import Session, col, select

from app.criteria.models import CriteriaSet, CriteriaVersion, PendingCase
from app.forgetting import Kind


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


def keys_by_version(connection: Connection, slug: str) -> dict[int, list[str]]:
    """Each version of the set and its criteria keys, in order: how its statuses read."""
    sets = CriteriaSet.__table__  # type: ignore[attr-defined]
    versions = CriteriaVersion.__table__  # type: ignore[attr-defined]
    rows = connection.execute(
        select(versions.c.version, versions.c.criteria)
        .join(sets, sets.c.id == versions.c.criteria_set_id)
        .where(sets.c.slug == slug)
    )
    return {row.version: [c["key"] for c in row.criteria] for row in rows}


def latest_version(session: Session, set_id: int) -> int:
    """The set's highest version number: the current one, or a shadow's draft after it."""
    latest = session.exec(
        select(func.max(CriteriaVersion.version)).where(CriteriaVersion.criteria_set_id == set_id)
    ).one()
    return latest or 0


def list_pending(session: Session, set_id: int) -> list[PendingCase]:
    return list(
        session.exec(
            select(PendingCase)
            .where(PendingCase.criteria_set_id == set_id)
            .order_by(col(PendingCase.id))
        ).all()
    )


def pending_by_set(session: Session, set_ids: list[int]) -> dict[int, list[PendingCase]]:
    """The pending cases of each of these sets, in one query."""
    found: dict[int, list[PendingCase]] = {set_id: [] for set_id in set_ids}
    if set_ids:
        for case in session.exec(
            select(PendingCase)
            .where(col(PendingCase.criteria_set_id).in_(set_ids))
            .order_by(col(PendingCase.id))
        ):
            found[case.criteria_set_id].append(case)
    return found


def get_pending(session: Session, set_id: int, name: str) -> PendingCase | None:
    return session.exec(
        select(PendingCase).where(PendingCase.criteria_set_id == set_id, PendingCase.name == name)
    ).first()


def delete_pending(session: Session, pending: list[PendingCase]) -> None:
    for case in pending:
        session.delete(case)
    session.flush()


def advance_version(
    session: Session,
    criteria_set: CriteriaSet,
    expected: int,
    number: int,
    *,
    privacy: str,
    retention_days: int | None,
) -> bool:
    """Make `number` the set's current version unless another writer changed it first; the
    set takes the version's privacy and retention."""
    result = session.exec(
        update(CriteriaSet)
        .where(col(CriteriaSet.id) == criteria_set.id, col(CriteriaSet.current_version) == expected)
        .values(current_version=number, privacy=privacy, retention_days=retention_days)
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


def pending_from(
    session: Session, evaluation_ids: Sequence[uuid.UUID]
) -> list[tuple[str, PendingCase]]:
    """The pending cases made from these decisions, with their set's slug."""
    statement = (
        select(CriteriaSet.slug, PendingCase)
        .join(CriteriaSet, col(CriteriaSet.id) == col(PendingCase.criteria_set_id))
        .where(col(PendingCase.evaluation_id).in_(evaluation_ids))
        .order_by(col(PendingCase.created_at))
    )
    return [(slug, case) for slug, case in session.exec(statement)]


def retentions(connection: Connection) -> list[tuple[str, int | None]]:
    """Each set's slug and its own `retention_days` (None: the service's default)."""
    sets = CriteriaSet.__table__  # type: ignore[attr-defined]
    rows = connection.execute(select(sets.c.slug, sets.c.retention_days).order_by(sets.c.slug))
    return [(row.slug, row.retention_days) for row in rows]


# What removing decisions removes of criteria (app.forgetting): the pending cases made
# from them, which hold their attributes.
_PENDING = PendingCase.__table__  # type: ignore[attr-defined]
FORGOTTEN = (Kind("pending_cases", _PENDING, lambda d: _PENDING.c.evaluation_id.in_(d.ids)),)
