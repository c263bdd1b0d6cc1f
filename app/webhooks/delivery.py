"""Sending the outbox: a worker per process, at least once, signed as Standard Webhooks say.

Each worker claims due deliveries with a lease (`lease_owner`, `lease_until`) in one
UPDATE that only takes rows nobody holds: on PostgreSQL the candidates are read
`FOR UPDATE SKIP LOCKED`, on SQLite the update runs under the database's write lock; either
way two workers, of one replica or several, never hold the same delivery at once. A worker
that dies mid-attempt holds its lease until it runs out, then another sends again: at least
once, never lost. A worker reads before it claims, so that an idle poll takes no lock.

An attempt is signed anew (`webhook-id` is the event's id and stays the same on every
retry; `webhook-timestamp` is the attempt's time). A 2xx delivers it. A 5xx, 408, 429, a
timeout or a connection error is retried after the next delay of the schedule, with
jitter; 410 Gone stops it and disables the subscription; any other answer (a redirect,
which is never followed, or a 4xx) fails it. A delivery whose retries run out fails and
disables its subscription, which keeps its pending deliveries until it is enabled again.
A subscription is sent its deliveries one at a time, oldest first: in order, as long as
none has to wait for a retry.
"""

import asyncio
import base64
import json
import logging
import random
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.engine import Connection
from standardwebhooks import Webhook

from app import __version__
from app.db import utcnow
from app.evaluations.models import EvaluationRecord
from app.monitoring.metrics import WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY_SECONDS
from app.webhooks.models import (
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from app.webhooks.targets import RefusedTarget, check_target_async

logger = logging.getLogger("reflexe.webhooks")

_DELIVERIES = WebhookDelivery.__table__  # type: ignore[attr-defined]
_EVENTS = WebhookEvent.__table__  # type: ignore[attr-defined]
_SUBSCRIPTIONS = WebhookSubscription.__table__  # type: ignore[attr-defined]
_ATTEMPTS = WebhookAttempt.__table__  # type: ignore[attr-defined]
_EVALUATIONS = EvaluationRecord.__table__  # type: ignore[attr-defined]

RETRYABLE = frozenset({408, 429})
GONE = 410
JITTER = 0.2  # each delay is drawn within ±20% of the schedule's
CLAIM = 50  # deliveries a worker takes at a time
MAX_ERROR = 500
WAKE_DELAY = 0.05


def new_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True, slots=True)
class Policy:
    """How deliveries are sent: from the settings."""

    retry_schedule: tuple[float, ...]  # seconds before each retry, after the first attempt
    timeout: float
    allow_private: bool
    public_url: str | None

    @property
    def lease(self) -> timedelta:
        """Long enough for an attempt and its bookkeeping: then another worker may send."""
        return timedelta(seconds=2 * self.timeout + 5)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery a worker holds, with what sending it takes."""

    id: int
    attempts: int
    event_id: uuid.UUID
    event_type: str
    event_at: datetime
    data: dict[str, Any]
    evaluation_id: uuid.UUID | None
    subscription_id: uuid.UUID
    url: str
    secret: str
    include_attributes: bool


@dataclass(frozen=True, slots=True)
class Result:
    """What one attempt came to."""

    status_code: int | None
    error: str | None
    latency_ms: float

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        if self.status_code is None:
            return self.error is not None and not self.error.startswith("refused")
        return self.status_code >= 500 or self.status_code in RETRYABLE


def claim(engine: Engine, owner: str, lease: timedelta, limit: int = CLAIM) -> list[Claimed]:
    """Take up to `limit` due deliveries of enabled subscriptions, oldest first."""
    now = utcnow()
    free = and_(
        _DELIVERIES.c.state == DeliveryState.PENDING.value,
        _DELIVERIES.c.next_attempt_at <= now,
        or_(_DELIVERIES.c.lease_until.is_(None), _DELIVERIES.c.lease_until < now),
    )
    due = (
        select(_DELIVERIES.c.id)
        .join(_SUBSCRIPTIONS, _SUBSCRIPTIONS.c.id == _DELIVERIES.c.subscription_id)
        .where(free, _SUBSCRIPTIONS.c.enabled.is_(True))
        .order_by(_DELIVERIES.c.id)
        .limit(limit)
    )
    with engine.connect() as connection:  # a read first: an idle poll takes no lock
        if connection.execute(due.limit(1)).first() is None:
            return []
    with engine.begin() as connection:
        candidates = due.with_for_update(skip_locked=True, of=_DELIVERIES)
        taken = connection.execute(
            update(_DELIVERIES)
            .where(_DELIVERIES.c.id.in_(candidates.scalar_subquery()), free)
            .values(lease_owner=owner, lease_until=now + lease)
            .returning(_DELIVERIES.c.id)
        ).scalars()
        return _claimed(connection, list(taken))


def held(engine: Engine, delivery_id: int) -> Claimed:
    """A delivery this worker already holds (a test event's, made with its lease)."""
    with engine.connect() as connection:
        return _claimed(connection, [delivery_id])[0]


def _claimed(connection: Connection, ids: list[int]) -> list[Claimed]:
    if not ids:
        return []
    rows = connection.execute(
        select(
            _DELIVERIES.c.id,
            _DELIVERIES.c.attempts,
            _EVENTS.c.id.label("event_id"),
            _EVENTS.c.type,
            _EVENTS.c.created_at,
            _EVENTS.c.data,
            _EVENTS.c.evaluation_id,
            _SUBSCRIPTIONS.c.id.label("subscription_id"),
            _SUBSCRIPTIONS.c.url,
            _SUBSCRIPTIONS.c.secret,
            _SUBSCRIPTIONS.c.include_attributes,
        )
        .join(_EVENTS, _EVENTS.c.id == _DELIVERIES.c.event_id)
        .join(_SUBSCRIPTIONS, _SUBSCRIPTIONS.c.id == _DELIVERIES.c.subscription_id)
        .where(_DELIVERIES.c.id.in_(ids))
        .order_by(_DELIVERIES.c.id)
    )
    return [Claimed(*row) for row in rows]


def payload_of(engine: Engine, delivery: Claimed, public_url: str | None) -> str:
    """The JSON sent: `type`, `timestamp` and `data`, as Standard Webhooks lay it out."""
    data = dict(delivery.data)
    if public_url is not None and "links" in data:
        base = public_url.rstrip("/")
        data["links"] = {name: base + path for name, path in data["links"].items()}
    if delivery.include_attributes and delivery.evaluation_id is not None:
        with engine.connect() as connection:
            stored = connection.execute(
                select(
                    _EVALUATIONS.c.subject_ref,
                    _EVALUATIONS.c.subject_name,
                    _EVALUATIONS.c.attributes,
                ).where(_EVALUATIONS.c.id == delivery.evaluation_id)
            ).first()
        if stored is not None:
            data["subject"] = {"ref": stored.subject_ref, "name": stored.subject_name}
            data["attributes"] = stored.attributes
    return json.dumps(
        {
            "type": delivery.event_type,
            "timestamp": delivery.event_at.isoformat().replace("+00:00", "Z"),
            "data": data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


async def send(
    client: httpx.AsyncClient, delivery: Claimed, body: str, allow_private: bool
) -> Result:
    """One signed attempt: never raises for what the target does."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    msg_id = str(delivery.event_id)
    headers = {
        "content-type": "application/json",
        "user-agent": f"Reflexe-Webhooks/{__version__}",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(delivery.secret).sign(msg_id, now, body),
    }
    try:
        if not allow_private:
            await check_target_async(delivery.url)
        response = await client.post(delivery.url, content=body.encode(), headers=headers)
    except RefusedTarget as exc:
        return Result(None, f"refused: {exc}"[:MAX_ERROR], _since(started))
    except httpx.TimeoutException:
        return Result(None, "timed out", _since(started))
    except httpx.HTTPError as exc:
        return Result(None, f"{exc.__class__.__name__}: {exc}"[:MAX_ERROR], _since(started))
    latency = _since(started)
    if 200 <= response.status_code < 300:
        return Result(response.status_code, None, latency)
    error = f"HTTP {response.status_code}"
    if response.is_redirect:
        error += f": redirect to {response.headers.get('location', '?')} not followed"
    return Result(response.status_code, error[:MAX_ERROR], latency)


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def record(
    engine: Engine, owner: str, delivery: Claimed, result: Result, policy: Policy, *, retry: bool
) -> str:
    """Keep the attempt, and settle the delivery: delivered, retried later, or failed.
    Only while this worker still holds it; its new state."""
    now = utcnow()
    number = delivery.attempts + 1
    delay = (
        policy.retry_schedule[delivery.attempts]
        if delivery.attempts < len(policy.retry_schedule)
        else None
    )
    if result.delivered:
        state, next_at = DeliveryState.DELIVERED, None
    elif retry and result.retryable and delay is not None:
        state = DeliveryState.PENDING
        next_at = now + timedelta(seconds=delay * random.uniform(1 - JITTER, 1 + JITTER))
    else:
        state, next_at = DeliveryState.FAILED, None
    with engine.begin() as connection:
        held = connection.execute(
            update(_DELIVERIES)
            .where(_DELIVERIES.c.id == delivery.id, _DELIVERIES.c.lease_owner == owner)
            .values(
                state=state.value,
                attempts=number,
                next_attempt_at=next_at or now,
                finished_at=None if state is DeliveryState.PENDING else now,
                lease_owner=None,
                lease_until=None,
            )
        ).rowcount
        if not held:  # the lease ran out and another worker took it: its attempt counts
            return state.value
        connection.execute(
            _ATTEMPTS.insert().values(
                delivery_id=delivery.id,
                number=number,
                at=now,
                status_code=result.status_code,
                error=result.error,
                latency_ms=result.latency_ms,
            )
        )
        if retry:
            _settle_subscription(connection, delivery.subscription_id, result, state, now)
    return state.value


def _settle_subscription(
    connection: Connection,
    subscription_id: uuid.UUID,
    result: Result,
    state: DeliveryState,
    now: datetime,
) -> None:
    where = _SUBSCRIPTIONS.c.id == subscription_id
    if result.delivered:
        connection.execute(update(_SUBSCRIPTIONS).where(where).values(last_success_at=now))
        return
    values: dict[str, Any] = {"last_error": result.error, "last_error_at": now}
    if result.status_code == GONE:
        values |= {"enabled": False, "disabled_reason": "the target answered 410 Gone"}
    elif state is DeliveryState.FAILED and result.retryable:
        values |= {
            "enabled": False,
            "disabled_reason": f"a delivery failed every attempt; the last: {result.error}"[
                :MAX_ERROR
            ],
        }
    connection.execute(update(_SUBSCRIPTIONS).where(where).values(**values))


class DeliveryWorker:
    """This process's sender: polls the outbox, and is woken when this process wrote to it."""

    def __init__(self, engine: Engine, write_engine: Engine, policy: Policy, poll: float) -> None:
        self._engine = engine
        self._write_engine = write_engine
        self.policy = policy
        self._poll = poll
        self.owner = f"{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=policy.timeout,
            trust_env=False,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="webhook-delivery")

    def wake(self) -> None:
        """From any thread, as an event is written: there will be something to send once
        its transaction commits, which a moment's delay leaves it time to do (else the
        next poll finds it)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.call_later, WAKE_DELAY, self._wake.set)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.send_due()
            except Exception as exc:  # the database is away: try again at the next poll
                logger.warning("webhook delivery failed: %s", exc.__class__.__name__)
                sent = 0
            if sent:
                continue
            self._wake.clear()
            with anyio.move_on_after(self._poll):
                await self._wake.wait()

    async def send_due(self) -> int:
        """Send one claim's worth of due deliveries; how many were attempted."""
        claimed = await anyio.to_thread.run_sync(
            claim, self._write_engine, self.owner, self.policy.lease
        )
        by_subscription: dict[uuid.UUID, list[Claimed]] = {}
        for delivery in claimed:
            by_subscription.setdefault(delivery.subscription_id, []).append(delivery)
        await asyncio.gather(*(self._send_in_order(queue) for queue in by_subscription.values()))
        return len(claimed)

    async def _send_in_order(self, queue: list[Claimed]) -> None:
        for delivery in queue:
            await self.attempt(delivery, retry=True)

    async def attempt(self, delivery: Claimed, *, retry: bool) -> str:
        """Send a claimed delivery once and record it; its new state."""
        body = await anyio.to_thread.run_sync(
            payload_of, self._engine, delivery, self.policy.public_url
        )
        result = await send(self.client, delivery, body, self.policy.allow_private)
        WEBHOOK_DELIVERY_SECONDS.observe(result.latency_ms / 1000)
        state = await anyio.to_thread.run_sync(
            lambda: record(
                self._write_engine, self.owner, delivery, result, self.policy, retry=retry
            )
        )
        outcome = "delivered" if result.delivered else "retried" if state == "pending" else "failed"
        WEBHOOK_DELIVERIES.labels(delivery.event_type, outcome).inc()
        return state
