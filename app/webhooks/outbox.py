"""The outbox: events written in the transaction of what they tell.

A stored decision's `evaluation.created` events are written by the decision writer's step
(`Publish`), in the transaction that inserts the decision; a verdict's and a published
version's by their services, before they commit. Each event gets a delivery row for every
enabled subscription that wants it, read in that same transaction: so a decision that is
stored has its events, and one that is not (a refused unit, a rolled-back transaction, a
crash before the commit) has none. The delivery workers (webhooks.delivery) send them.

Both inserts go straight to the driver (`RowInsert`), as the decision rows do: with a
subscription to every event, they run once per stored decision.

Payloads are thin: ids, the set and version, the decisions, each criterion's met flag and
links; raw attributes are added at sending time, for the subscriptions that ask for them.
"""

import json
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, select
from sqlalchemy.engine import Dialect
from uuid_utils.compat import uuid7

from app.criteria.models import CriteriaVersion
from app.db import RowInsert, utcnow
from app.forgetting import Counted, Doomed, Kind
from app.webhooks.models import (
    DeliveryState,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

_SUBSCRIPTIONS = WebhookSubscription.__table__  # type: ignore[attr-defined]
_EVENTS = WebhookEvent.__table__  # type: ignore[attr-defined]
_DELIVERIES = WebhookDelivery.__table__  # type: ignore[attr-defined]
_VERSIONS = CriteriaVersion.__table__  # type: ignore[attr-defined]
_MET = {"+": True, "-": False, "?": None}


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: uuid.UUID
    events: frozenset[str]
    criteria_set: str | None
    outcomes: frozenset[str] | None

    def wants(self, event_type: str, slug: str | None, outcome: str | None) -> bool:
        if event_type not in self.events:
            return False
        if self.criteria_set is not None and slug != self.criteria_set:
            return False
        return self.outcomes is None or outcome is None or outcome in self.outcomes


@dataclass(frozen=True, slots=True)
class Event:
    """An event to write: its payload's data, and what subscriptions filter it by."""

    type: EventType
    data: dict[str, Any]
    slug: str | None
    outcome: str | None
    evaluation_id: uuid.UUID | None = None


def subscribers(connection: Connection) -> list[Subscriber]:
    """The enabled subscriptions, as the transaction sees them."""
    rows = connection.execute(
        select(
            _SUBSCRIPTIONS.c.id,
            _SUBSCRIPTIONS.c.events,
            _SUBSCRIPTIONS.c.criteria_set,
            _SUBSCRIPTIONS.c.outcomes,
        ).where(_SUBSCRIPTIONS.c.enabled.is_(True))
    )
    return [
        Subscriber(
            row.id,
            frozenset(row.events),
            row.criteria_set,
            None if row.outcomes is None else frozenset(row.outcomes),
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class _Inserts:
    """The outbox's inserts for one dialect, straight to the driver."""

    events: RowInsert
    deliveries: RowInsert


_INSERTS: dict[str, _Inserts] = {}


def _inserts(dialect: Dialect) -> _Inserts:
    found = _INSERTS.get(dialect.name)
    if found is None:
        found = _INSERTS[dialect.name] = _Inserts(
            RowInsert(_EVENTS, dialect), RowInsert(_DELIVERIES, dialect, skip=("id",))
        )
    return found


def write(connection: Connection, events: Iterable[Event], wanting: Sequence[Subscriber]) -> int:
    """Write the events some subscription wants, with a delivery for each; how many
    deliveries were written."""
    if not wanting:
        return 0
    now = utcnow()
    inserts = _inserts(connection.dialect)
    event_rows: list[tuple[Any, ...]] = []
    delivery_rows: list[tuple[Any, ...]] = []
    for event in events:
        targets = [s.id for s in wanting if s.wants(event.type, event.slug, event.outcome)]
        if not targets:
            continue
        event_id = uuid7()  # time-ordered: the index grows at its end
        event_rows.append(
            inserts.events.params(
                {
                    "id": event_id,
                    "type": event.type.value,
                    "created_at": now,
                    "data": json.dumps(event.data, ensure_ascii=False, separators=(",", ":")),
                    "evaluation_id": event.evaluation_id,
                }
            )
        )
        delivery_rows.extend(
            inserts.deliveries.params(
                {
                    "subscription_id": target,
                    "event_id": event_id,
                    "state": "pending",
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                    "lease_owner": None,
                    "lease_until": None,
                    "finished_at": None,
                }
            )
            for target in targets
        )
    if event_rows:
        driver = connection.connection.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            cursor.executemany(inserts.events.sql, event_rows)
            cursor.executemany(inserts.deliveries.sql, delivery_rows)
        finally:
            cursor.close()
    return len(delivery_rows)


def publish(connection: Connection, event: Event) -> int:
    """Write one event in the caller's transaction (a verdict's, a published version's)."""
    return write(connection, [event], subscribers(connection))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def set_of(slug: str, version: int) -> dict[str, Any]:
    return {"slug": slug, "version": version}


def evaluation_event(row: dict[str, Any], keys: Sequence[str]) -> Event:
    """A stored decision's `evaluation.created`, from the row the writer inserts."""
    statuses = row["statuses"]
    decision = row["decision"]
    return Event(
        EventType.EVALUATION_CREATED,
        {
            "evaluation_id": str(row["id"]),
            "criteria_set": set_of(row["criteria_set_slug"], row["criteria_set_version"]),
            "decision": decision,
            "final_decision": decision,
            "criteria": {key: _MET[statuses[2 * i]] for i, key in enumerate(keys)},
            "created_at": _iso(row["created_at"]),
            "privacy": row["privacy"],
            "links": {"evaluation": f"/evaluations/{row['id']}"},
        },
        row["criteria_set_slug"],
        decision,
        row["id"],
    )


def verdict_event(
    evaluation_id: uuid.UUID,
    slug: str,
    version: int,
    decision: str,
    verdict: dict[str, Any],
) -> Event:
    """A verdict's `verdict.recorded`: `verdict` holds its sequence, decision, agreement
    and the person's per-criterion judgement."""
    return Event(
        EventType.VERDICT_RECORDED,
        {
            "evaluation_id": str(evaluation_id),
            "criteria_set": set_of(slug, version),
            "decision": decision,
            "final_decision": verdict["decision"],
            "verdict": verdict,
            "links": {
                "evaluation": f"/evaluations/{evaluation_id}",
                "verdict": f"/evaluations/{evaluation_id}/verdict",
            },
        },
        slug,
        verdict["decision"],
        evaluation_id,
    )


def published_event(slug: str, version: int, content_hash: str) -> Event:
    """A version that became its set's current one: `criteria.published`."""
    return Event(
        EventType.CRITERIA_PUBLISHED,
        {
            "criteria_set": set_of(slug, version),
            "content_hash": content_hash,
            "links": {"criteria_version": f"/criteria/{slug}/versions/{version}"},
        },
        slug,
        None,
    )


class Outbox:
    """Per process: the decision writer's `Publish` steps, and what they share.

    The subscriptions are read once per writer transaction, not once per unit, and each
    version's criteria keys (immutable) once per process.
    """

    def __init__(self, written: Callable[[], None] = lambda: None) -> None:
        self._written = written  # told, from the writer's thread, that deliveries are due
        self._lock = threading.Lock()
        self._keys: dict[int, tuple[str, ...]] = {}
        self._transaction: object = None
        self._subscribers: list[Subscriber] = []

    def written(self) -> None:
        self._written()

    def step(self, rows: Sequence[dict[str, Any]]) -> "Publish":
        return Publish(self, rows)

    def subscribers_in(self, connection: Connection) -> list[Subscriber]:
        transaction = connection.get_transaction()
        with self._lock:
            if transaction is not None and transaction is self._transaction:
                return self._subscribers
        found = subscribers(connection)
        with self._lock:
            self._transaction, self._subscribers = transaction, found
        return found

    def keys_of(self, connection: Connection, version_id: int) -> tuple[str, ...]:
        keys = self._keys.get(version_id)
        if keys is None:
            criteria = connection.execute(
                select(_VERSIONS.c.criteria).where(_VERSIONS.c.id == version_id)
            ).scalar_one()
            keys = self._keys[version_id] = tuple(c["key"] for c in criteria)
        return keys


@dataclass(frozen=True, slots=True)
class Publish:
    """A step of the decision writer: the unit's decisions' `evaluation.created` events.

    It writes and never answers or refuses, so it runs last, after the steps that may.
    """

    outbox: Outbox
    rows: Sequence[dict[str, Any]]

    def run(self, connection: Connection) -> None:
        wanting = [
            s for s in self.outbox.subscribers_in(connection) if "evaluation.created" in s.events
        ]
        if wanting and write(
            connection,
            (
                evaluation_event(row, self.outbox.keys_of(connection, row["criteria_version_id"]))
                for row in self.rows
            ),
            wanting,
        ):
            self.outbox.written()
        return None


def events_about(
    connection: Connection, evaluation_ids: Sequence[uuid.UUID]
) -> list[tuple[Any, list[Any]]]:
    """The events about these decisions, oldest first, each with its deliveries."""
    events = connection.execute(
        select(_EVENTS)
        .where(_EVENTS.c.evaluation_id.in_(evaluation_ids))
        .order_by(_EVENTS.c.created_at, _EVENTS.c.id)
    ).all()
    deliveries: dict[uuid.UUID, list[Any]] = {event.id: [] for event in events}
    if events:
        for delivery in connection.execute(
            select(_DELIVERIES)
            .where(_DELIVERIES.c.event_id.in_(list(deliveries)))
            .order_by(_DELIVERIES.c.id)
        ):
            deliveries[delivery.event_id].append(delivery)
    return [(event, deliveries[event.id]) for event in events]


# --- what removing decisions removes of the outbox (app.forgetting) ------------
# Every event told about a removed decision goes, delivered or not, with its deliveries and
# their attempts: a delivered event's data names the decision and its outcome, and nothing
# of it is worth keeping once the decision is gone. Undelivered ones are dropped unsent.
_ATTEMPTS = WebhookAttempt.__table__  # type: ignore[attr-defined]


def _event_of(doomed: Doomed) -> ColumnElement[bool]:
    return _EVENTS.c.evaluation_id.in_(doomed.ids)  # type: ignore[no-any-return]


def _delivery_of(doomed: Doomed) -> ColumnElement[bool]:
    return _DELIVERIES.c.event_id.in_(select(_EVENTS.c.id).where(_event_of(doomed)))  # type: ignore[no-any-return]


FORGOTTEN = (
    Kind(
        "webhook_attempts",
        _ATTEMPTS,
        lambda d: _ATTEMPTS.c.delivery_id.in_(select(_DELIVERIES.c.id).where(_delivery_of(d))),
    ),
    Counted(
        "undelivered",
        _DELIVERIES,
        lambda d: _delivery_of(d) & (_DELIVERIES.c.state == DeliveryState.PENDING.value),
    ),
    Kind("webhook_deliveries", _DELIVERIES, _delivery_of),
    Kind("webhook_events", _EVENTS, _event_of),
)
