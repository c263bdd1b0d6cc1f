"""Leases: a job that one process at a time runs, across workers and replicas.

A lease is a row: whoever inserts it, or moves on one whose time ran out, holds it until
then. One statement each, the same on SQLite and PostgreSQL: on PostgreSQL a second
claimant waits on the row (or its key) and then finds it held; SQLite's writers come one
after the other.
"""

from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Engine, Insert, update
from sqlalchemy.dialects import postgresql, sqlite

from app.db import utcnow
from app.subjects.models import Lease

_LEASES = Lease.__table__  # type: ignore[attr-defined]


def claim(engine: Engine, name: str, holder: str, hold: timedelta) -> bool:
    """Whether `holder` now holds the lease `name`, for `hold` from now."""
    now = utcnow()
    until = now + hold
    with engine.begin() as connection:
        inserted = connection.execute(
            _insert_unless_held(connection.dialect.name),
            {"name": name, "holder": holder, "until": until},
        ).first()
        if inserted is not None:
            return True
        moved = connection.execute(
            update(_LEASES)
            .where(_LEASES.c.name == name, _LEASES.c.until <= now)
            .values(holder=holder, until=until)
        )
        return bool(moved.rowcount == 1)


def release(engine: Engine, name: str, holder: str, at: datetime | None = None) -> None:
    """Let the lease go now (or at `at`), if `holder` still holds it."""
    with engine.begin() as connection:
        connection.execute(
            update(_LEASES)
            .where(_LEASES.c.name == name, _LEASES.c.holder == holder)
            .values(until=at or utcnow())
        )


@cache
def _insert_unless_held(dialect_name: str) -> Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    insert: Insert = dialect.insert(_LEASES).on_conflict_do_nothing(index_elements=["name"])
    return insert.returning(_LEASES.c.name)
