"""What the service builds at start-up, as one typed object, and the one way to read it.

`Runtime.start` migrates (when asked), checks that the configuration protects the API,
and builds each process's components: the database engines, the key guard, the criteria
registry, the decision writer, the evaluator, the batch slots, the webhook delivery
worker, and a housekeeping task
(expired idempotency keys and impact jobs, the daily retention purge). The application's
lifespan keeps the result; routes, dependencies and middleware read it with `runtime_of`.
"""

import asyncio
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass

import anyio
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.applications import Starlette

from app.auth import service as auth_service
from app.auth.guard import KeyGuard
from app.changes import jobs as impact_jobs
from app.changes.jobs import ImpactJobs
from app.criteria.freshness import Freshness
from app.criteria.registry import CriteriaRegistry
from app.db import begin_immediately, create_db_engine
from app.evaluations.admission import BatchSlots
from app.evaluations.deciding import Budget
from app.evaluations.service import CPU_THREADS, Evaluator
from app.evaluations.writer import DecisionWriter
from app.idempotency import service as idempotency
from app.migrate import prepare_database
from app.monitoring import exposition
from app.monitoring.metrics import NoWriterMetrics, WriterMetrics
from app.monitoring.pool import unwatch_pool, watch_pool
from app.privacy import SubjectKeys
from app.reviews.queue import Enqueue
from app.settings import Settings
from app.subjects import retention
from app.webhooks.delivery import DeliveryWorker, Policy
from app.webhooks.outbox import Outbox

logger = logging.getLogger("reflexe")
HOUSEKEEPING_SECONDS = 600


class StartupRefused(RuntimeError):
    """The configuration would expose the service unprotected, or cannot protect it."""


DEV_MODE_WARNING = """
**********************************************************************************
* REFLEXE IS RUNNING IN LOCAL DEVELOPMENT MODE (REFLEXE_DEV_MODE=true).
* Any request without an API key from this machine acts as ADMIN.
* Never expose this server. For any other use: set REFLEXE_SECRET_KEY, create a
* key with `reflexe keys create --role admin --name <name>`, drop development mode.
**********************************************************************************"""


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    engine: Engine  # reads, and the writer's own transactions
    write_engine: Engine  # a session's writes: SQLite takes its lock at BEGIN
    secret: bytes | None  # of the API keys' hash; None in development mode without one
    subject_keys: SubjectKeys  # a subject's ref as its keyed hash (app.privacy)
    guard: KeyGuard
    registry: CriteriaRegistry
    writer: DecisionWriter
    evaluator: Evaluator
    batch_slots: BatchSlots
    impact_jobs: ImpactJobs
    webhooks: DeliveryWorker
    housekeeping: "asyncio.Task[None]"
    stopping: threading.Event  # set by stop(): a purge under way ends after its chunk
    metrics_token: bytes | None  # a scraper's bearer token for GET /metrics

    @classmethod
    async def start(cls, settings: Settings) -> "Runtime":
        """Build the components of this process; StartupRefused for an unsafe configuration."""
        if settings.migrate_on_start:
            await anyio.to_thread.run_sync(prepare_database, settings)
        engine = create_db_engine(settings)
        try:
            secret = await anyio.to_thread.run_sync(check_security, settings, engine)
        except StartupRefused:
            engine.dispose()
            raise
        registry = CriteriaRegistry(engine)
        metrics = settings.metrics_enabled
        writer = DecisionWriter(
            engine, registry, metrics=WriterMetrics() if metrics else NoWriterMetrics()
        )
        if metrics:
            watch_pool(engine)
        write_engine = begin_immediately(engine)
        webhooks = DeliveryWorker(
            engine, write_engine, Policy.of(settings), poll=settings.webhook_poll_seconds
        )
        outbox = Outbox(written=webhooks.wake)
        subject_keys = SubjectKeys.from_settings(settings)
        stopping = threading.Event()
        runtime = cls(
            settings=settings,
            engine=engine,
            write_engine=write_engine,
            secret=secret,
            subject_keys=subject_keys,
            guard=KeyGuard(
                engine,
                secret,
                dev_mode=settings.dev_mode,
                cache_seconds=settings.key_cache_seconds,
                rate_limit=settings.rate_limit,
                rate_limit_storage=settings.rate_limit_storage,
                auth_failure_limit=settings.auth_failure_limit,
            ),
            registry=registry,
            writer=writer,
            evaluator=Evaluator(
                registry,
                writer,
                Budget(settings.max_evaluation_cost, settings.max_request_cost),
                anyio.CapacityLimiter(CPU_THREADS),
                Freshness(registry),
                subject_keys,
                stored_steps=(Enqueue, outbox.step),
            ),
            batch_slots=BatchSlots(settings.max_concurrent_batches),
            impact_jobs=ImpactJobs(engine, write_engine),
            webhooks=webhooks,
            housekeeping=asyncio.create_task(
                _keep_house(write_engine, settings, stopping), name="housekeeping"
            ),
            stopping=stopping,
            metrics_token=(
                settings.metrics_token.get_secret_value().encode()
                if settings.metrics_token is not None and metrics
                else None
            ),
        )
        writer.start()
        if settings.webhook_workers:
            webhooks.start()
        return runtime

    async def stop(self) -> None:
        """Store what is queued, then let go of connections."""
        self.stopping.set()
        self.housekeeping.cancel()
        # A purge under way finishes (its thread cannot be cancelled) before the engine goes.
        await asyncio.gather(self.housekeeping, return_exceptions=True)
        await self.writer.stop()
        await self.webhooks.stop()
        self.impact_jobs.stop()
        self.guard.close()
        unwatch_pool(self.engine)
        self.engine.dispose()
        exposition.process_stopped()


async def _keep_house(engine: Engine, settings: Settings, stopping: threading.Event) -> None:
    """Every `HOUSEKEEPING_SECONDS`: forget the idempotency keys older than a day and the
    impact jobs older than a week; once a day, in one process of all, purge the decisions
    past their retention."""
    holder = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    while True:
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
        try:
            await anyio.to_thread.run_sync(idempotency.purge, engine)
            await anyio.to_thread.run_sync(impact_jobs.purge, engine)
            await anyio.to_thread.run_sync(
                retention.run_scheduled, engine, settings, holder, stopping.is_set
            )
        except SQLAlchemyError as exc:
            logger.warning("housekeeping failed: %s", exc.__class__.__name__)


def runtime_of(app: Starlette) -> Runtime:
    """The runtime the application's lifespan built."""
    runtime: Runtime = app.state.runtime
    return runtime


def check_security(settings: Settings, engine: Engine, *, announce: bool = True) -> bytes | None:
    """The secret of the API keys' hash; refuses a configuration that leaves the API open."""
    try:
        secret = auth_service.secret_of(settings)
    except auth_service.MissingSecret as exc:
        raise StartupRefused(str(exc)) from exc
    if settings.dev_mode:
        if announce:
            logger.warning(DEV_MODE_WARNING)
        return secret
    try:
        with Session(engine) as session:
            has_key = auth_service.has_active_key(session)
    except SQLAlchemyError as exc:
        # Start anyway, answering 503 until the database is back: every request then
        # needs a key that the database knows.
        logger.warning("could not check the API keys at start-up: %s", exc.__class__.__name__)
        return secret
    if not has_key:
        raise StartupRefused(
            "No API key is configured, so nobody could use the service. Create one with "
            "`reflexe keys create --role admin --name <name>`, or run locally with "
            "`reflexe serve --dev` (loopback only)."
        )
    return secret
