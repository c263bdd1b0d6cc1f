"""Idempotency-Key: the same key and body give the same answer, and act once.

A request with a key first claims it (a pending row). The decision writer completes the
row in the very transaction that stores the decision, so a replay can never disagree with
the log. A key reused with another body is a 422; a duplicate that arrives while the first
is still running is a 409; a claim left pending by a crash is taken over after a minute.
Keys are kept 24 hours, then purged as new ones are claimed.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.db import utcnow
from app.errors import Conflict, InvalidInput
from app.idempotency.models import IdempotencyRecord

KEPT = timedelta(hours=24)
ABANDONED = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Claim:
    scope: str
    key: str


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    response: str
    location: str | None


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def claim(engine: Engine, scope: str, key: str, digest: str) -> Claim | Replay:
    """Claim `key` for this request, or say what the first request with it answered."""
    now = utcnow()
    with Session(engine) as session:
        session.exec(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < now - KEPT)
        )
        found = session.exec(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        ).first()
        if found is None:
            session.add(IdempotencyRecord(scope=scope, key=key, request_hash=digest))
            try:
                session.commit()
            except IntegrityError as exc:
                raise _in_progress() from exc
            return Claim(scope, key)
        if found.request_hash != digest:
            raise InvalidInput(
                [("Idempotency-Key", "already used with a different request body")],
                location="header",
            )
        if found.status is not None and found.response is not None:
            return Replay(found.status, found.response, found.location)
        if found.created_at > now - ABANDONED:
            raise _in_progress()
        found.created_at = now  # abandoned by a crashed request: take it over
        session.add(found)
        session.commit()
        return Claim(scope, key)


def release(engine: Engine, claim: Claim) -> None:
    """Forget a claim whose request failed, so that a retry runs again."""
    with Session(engine) as session:
        session.exec(
            delete(IdempotencyRecord).where(
                col(IdempotencyRecord.scope) == claim.scope,
                col(IdempotencyRecord.key) == claim.key,
                col(IdempotencyRecord.status).is_(None),
            )
        )
        session.commit()


def _in_progress() -> Conflict:
    return Conflict("A request with this Idempotency-Key is still running; retry shortly.")
