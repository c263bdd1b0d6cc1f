"""Sending the outbox: a worker per process, at least once, signed as Standard Webhooks say.

Each worker claims a batch of due deliveries with a lease (`lease_owner`, `lease_until`) in
one UPDATE that only takes rows nobody holds: on PostgreSQL the candidates are read
`FOR UPDATE SKIP LOCKED`, on SQLite the update runs under the database's write lock; either
way two workers, of one replica or several, never hold the same delivery at once. The same
transaction reads what sending takes: the events' payloads (and the attributes of the
decisions whose subscription asks for them), so each body is built once, at the claim. A
worker that dies mid-attempt holds its lease until it runs out, then another sends again:
at least once, never lost. A worker reads before it claims, so that an idle poll takes no
lock, and claims at most every `GATHER` seconds while deliveries trickle in, so that a
stream of decisions is sent in batches rather than one claim each.

An attempt is signed anew (`webhook-id` is the event's id and stays the same on every
retry; `webhook-timestamp` is the attempt's time). A 2xx delivers it. A 5xx, 408, 429, a
timeout or a connection error is retried after the next delay of the schedule, with
jitter; 410 Gone stops it and disables the subscription; any other answer (a redirect,
which is never followed, or a 4xx) fails it. A delivery whose retries run out fails and
disables its subscription, which keeps its pending deliveries until it is enabled again.
The attempts of a batch are recorded, and its deliveries settled, in one transaction.

A subscription is sent up to `Policy.concurrency` deliveries at once, oldest first, over
kept-alive connections; each payload's `sequence` (the delivery's id, increasing in the
order events were written for it) lets a receiver put them back in order. With a
concurrency of 1 they go one at a time, in order as long as none waits for a retry. A
target that does not answer is not sent the rest of its batch: those deliveries are
released untried, due when the failed one is retried; nor is an attempt started once a
batch has run `Policy.timeout` seconds, so that a batch ends within its lease.
"""

import asyncio
import base64
import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import Engine, and_, bindparam, or_, select, update
from sqlalchemy.engine import Connection
from standardwebhooks import Webhook

from app import __version__
from app.db import utcnow
from app.evaluations.models import EvaluationRecord
from app.monitoring.metrics import WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY_SECONDS
from app.settings import Settings
from app.webhooks.models import (
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from app.webhooks.sender import Sender, TimedOut, Unanswered
from app.webhooks.targets import RefusedTarget, TargetChecks

logger = logging.getLogger("reflexe.webhooks")

_DELIVERIES = WebhookDelivery.__table__  # type: ignore[attr-defined]
_EVENTS = WebhookEvent.__table__  # type: ignore[attr-defined]
_SUBSCRIPTIONS = WebhookSubscription.__table__  # type: ignore[attr-defined]
_ATTEMPTS = WebhookAttempt.__table__  # type: ignore[attr-defined]
_EVALUATIONS = EvaluationRecord.__table__  # type: ignore[attr-defined]

RETRYABLE = frozenset({408, 429})
GONE = 410
JITTER = 0.2  # each delay is drawn within ±20% of the schedule's
CLAIM = 200  # deliveries a worker takes at a time
MAX_ERROR = 500
WAKE_DELAY = 0.05  # after an event is written, for its transaction to commit
GATHER = 0.2  # the least time between two claims, unless the last one was full
USER_AGENT = f"Reflexe-Webhooks/{__version__}"


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
    concurrency: int = 4  # deliveries of one subscription in flight at once, per worker

    @classmethod
    def of(cls, settings: Settings) -> "Policy":
        return cls(
            retry_schedule=tuple(settings.webhook_retry_schedule),
            timeout=settings.webhook_timeout_seconds,
            allow_private=settings.webhook_allow_private_targets,
            public_url=settings.public_url,
            concurrency=settings.webhook_concurrency,
        )

    @property
    def lease(self) -> timedelta:
        """Long enough for a batch and its bookkeeping: then another worker may send.
        A batch starts no attempt after `timeout` seconds, and each lasts `timeout` at most."""
        return timedelta(seconds=2 * self.timeout + 5)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery a worker holds, with what sending it takes."""

    id: int
    attempts: int
    event_id: uuid.UUID
    event_type: str
    subscription_id: uuid.UUID
    url: str
    secret: str
    body: str  # the JSON sent: built once, at the claim


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

    @property
    def unanswered(self) -> bool:
        """A timeout or a connection error: the target is away, not merely refusing."""
        return self.status_code is None and self.retryable


@dataclass(frozen=True, slots=True)
class Tried:
    """A claimed delivery and its attempt; `result` None if it was released untried."""

    delivery: Claimed
    result: Result | None


def claim(
    engine: Engine,
    owner: str,
    lease: timedelta,
    public_url: str | None,
    limit: int = CLAIM,
    *,
    look_first: bool = True,
) -> list[Claimed]:
    """Take up to `limit` due deliveries of enabled subscriptions, oldest first, with
    their bodies. `look_first`: read before taking the write lock (for an idle poll)."""
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
    if look_first:
        with engine.connect() as connection:
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
        return _claimed(connection, list(taken), public_url)


def held(engine: Engine, delivery_id: int, public_url: str | None) -> Claimed:
    """A delivery this worker already holds (a test event's, made with its lease)."""
    with engine.connect() as connection:
        return _claimed(connection, [delivery_id], public_url)[0]


_CLAIMED = (
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
    .where(_DELIVERIES.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_DELIVERIES.c.id)
)
_SUBJECTS = select(
    _EVALUATIONS.c.id,
    _EVALUATIONS.c.subject_ref,
    _EVALUATIONS.c.subject_name,
    _EVALUATIONS.c.attributes,
).where(_EVALUATIONS.c.id.in_(bindparam("ids", expanding=True)))


def _claimed(connection: Connection, ids: list[int], public_url: str | None) -> list[Claimed]:
    if not ids:
        return []
    rows = list(connection.execute(_CLAIMED, {"ids": ids}))
    asked = [row.evaluation_id for row in rows if row.include_attributes and row.evaluation_id]
    subjects = (
        {found.id: found for found in connection.execute(_SUBJECTS, {"ids": asked})}
        if asked
        else {}
    )
    return [
        Claimed(
            row.id,
            row.attempts,
            row.event_id,
            row.type,
            row.subscription_id,
            row.url,
            row.secret,
            body_of(row, subjects.get(row.evaluation_id), public_url),
        )
        for row in rows
    ]


def body_of(row: Any, subject: Any, public_url: str | None) -> str:
    """The JSON sent: `type`, `timestamp` and `data`, as Standard Webhooks lay it out, and
    `sequence`, which orders a subscription's deliveries."""
    data = row.data
    if public_url is not None and "links" in data:
        base = public_url.rstrip("/")
        data = {**data, "links": {name: base + path for name, path in data["links"].items()}}
    if subject is not None:
        data = {
            **data,
            "subject": {"ref": subject.subject_ref, "name": subject.subject_name},
            "attributes": subject.attributes,
        }
    return json.dumps(
        {
            "type": row.type,
            "timestamp": row.created_at.isoformat().replace("+00:00", "Z"),
            "sequence": row.id,
            "data": data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


async def send(sender: Sender, delivery: Claimed, targets: TargetChecks | None) -> Result:
    """One signed attempt: never raises for what the target does. `targets`: check the
    target first (None when private targets are allowed)."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    msg_id = str(delivery.event_id)
    headers = [
        ("content-type", "application/json"),
        ("user-agent", USER_AGENT),
        ("webhook-id", msg_id),
        ("webhook-timestamp", str(int(now.timestamp()))),
        ("webhook-signature", Webhook(delivery.secret).sign(msg_id, now, delivery.body)),
    ]
    try:
        if targets is not None:
            await targets.check(delivery.url)
        answer = await sender.post(delivery.url, delivery.body.encode(), headers)
    except RefusedTarget as exc:
        return Result(None, f"refused: {exc}"[:MAX_ERROR], _since(started))
    except TimedOut:
        return Result(None, "timed out", _since(started))
    except Unanswered as exc:
        return Result(None, str(exc)[:MAX_ERROR], _since(started))
    latency = _since(started)
    if 200 <= answer.status_code < 300:
        return Result(answer.status_code, None, latency)
    error = f"HTTP {answer.status_code}"
    if 300 <= answer.status_code < 400 and answer.location is not None:
        error += f": redirect to {answer.location} not followed"
    return Result(answer.status_code, error[:MAX_ERROR], latency)


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


@dataclass(frozen=True, slots=True)
class _Settled:
    """A delivery's new state, as `settle` writes it."""

    tried: Tried
    state: DeliveryState
    next_at: datetime


_HELD = select(_DELIVERIES.c.id).where(
    _DELIVERIES.c.id.in_(bindparam("ids", expanding=True)),
    _DELIVERIES.c.lease_owner == bindparam("owner"),
)
_SETTLE = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        state=bindparam("b_state"),
        attempts=_DELIVERIES.c.attempts + 1,
        next_attempt_at=bindparam("b_next"),
        finished_at=bindparam("b_finished"),
        lease_owner=None,
        lease_until=None,
    )
)
_RELEASE = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id.in_(bindparam("ids", expanding=True)))
    .values(next_attempt_at=bindparam("b_next"), lease_owner=None, lease_until=None)
)


def settle(
    engine: Engine, owner: str, batch: Sequence[Tried], policy: Policy, *, retry: bool
) -> dict[int, str]:
    """Keep a batch's attempts and settle its deliveries (delivered, retried later, or
    failed; released if untried), in one transaction, those this worker still holds: each
    one's new state."""
    now = utcnow()
    settled = _states(batch, policy, now, retry=retry)
    ids = [tried.delivery.id for tried in batch]
    with engine.begin() as connection:
        # Locked on PostgreSQL until the commit; SQLite's lock is the transaction's.
        mine = set(
            connection.execute(_HELD.with_for_update(), {"ids": ids, "owner": owner}).scalars()
        )
        # A lease that ran out while this worker sent: the worker that took it counts.
        kept = [found for found in settled if found.tried.delivery.id in mine]
        attempted = [found for found in kept if found.tried.result is not None]
        released = [found for found in kept if found.tried.result is None]
        # One UPDATE for each new state: a batch delivered at once is one statement.
        groups: dict[tuple[str, datetime, datetime | None], list[int]] = {}
        for found in attempted:
            finished = None if found.state is DeliveryState.PENDING else now
            key = (found.state.value, found.next_at, finished)
            groups.setdefault(key, []).append(found.tried.delivery.id)
        for (state, next_at, finished), group in groups.items():
            connection.execute(
                _SETTLE, {"ids": group, "b_state": state, "b_next": next_at, "b_finished": finished}
            )
        if attempted:
            connection.execute(
                _ATTEMPTS.insert(),
                [
                    {
                        "delivery_id": found.tried.delivery.id,
                        "number": found.tried.delivery.attempts + 1,
                        "at": now,
                        "status_code": result.status_code,
                        "error": result.error,
                        "latency_ms": result.latency_ms,
                    }
                    for found in attempted
                    if (result := found.tried.result) is not None
                ],
            )
            if retry:
                _settle_subscriptions(connection, attempted, now)
        waiting: dict[datetime, list[int]] = {}
        for found in released:
            waiting.setdefault(found.next_at, []).append(found.tried.delivery.id)
        for next_at, group in waiting.items():
            connection.execute(_RELEASE, {"ids": group, "b_next": next_at})
    return {found.tried.delivery.id: found.state.value for found in settled}


def _states(
    batch: Sequence[Tried], policy: Policy, now: datetime, *, retry: bool
) -> list[_Settled]:
    settled: list[_Settled] = []
    postponed: dict[uuid.UUID, datetime] = {}  # a subscription whose target did not answer
    for tried in batch:
        delivery, result = tried.delivery, tried.result
        if result is None:
            continue
        schedule = policy.retry_schedule
        delay = schedule[delivery.attempts] if delivery.attempts < len(schedule) else None
        if result.delivered:
            state, next_at = DeliveryState.DELIVERED, now
        elif retry and result.retryable and delay is not None:
            state = DeliveryState.PENDING
            next_at = now + timedelta(seconds=delay * random.uniform(1 - JITTER, 1 + JITTER))
        else:
            state, next_at = DeliveryState.FAILED, now
        if result.unanswered:
            postponed[delivery.subscription_id] = max(
                next_at, postponed.get(delivery.subscription_id, now)
            )
        settled.append(_Settled(tried, state, next_at))
    settled.extend(
        _Settled(tried, DeliveryState.PENDING, postponed.get(tried.delivery.subscription_id, now))
        for tried in batch
        if tried.result is None
    )
    return settled


def _settle_subscriptions(
    connection: Connection, attempted: Sequence[_Settled], now: datetime
) -> None:
    """Each subscription's last success, last error and whether it is disabled, after the
    batch's attempts, in their order: one UPDATE each."""
    changes: dict[uuid.UUID, dict[str, Any]] = {}
    for found in attempted:
        result = found.tried.result
        assert result is not None
        values = changes.setdefault(found.tried.delivery.subscription_id, {})
        if result.delivered:
            values["last_success_at"] = now
            continue
        values |= {"last_error": result.error, "last_error_at": now}
        if "enabled" in values:
            continue
        if result.status_code == GONE:
            values |= {"enabled": False, "disabled_reason": "the target answered 410 Gone"}
        elif found.state is DeliveryState.FAILED and result.retryable:
            reason = f"a delivery failed every attempt; the last: {result.error}"
            values |= {"enabled": False, "disabled_reason": reason[:MAX_ERROR]}
    for subscription_id, values in changes.items():
        connection.execute(
            update(_SUBSCRIPTIONS).where(_SUBSCRIPTIONS.c.id == subscription_id).values(**values)
        )


class DeliveryWorker:
    """This process's sender: polls the outbox, and is woken when this process wrote to it."""

    def __init__(self, engine: Engine, write_engine: Engine, policy: Policy, poll: float) -> None:
        self._engine = engine
        self._write_engine = write_engine
        self.policy = policy
        self._poll = poll
        self.owner = f"{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._waking = False  # a wake is on its way: the next ones add nothing
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.sender = Sender(policy.timeout, keep=max(8, policy.concurrency))
        self._targets = None if policy.allow_private else TargetChecks()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="webhook-delivery")

    def wake(self) -> None:
        """From any thread, as an event is written: there will be something to send once
        its transaction commits, which a moment's delay leaves it time to do (else the
        next poll finds it). Wakes already on their way are not repeated."""
        loop = self._loop
        if self._waking or loop is None or loop.is_closed():
            return
        self._waking = True
        loop.call_soon_threadsafe(loop.call_later, WAKE_DELAY, self._woken)

    def _woken(self) -> None:
        self._waking = False
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.sender.close()

    async def _run(self) -> None:
        full = False
        while True:
            started = time.monotonic()
            try:
                sent = await self.send_due(look_first=not full)
            except Exception as exc:  # the database is away: try again at the next poll
                logger.warning("webhook delivery failed: %s", exc.__class__.__name__)
                sent = 0
            full = sent >= CLAIM
            if full:
                continue
            self._wake.clear()
            if sent:  # more is coming: let it gather rather than claim each one alone
                await asyncio.sleep(max(0.0, started + GATHER - time.monotonic()))
                continue
            with anyio.move_on_after(self._poll):
                await self._wake.wait()

    async def send_due(self, *, look_first: bool = True) -> int:
        """Send one claim's worth of due deliveries; how many were claimed."""
        claimed = await anyio.to_thread.run_sync(
            lambda: claim(
                self._write_engine,
                self.owner,
                self.policy.lease,
                self.policy.public_url,
                look_first=look_first,
            )
        )
        if not claimed:
            return 0
        by_subscription: dict[uuid.UUID, list[Claimed]] = {}
        for delivery in claimed:
            by_subscription.setdefault(delivery.subscription_id, []).append(delivery)
        deadline = time.monotonic() + self.policy.timeout
        sent = await asyncio.gather(
            *(self._send_queue(queue, deadline) for queue in by_subscription.values())
        )
        await self._settle([tried for queue in sent for tried in queue], retry=True)
        return len(claimed)

    async def _send_queue(self, queue: list[Claimed], deadline: float) -> list[Tried]:
        """A subscription's deliveries, `concurrency` at a time, oldest first; none started
        once its target failed to answer, or past the deadline."""
        results: list[Result | None] = [None] * len(queue)
        gate = asyncio.Semaphore(self.policy.concurrency)
        away = False

        async def one(index: int) -> None:
            nonlocal away
            async with gate:
                if away or time.monotonic() > deadline:
                    return
                result = await send(self.sender, queue[index], self._targets)
                results[index] = result
                away = away or result.unanswered

        if len(queue) == 1 or self.policy.concurrency == 1:
            for index in range(len(queue)):
                await one(index)
        else:
            await asyncio.gather(*(one(index) for index in range(len(queue))))
        return [Tried(delivery, result) for delivery, result in zip(queue, results, strict=True)]

    async def attempt(self, delivery: Claimed, *, retry: bool) -> str:
        """Send a claimed delivery once and record it; its new state."""
        result = await send(self.sender, delivery, self._targets)
        states = await self._settle([Tried(delivery, result)], retry=retry)
        return states[delivery.id]

    async def _settle(self, batch: list[Tried], *, retry: bool) -> dict[int, str]:
        states = await anyio.to_thread.run_sync(
            lambda: settle(self._write_engine, self.owner, batch, self.policy, retry=retry)
        )
        for tried in batch:
            result = tried.result
            if result is None:
                continue
            WEBHOOK_DELIVERY_SECONDS.observe(result.latency_ms / 1000)
            state = states[tried.delivery.id]
            outcome = (
                "delivered" if result.delivered else "retried" if state == "pending" else "failed"
            )
            WEBHOOK_DELIVERIES.labels(tried.delivery.event_type, outcome).inc()
        return states
