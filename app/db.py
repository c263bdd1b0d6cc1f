"""Database engine, sessions and the column types shared by every table."""

import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, Table, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from app.settings import Settings

# Constraint names that are stable across databases, so migrations can refer to them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONColumn = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored as UTC on every database (SQLite has no zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_db_engine(settings: Settings) -> Engine:
    """Build the engine for the configured database, tuned for concurrent use."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        connect_args = {}
        if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
            # The pool timeout bounds the wait for a pooled connection, not the opening of a
            # new one: a server that accepts TCP but never answers (paused, overloaded, cut
            # off halfway) would hold a request 130 s, psycopg's default. libpq counts whole
            # seconds, 2 at least.
            connect_args["connect_timeout"] = max(2, math.ceil(settings.db_pool_timeout))
        return create_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_pre_ping=True,
            connect_args=connect_args,
        )
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})
    busy_timeout = settings.sqlite_busy_timeout_ms
    synchronous = settings.sqlite_synchronous

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers run beside the writer. FULL syncs the log at every commit, so a
        # commit survives a power cut; the writer groups decisions, so that is one sync per
        # group rather than per decision. NORMAL may lose the last commits on power loss.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        # Deleted content is overwritten with zeros, not left in free space: an erasure is
        # physical once the WAL is checkpointed (app.subjects.physical). It costs writes on
        # deletes alone, which are rare here (erasures, purges, expired keys).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    return engine


def begin_immediately(engine: Engine) -> Engine:
    """A copy of `engine` whose SQLite transactions take the write lock when they begin.

    A deferred transaction that reads and then writes fails at once with "database is
    locked" when another process wrote meanwhile; `BEGIN IMMEDIATE` waits for the lock
    (up to the busy timeout) before reading instead. Other databases are left as they are.
    """
    if engine.dialect.name != "sqlite":
        return engine
    immediate = engine.execution_options()

    @event.listens_for(immediate, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return immediate


class RowInsert:
    """An insert of rows straight to the driver (`executemany`), derived from the table: the
    decision writer's, the outbox's.

    Its columns, and how each value is bound (a UUID, a timestamp in SQLite's format), come
    from the table's own column types; JSON columns receive text already serialised
    (PostgreSQL casts it to JSONB). Adding a column to the table adds it here. `skip`: the
    columns the database fills (an autoincremented key).
    """

    def __init__(self, table: Table, dialect: Dialect, skip: tuple[str, ...] = ()) -> None:
        mark = "?" if dialect.name == "sqlite" else "%s"
        kept = [column for column in table.columns if column.name not in skip]
        self.columns = tuple(column.name for column in kept)
        marks = []
        self._converters: list[Callable[[Any], Any] | None] = []
        for column in kept:
            if isinstance(column.type, JSON):
                marks.append(f"{mark}::jsonb" if dialect.name == "postgresql" else mark)
                self._converters.append(None)
            else:
                marks.append(mark)
                impl = column.type.dialect_impl(dialect)
                self._converters.append(impl.bind_processor(dialect))
        self.sql = (
            f"INSERT INTO {table.name} ({', '.join(self.columns)}) VALUES ({', '.join(marks)})"
        )

    def params(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """`row` (a value for each column) as the driver takes it."""
        return tuple(
            value if convert is None or value is None else convert(value)
            for value, convert in zip(
                map(row.__getitem__, self.columns), self._converters, strict=True
            )
        )
