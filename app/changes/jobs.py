"""Impact reports too large to wait for: a job row, worked in a background thread.

Each process runs its jobs one at a time, in one thread of its own, so that a replay never
holds more than one of the machine's cores away from the requests. A job's row says how far
it got; one whose heartbeat stops (its process died) reads as failed, to be asked again.
"""

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update
from sqlmodel import Session

from app.changes import impact
from app.changes.models import ImpactJob, ImpactJobPublic, ImpactReport, ImpactRequest, JobStatus
from app.db import utcnow
from app.errors import NotFound
from app.forgetting import Doomed, Kind

logger = logging.getLogger("reflexe")
STALE_RUNNING = timedelta(seconds=60)  # a running job's heartbeat moves every few seconds
STALE_QUEUED = timedelta(hours=1)
KEPT = timedelta(days=7)  # a job, once created: then housekeeping forgets it
_JOBS = ImpactJob.__table__  # type: ignore[attr-defined]


class ImpactJobs:
    """This process's background replays, one at a time."""

    def __init__(self, engine: Engine, write_engine: Engine) -> None:
        self._engine = engine
        self._write_engine = write_engine
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="impact")

    def submit(
        self,
        candidate: impact.Candidate,
        request: ImpactRequest,
        total: int,
        api_key_id: str | None,
    ) -> ImpactJob:
        """Store the job, then queue its work: blocking, run in a thread."""
        job = ImpactJob(
            criteria_set_slug=candidate.slug,
            status=JobStatus.QUEUED.value,
            request=request.model_dump(mode="json"),
            total=total,
            api_key_id=api_key_id,
        )
        with Session(self._write_engine, expire_on_commit=False) as session:
            session.add(job)
            session.commit()
        self._pool.submit(self._work, job.id, candidate, request)
        return job

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _work(self, job_id: uuid.UUID, candidate: impact.Candidate, request: ImpactRequest) -> None:
        self._set(job_id, status=JobStatus.RUNNING.value)
        try:
            report = impact.run(
                self._engine,
                candidate,
                request,
                progress=lambda compared: self._set(job_id, compared=compared),
            )
        except Exception as exc:  # recorded on the job, which the caller polls
            logger.exception("impact job %s failed", job_id)
            self._set(
                job_id,
                status=JobStatus.FAILED.value,
                error=f"the replay failed ({exc.__class__.__name__}); ask again",
                finished_at=utcnow(),
            )
            return
        self._set(
            job_id,
            status=JobStatus.DONE.value,
            compared=report.compared + report.not_replayed,
            report=report.model_dump(mode="json"),
            finished_at=utcnow(),
        )

    def _set(self, job_id: uuid.UUID, **values: object) -> None:
        with self._write_engine.begin() as connection:
            connection.execute(
                update(_JOBS).where(_JOBS.c.id == job_id).values(heartbeat_at=utcnow(), **values)
            )


def purge(engine: Engine) -> int:
    """Delete the jobs older than `KEPT`, reports included; how many."""
    with engine.begin() as connection:
        done = connection.execute(delete(_JOBS).where(_JOBS.c.created_at < utcnow() - KEPT))
    return done.rowcount


def get_job(session: Session, slug: str, job_id: uuid.UUID) -> ImpactJobPublic:
    """The job as it stands; 404 if the set has no such job."""
    job = session.get(ImpactJob, job_id)
    if job is None or job.criteria_set_slug != slug:
        raise NotFound(f"Criteria set '{slug}' has no impact job '{job_id}'.")
    status, error = JobStatus(job.status), job.error
    silent = utcnow() - job.heartbeat_at
    if (status is JobStatus.RUNNING and silent > STALE_RUNNING) or (
        status is JobStatus.QUEUED and silent > STALE_QUEUED
    ):
        status, error = JobStatus.FAILED, "the process working on it stopped; ask again"
    report = None if job.report is None else ImpactReport.model_validate(job.report)
    return public(job).model_copy(update={"status": status, "error": error, "report": report})


def public(job: ImpactJob) -> ImpactJobPublic:
    """The job as its row says, without its report."""
    return ImpactJobPublic(
        id=job.id,
        slug=job.criteria_set_slug,
        status=JobStatus(job.status),
        total=job.total,
        compared=job.compared,
        created_at=job.created_at,
        finished_at=job.finished_at,
        error=job.error,
        report=None,
    )


class _Samples(Kind):
    """What removing decisions removes of impact jobs (app.forgetting): the entries of their
    reports' samples that name a removed decision (an id, its outcomes, the criteria that
    flipped). The counts stay: they count decisions, and name none."""

    def __init__(self) -> None:
        super().__init__("impact_samples", _JOBS, lambda _: _JOBS.c.report.is_not(None))

    def _naming(self, connection: Connection, doomed: Doomed) -> list[tuple[Any, Any, int]]:
        ids = {str(evaluation_id) for evaluation_id in doomed.ids}
        found = []
        for row in connection.execute(select(_JOBS.c.id, _JOBS.c.report).where(self.where(doomed))):
            if not isinstance(row.report, dict):  # a JSON null: no report yet
                continue
            sample = row.report.get("sample") or []
            kept = [entry for entry in sample if entry.get("id") not in ids]
            if len(kept) < len(sample):
                found.append((row.id, {**row.report, "sample": kept}, len(sample) - len(kept)))
        return found

    def count(self, connection: Connection, doomed: Doomed) -> int:
        return sum(removed for _, _, removed in self._naming(connection, doomed))

    def remove(self, connection: Connection, doomed: Doomed) -> int:
        naming = self._naming(connection, doomed)
        for job_id, report, _ in naming:
            connection.execute(update(_JOBS).where(_JOBS.c.id == job_id).values(report=report))
        return sum(removed for _, _, removed in naming)


FORGOTTEN = (_Samples(),)
