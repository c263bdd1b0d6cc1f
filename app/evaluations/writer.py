"""The decision writer: one task per process that stores decisions in grouped transactions.

Requests hand their decisions over as units (one decision, or a whole batch) and wait.
The writer takes every unit queued, stores them in one transaction in a worker thread,
commits, and only then wakes each request: nothing is acknowledged before its commit, and
a failed commit is reported to every request of the group. Under load the groups grow by
themselves; alone, a unit is written at once.

Inside each transaction the writer re-reads the criteria sets' state; a unit decided with a
version that is no longer current (another process replaced or archived the set) is not
stored but returned as stale, so the request decides again with the current version.
"""

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio
from sqlalchemy import JSON, Engine, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from app.criteria.registry import CriteriaRegistry, ResolvedCriteria, read_states
from app.db import begin_immediately
from app.errors import ServiceUnavailable
from app.evaluations.models import EvaluationRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Completion:
    """The answer to record against an idempotency key, with the decision it describes."""

    scope: str
    key: str
    status: int
    response: str
    location: str | None


@dataclass(eq=False)
class WriteUnit:
    """Decisions that are stored together or not at all."""

    checks: Sequence[ResolvedCriteria]
    rows: Sequence[dict[str, Any]]
    completion: "Completion | None" = None
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class DecisionWriter:
    def __init__(self, engine: Engine, registry: CriteriaRegistry, max_rows: int = 5000) -> None:
        self._engine = begin_immediately(engine)
        self._registry = registry
        self._max_rows = max_rows
        self._queue: asyncio.Queue[WriteUnit | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._insert = RowInsert(_EVALUATION, engine.dialect)
        mark = "?" if engine.dialect.name == "sqlite" else "%s"
        self._complete = (
            f"UPDATE idempotency_key SET status = {mark}, response = {mark}, location = {mark} "
            f"WHERE scope = {mark} AND key = {mark}"
        )
        self._dialect = engine.dialect.name
        self._lock = _writer_lock(engine)
        dbapi = engine.dialect.dbapi
        self._database_errors: tuple[type[Exception], ...] = (
            (DBAPIError,) if dbapi is None else (DBAPIError, dbapi.Error)
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="decision-writer")

    async def stop(self) -> None:
        """Store what is queued, then stop."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None

    async def store(
        self,
        checks: Sequence[ResolvedCriteria],
        rows: Sequence[dict[str, Any]],
        completion: Completion | None = None,
    ) -> bool:
        """Store `rows` (and `completion`) if every version in `checks` is still current.

        False when stale: nothing was stored and the caller must decide again.
        """
        if self._task is None or self._task.done():
            raise ServiceUnavailable("The service is stopping; retry.")
        unit = WriteUnit(checks, rows, completion)
        await self._queue.put(unit)
        return await unit.done

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            units, size = [first], len(first.rows)
            while size < self._max_rows and not self._queue.empty():
                unit = self._queue.get_nowait()
                if unit is None:
                    stopping = True
                    break
                units.append(unit)
                size += len(unit.rows)
            try:
                stored = await anyio.to_thread.run_sync(self._write, units)
            except Exception as exc:
                logger.error("storing %d decisions failed: %s", size, exc.__class__.__name__)
                error = (
                    ServiceUnavailable("The database could not store the decision; retry.")
                    if isinstance(exc, self._database_errors)
                    else exc
                )
                for unit in units:
                    if not unit.done.done():
                        unit.done.set_exception(error)
            else:
                for unit, ok in zip(units, stored, strict=True):
                    if not unit.done.done():
                        unit.done.set_result(ok)
        while not self._queue.empty():  # arrived after stop(): refuse rather than strand
            late = self._queue.get_nowait()
            if late is not None and not late.done.done():
                late.done.set_exception(ServiceUnavailable("The service is stopping; retry."))

    def _write(self, units: list[WriteUnit]) -> list[bool]:
        with self._lock, self._engine.connect() as connection:
            states = read_states(connection)
            self._registry.apply(states.values())
            current = [all(check.is_current(states) for check in unit.checks) for unit in units]
            rows = [row for unit, ok in zip(units, current, strict=True) if ok for row in unit.rows]
            if rows:
                # Straight to the driver: the values are ready, JSON included.
                driver = connection.connection.driver_connection
                assert driver is not None
                cursor = driver.cursor()
                cursor.executemany(self._insert.sql, [self._insert.params(row) for row in rows])
                cursor.close()
            completions = [
                (
                    u.completion.status,
                    u.completion.response,
                    u.completion.location,
                    u.completion.scope,
                    u.completion.key,
                )
                for u, ok in zip(units, current, strict=True)
                if ok and u.completion is not None
            ]
            if completions:
                connection.exec_driver_sql(self._complete, completions)
            connection.commit()
        return current


class _FileLock:
    """An exclusive lock on a file beside the SQLite database, shared by every process.

    Writers of several processes queue on it and are woken the moment it is released,
    where SQLite's own busy handler would make them sleep and poll for its lock.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle: IO[bytes] | None = None

    def __enter__(self) -> None:
        self._handle = self._path.open("ab")
        fcntl.flock(self._handle, fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        assert self._handle is not None
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


def _writer_lock(engine: Engine) -> contextlib.AbstractContextManager[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return contextlib.nullcontext()
    return _FileLock(Path(f"{database}-writer.lock"))


class RowInsert:
    """The insert of decision rows, straight to the driver, derived from the table.

    Its columns, and how each value is bound (a UUID, a timestamp in SQLite's format), come
    from the table's own column types; JSON columns receive the text the decider already
    serialised (PostgreSQL casts it to JSONB). Adding a column to the table adds it here.
    """

    def __init__(self, table: Table, dialect: Dialect) -> None:
        mark = "?" if dialect.name == "sqlite" else "%s"
        self.columns = tuple(column.name for column in table.columns)
        marks = []
        self._converters: list[Callable[[Any], Any] | None] = []
        for column in table.columns:
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


_EVALUATION: Table = EvaluationRecord.__table__  # type: ignore[attr-defined]
