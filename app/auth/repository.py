"""Every query on API keys."""

from sqlmodel import Session, col, select

from app.auth.models import ApiKey, Role


def get(session: Session, key_id: str) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def list_all(session: Session) -> list[ApiKey]:
    statement = select(ApiKey).order_by(col(ApiKey.created_at).desc(), col(ApiKey.id))
    return list(session.exec(statement))


def active_admins(session: Session) -> list[ApiKey]:
    """The active admin keys, locked until the transaction ends (PostgreSQL)."""
    statement = (
        select(ApiKey)
        .where(ApiKey.role == Role.admin.value, col(ApiKey.revoked_at).is_(None))
        .with_for_update()
    )
    return list(session.exec(statement))


def has_active(session: Session) -> bool:
    statement = select(ApiKey.id).where(col(ApiKey.revoked_at).is_(None)).limit(1)
    return session.exec(statement).first() is not None


def add(session: Session, key: ApiKey) -> ApiKey:
    session.add(key)
    session.flush()
    return key
