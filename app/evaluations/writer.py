"""The decision writer: one task per process that stores decisions in grouped transactions.

Requests hand their decisions over as units (one decision, or a whole batch) and wait.
The writer takes every unit queued, stores them in one transaction in a worker thread,
commits, and only then wakes each request: nothing is acknowledged before its commit, and
a failed commit is reported to every request of the group. Under load the groups grow by
themselves; alone, a unit is written at once.

Each unit is told what became of it:
- `Stored`: its decisions are committed;
- `Stale`: a criteria version it was decided with is no longer current (another process
  replaced or archived the set; the writer re-reads the sets' state in each transaction),
  so nothing was stored and the request decides again;
- `Answered`: one of its steps answered instead (an idempotency key that already held an
  answer), and nothing of it was stored;
- `Refused`: one of its steps refused it (a ReflexeError), and nothing of it was stored.

A step is work that must commit with a unit's decisions, or not at all: it runs in the
transaction, in order, before the unit's rows are inserted and after the rows of the units
before it (`Step`): linking each decision to its subject's previous one, keeping the answer
under an idempotency key.
"""

import asyncio
import contextlib
import fcntl
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import anyio
from sqlalchemy import Connection, Engine, Table
from sqlalchemy.exc import DBAPIError

from app.criteria.registry import CriteriaRegistry, ResolvedCriteria, read_states
from app.db import RowInsert, begin_immediately
from app.errors import ReflexeError, ServiceUnavailable
from app.evaluations.models import EvaluationRecord
from app.monitoring.metrics import WriterMetrics

logger = logging.getLogger(__name__)


class Step(Protocol):
    """Work that commits with a unit's decisions, or not at all."""

    def run(self, connection: Connection) -> Any | None:
        """In the writer's transaction, before the unit's rows: None to let the unit be
        stored, or what to answer instead (then nothing of the unit is stored). May raise
        a ReflexeError to refuse the unit alone. A step that answers or refuses has
        written nothing."""


@dataclass(frozen=True, slots=True)
class Stored:
    """The unit's decisions, and what its steps wrote, are committed."""


@dataclass(frozen=True, slots=True)
class Stale:
    """A version the unit was decided with is no longer current; nothing was stored."""


@dataclass(frozen=True, slots=True)
class Answered:
    """A step answered instead; nothing of the unit was stored."""

    answer: Any


@dataclass(frozen=True, slots=True)
class Refused:
    """A step refused the unit; nothing of it was stored."""

    error: ReflexeError


WriteOutcome = Stored | Stale | Answered | Refused


@dataclass(eq=False)
class WriteUnit:
    """Decisions that are stored together or not at all, with the steps that go with them."""

    checks: Sequence[ResolvedCriteria]
    rows: Sequence[dict[str, Any]]
    steps: Sequence[Step] = ()
    done: asyncio.Future[WriteOutcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class DecisionWriter:
    def __init__(
        self,
        engine: Engine,
        registry: CriteriaRegistry,
        max_rows: int = 5000,
        metrics: WriterMetrics | None = None,
    ) -> None:
        self._engine = begin_immediately(engine)
        self._metrics = metrics or WriterMetrics()
        self._registry = registry
        self._max_rows = max_rows
        self._queue: asyncio.Queue[WriteUnit | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._insert = RowInsert(_EVALUATION, engine.dialect)
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
        steps: Sequence[Step] = (),
    ) -> WriteOutcome:
        """Store `rows` with `steps` if every version in `checks` is still current."""
        if self._task is None or self._task.done():
            raise ServiceUnavailable("The service is stopping; retry.")
        unit = WriteUnit(checks, rows, steps)
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
            self._metrics.waiting(len(units) + self._queue.qsize())
            try:
                outcomes = await anyio.to_thread.run_sync(self._write, units)
            except Exception as exc:
                self._metrics.failed()
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
                for unit, outcome in zip(units, outcomes, strict=True):
                    if not unit.done.done():
                        unit.done.set_result(outcome)
            self._metrics.waiting(self._queue.qsize())
        while not self._queue.empty():  # arrived after stop(): refuse rather than strand
            late = self._queue.get_nowait()
            if late is not None and not late.done.done():
                late.done.set_exception(ServiceUnavailable("The service is stopping; retry."))

    def _write(self, units: list[WriteUnit]) -> list[WriteOutcome]:
        with self._lock, self._engine.connect() as connection:
            began = time.perf_counter()
            states = read_states(connection)
            self._registry.apply(states.values())
            # Straight to the driver: the values are ready, JSON included.
            driver = connection.connection.driver_connection
            assert driver is not None
            cursor = driver.cursor()
            outcomes = []
            for unit in units:
                outcome = self._settle(connection, unit, states)
                if isinstance(outcome, Stored) and unit.rows:
                    # Inserted before the next unit's steps run: they see these rows.
                    cursor.executemany(self._insert.sql, list(map(self._insert.params, unit.rows)))
                outcomes.append(outcome)
            cursor.close()
            connection.commit()
        self._metrics.committed(
            time.perf_counter() - began,
            (u.rows for u, o in zip(units, outcomes, strict=True) if isinstance(o, Stored)),
        )
        return outcomes

    @staticmethod
    def _settle(connection: Connection, unit: WriteUnit, states: Any) -> WriteOutcome:
        """Whether the unit is stored: its versions are current, no step answers instead."""
        if not all(check.is_current(states) for check in unit.checks):
            return Stale()
        for step in unit.steps:
            try:
                answer = step.run(connection)
            except ReflexeError as error:
                return Refused(error)
            if answer is not None:
                return Answered(answer)
        return Stored()


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


_EVALUATION: Table = EvaluationRecord.__table__  # type: ignore[attr-defined]
