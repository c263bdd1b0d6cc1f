"""Retention: decisions older than their set's `retention_days` (else REFLEXE_RETENTION_DAYS)
are removed with everything hanging off them, as an erasure removes them.

The purge works in chunks of at most REFLEXE_PURGE_CHUNK decisions, one short transaction
each, oldest first, and pauses between them: on SQLite the decision writer takes the write
lock between two chunks, so evaluations wait at most one chunk. A dry run counts, chunk by
chunk too, and removes nothing. Each purge is recorded (app.subjects.models.Removal).

The service runs it once a day (`run_scheduled`, from the housekeeping task): a lease row
lets one process of all the workers and replicas take each day's run.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.criteria import repository as criteria_repository
from app.db import utcnow
from app.evaluations import repository as evaluations
from app.settings import Settings
from app.subjects import lease, removal
from app.subjects.models import RemovalCounts, RemovalKind, RemovalSource
from app.subjects.service import record_removal

logger = logging.getLogger("reflexe")
PURGE_LEASE = "purge"
PURGE_EVERY = timedelta(days=1)
PAUSE_SECONDS = 0.01  # between chunks: the writer's turn


class PurgeReport(BaseModel):
    dry_run: bool = Field(description="Whether it only counted.")
    counts: RemovalCounts = Field(description="Removed (or, on a dry run, to remove).")
    sets: dict[str, RemovalCounts] = Field(description="The same, per set with a retention.")
    chunks: int = Field(description="Transactions (a dry run's: reads).")
    largest_chunk: int = Field(description="The most decisions one chunk held.")
    record_id: uuid.UUID | None = Field(description="The purge's record; null on a dry run.")
    interrupted: bool = Field(default=False, description="Whether the process stopped it.")


@dataclass(frozen=True, slots=True)
class Retention:
    slug: str
    days: int

    def cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.days)


def retentions(engine: Engine, settings: Settings) -> list[Retention]:
    """The sets whose decisions expire, and after how many days."""
    with engine.connect() as connection:
        found = criteria_repository.retentions(connection)
    default = settings.retention_days
    expiring = [(slug, days if days is not None else default) for slug, days in found]
    return [Retention(slug, days) for slug, days in expiring if days is not None]


def purge(
    engine: Engine,
    settings: Settings,
    *,
    dry_run: bool,
    source: RemovalSource,
    now: datetime | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> PurgeReport:
    """Remove (or count) the decisions past their retention, in chunks; record the purge.
    Once `stopping` says so (the process stops), it ends after the chunk under way."""
    now = now or utcnow()
    chunk = settings.purge_chunk
    expiring = retentions(engine, settings)
    sets: dict[str, RemovalCounts] = {}
    chunks: list[int] = []
    for retention in expiring:
        expired = evaluations.older_than(retention.slug, retention.cutoff(now))
        counts, after = RemovalCounts(), None
        while not stopping():
            with engine.begin() as connection:
                doomed = evaluations.doomed_of(connection, expired, chunk, after=after)
                if doomed is None:
                    break
                tally = removal.count if dry_run else removal.remove
                counts = counts.plus(tally(connection, doomed))
            chunks.append(len(doomed.ids))
            after = doomed
            time.sleep(PAUSE_SECONDS)
        sets[retention.slug] = counts
    total = RemovalCounts()
    for counts in sets.values():
        total = total.plus(counts)
    record_id = None
    if not dry_run and expiring:
        with engine.begin() as connection:
            done = record_removal(
                connection, RemovalKind.PURGE, source, None, total, sets=sets, chunks=chunks
            )
        record_id = done.id
    return PurgeReport(
        dry_run=dry_run,
        counts=total,
        sets=sets,
        chunks=len(chunks),
        largest_chunk=max(chunks, default=0),
        record_id=record_id,
        interrupted=stopping(),
    )


def run_scheduled(
    engine: Engine,
    settings: Settings,
    holder: str,
    stopping: Callable[[], bool] = lambda: False,
) -> PurgeReport | None:
    """The day's purge, if this process takes the day's lease; None if another has it."""
    if not lease.claim(engine, PURGE_LEASE, holder, PURGE_EVERY):
        return None
    try:
        report = purge(
            engine, settings, dry_run=False, source=RemovalSource.SCHEDULE, stopping=stopping
        )
    except SQLAlchemyError:
        # Another process may try at its next round, rather than tomorrow.
        lease.release(engine, PURGE_LEASE, holder)
        raise
    if report.interrupted:  # this process stops: another finishes the day's purge
        lease.release(engine, PURGE_LEASE, holder)
    if report.chunks:
        logger.info(
            "purge removed %d decisions in %d chunks", report.counts.decisions, report.chunks
        )
    return report
