"""Idempotency-Key: the same key and body give the same answer, and act once.

A request with a key is decided as any other; its answer is then remembered under the key
in the very transaction that stores its decisions, as a step of the decision writer
(`Remember`). If the key already holds an answer, that answer is returned instead and
nothing new is stored; a key used with another body is a 422. Two requests with one key,
even at once, store one decision: the writer's transactions come one after the other (on
PostgreSQL, the second waits on the key's unique index), and the second finds the first's
answer. Nothing is claimed before deciding, so a request that fails leaves no trace.
Keys are kept 24 hours; `purge` deletes older ones.
"""

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    and_,
    bindparam,
    delete,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from app.db import utcnow
from app.errors import InvalidInput
from app.forgetting import Doomed, Kind
from app.idempotency.models import IdempotencyRecord

KEPT = timedelta(hours=24)
_KEYS = IdempotencyRecord.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Replay:
    """An answer kept under a key: the one a key already holds, or the one to keep."""

    status: int
    response: str
    location: str | None


@dataclass(frozen=True, slots=True)
class Idempotent:
    """The Idempotency-Key of a request: whose it is, the key, the body's digest."""

    scope: str
    key: str
    digest: str

    @classmethod
    def of(cls, scope: str, key: str, body: bytes) -> "Idempotent":
        return cls(scope, key, hashlib.sha256(body).hexdigest())

    def remember(self, answer: Callable[[], Replay]) -> "Remember":
        """The writer's step that keeps the request's answer under the key. `answer` gives
        it when the step runs: as it is once the unit's earlier steps have completed it."""
        return Remember(self, answer)


@dataclass(frozen=True, slots=True)
class Remember:
    """Keep an answer under its key, in the decision writer's transaction.

    `run` returns None when the answer is kept (the decisions are then stored with it), or
    the answer the key already holds (nothing of this request is stored).
    """

    request: Idempotent
    answer: Callable[[], Replay]

    def run(self, connection: Connection) -> Replay | None:
        request = self.request
        answer = self.answer()
        now = utcnow()
        key = {"held_scope": request.scope, "held_key": request.key}
        for _ in range(2):  # again if the key expired, or was deleted in between
            kept = connection.execute(
                _insert_unless_held(connection.dialect.name),
                {
                    "scope": request.scope,
                    "key": request.key,
                    "request_hash": request.digest,
                    "status": answer.status,
                    "response": answer.response,
                    "location": answer.location,
                    "created_at": now,
                },
            )
            if kept.first() is not None:  # the common case: a new key, one statement
                return None
            held = connection.execute(_HELD, key).first()
            if held is None:
                continue
            if held.created_at > now - KEPT:
                if held.request_hash != request.digest:
                    raise InvalidInput(
                        [("Idempotency-Key", "already used with a different request body")],
                        location="header",
                    )
                return Replay(held.status, held.response, held.location)
            connection.execute(_FORGET, key)  # expired: used anew
        raise RuntimeError("an idempotency key could be neither kept nor read")


def purge(engine: Engine) -> int:
    """Delete the keys older than `KEPT`; how many."""
    with engine.begin() as connection:
        done = connection.execute(delete(_KEYS).where(_KEYS.c.created_at < utcnow() - KEPT))
    return done.rowcount


# Built once: a statement built per request costs more to key and cache than to run.
_IS_HELD = (_KEYS.c.scope == bindparam("held_scope")) & (_KEYS.c.key == bindparam("held_key"))
_HELD = select(_KEYS).where(_IS_HELD)
_FORGET = delete(_KEYS).where(_IS_HELD)


@cache
def _insert_unless_held(dialect_name: str) -> Insert:
    """An insert that does nothing when the key is held already (both dialects say so)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    insert: Insert = dialect.insert(_KEYS).on_conflict_do_nothing(index_elements=["scope", "key"])
    return insert.returning(_KEYS.c.key)


# What removing decisions removes of the keys (app.forgetting): a key's answer holds its
# decisions (one, at `/evaluations/{id}`, or a batch's), so every key holding one goes,
# the others of a batch with it: retrying that batch within the day decides it anew. An
# answer is kept in the transaction that stores its decisions, a moment after they were
# made: only the decisions of the last `KEPT` (and a margin) can still have a key, and only
# the keys of their stretch of time are searched. Older keys, never answered again, are
# deleted on the way, as housekeeping does, so that no expired answer outlives a removal.
WRITTEN_WITHIN = timedelta(hours=1)
_SEARCHED_AT_ONCE = 200  # ids a statement looks for: SQLite bounds an expression's depth


def _naming(evaluation_id: uuid.UUID) -> str:
    """How an answer names its decision (a single answer, a batch's full or compact item),
    and not the next decision's `"previous_id":"..."`: answers are compact JSON."""
    return f'"id":"{evaluation_id}"'


class _Holding(Kind):
    def __init__(self) -> None:
        super().__init__("idempotency_records", _KEYS, lambda _: _KEYS.c.created_at.is_not(None))

    def _searches(self, doomed: Doomed) -> list[ColumnElement[bool]]:
        ids = doomed.made_since(utcnow() - KEPT - WRITTEN_WITHIN)
        groups = [ids[i : i + _SEARCHED_AT_ONCE] for i in range(0, len(ids), _SEARCHED_AT_ONCE)]
        return [
            and_(
                _KEYS.c.created_at >= doomed.oldest,
                _KEYS.c.created_at <= doomed.newest + WRITTEN_WITHIN,
                or_(
                    *(_KEYS.c.response.contains(_naming(evaluation_id)) for evaluation_id in group)
                ),
            )
            for group in groups
        ]

    def count(self, connection: Connection, doomed: Doomed) -> int:
        held: set[tuple[str, str]] = set()
        for search in self._searches(doomed):
            held.update(connection.execute(select(_KEYS.c.scope, _KEYS.c.key).where(search)))
        return len(held)

    def remove(self, connection: Connection, doomed: Doomed) -> int:
        connection.execute(delete(_KEYS).where(_KEYS.c.created_at < utcnow() - KEPT))
        return sum(
            int(connection.execute(delete(_KEYS).where(search)).rowcount)
            for search in self._searches(doomed)
        )


FORGOTTEN = (_Holding(),)
