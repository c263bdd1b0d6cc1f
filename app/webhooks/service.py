"""Managing subscriptions and reading their deliveries (/webhooks)."""

import uuid
from datetime import timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from app.db import utcnow
from app.errors import InvalidInput, NotFound
from app.jsonvalues import find_problem
from app.webhooks.delivery import new_secret
from app.webhooks.models import (
    TEST_EVENT,
    AttemptPublic,
    DeliveryPage,
    DeliveryPublic,
    DeliveryState,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPublic,
    SubscriptionUpdate,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from app.webhooks.targets import RefusedTarget, check_target

MAX_SUBSCRIPTIONS = 100


def _checked_url(url: str, allow_private: bool) -> str:
    if not allow_private:
        try:
            check_target(url)
        except RefusedTarget as exc:
            raise InvalidInput([("url", str(exc))]) from None
    return url


def _checked_description(description: str | None) -> str | None:
    found = find_problem(description)  # U+0000, lone surrogates
    if found is not None:
        raise InvalidInput([("description", found[1])])
    return description


def create(
    session: Session, body: SubscriptionCreate, allow_private: bool, api_key_id: str | None
) -> SubscriptionCreated:
    count = session.exec(select(func.count()).select_from(WebhookSubscription)).one()
    if count >= MAX_SUBSCRIPTIONS:
        raise InvalidInput([("url", f"at most {MAX_SUBSCRIPTIONS} subscriptions; delete one")])
    subscription = WebhookSubscription(
        url=_checked_url(str(body.url), allow_private),
        description=_checked_description(body.description),
        events=[event.value for event in body.events],
        criteria_set=body.criteria_set,
        outcomes=None if body.outcomes is None else [o.value for o in body.outcomes],
        include_attributes=body.include_attributes,
        secret=new_secret(),
        api_key_id=api_key_id,
    )
    session.add(subscription)
    session.commit()
    session.refresh(subscription)
    return SubscriptionCreated(**public(subscription).model_dump(), secret=subscription.secret)


def public(subscription: WebhookSubscription) -> SubscriptionPublic:
    return SubscriptionPublic.model_validate(subscription, from_attributes=True)


def list_all(session: Session) -> list[SubscriptionPublic]:
    found = session.exec(select(WebhookSubscription).order_by(col(WebhookSubscription.created_at)))
    return [public(subscription) for subscription in found]


def load(session: Session, subscription_id: uuid.UUID) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFound(f"No webhook subscription '{subscription_id}'.")
    return subscription


def change(
    session: Session, subscription_id: uuid.UUID, body: SubscriptionUpdate, allow_private: bool
) -> SubscriptionPublic:
    subscription = load(session, subscription_id)
    sent = body.model_fields_set
    if "url" in sent:
        if body.url is None:
            raise InvalidInput([("url", "a subscription needs a URL")])
        subscription.url = _checked_url(str(body.url), allow_private)
    if "events" in sent:
        if body.events is None:
            raise InvalidInput([("events", "a subscription needs at least one event type")])
        subscription.events = [event.value for event in body.events]
    if "criteria_set" in sent:
        subscription.criteria_set = body.criteria_set
    if "outcomes" in sent:
        subscription.outcomes = None if body.outcomes is None else [o.value for o in body.outcomes]
    for name in ("include_attributes", "enabled"):
        if name in sent:
            value = getattr(body, name)
            if value is None:
                raise InvalidInput([(name, "expected true or false")])
            setattr(subscription, name, value)
    if "description" in sent:
        subscription.description = _checked_description(body.description)
    if body.enabled:
        subscription.disabled_reason = None
    elif "enabled" in sent:
        subscription.disabled_reason = "disabled by an admin"
    session.add(subscription)
    session.commit()
    session.refresh(subscription)
    return public(subscription)


def remove(session: Session, subscription_id: uuid.UUID) -> None:
    """Delete the subscription, its deliveries and their attempts (events stay for others)."""
    load(session, subscription_id)
    deliveries = select(WebhookDelivery.id).where(
        WebhookDelivery.subscription_id == subscription_id
    )
    # Locked first (PostgreSQL): a worker settling one of them commits its attempt before
    # these deletes read, or finds them gone.
    session.exec(deliveries.with_for_update()).all()
    session.exec(delete(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(deliveries)))
    session.exec(
        delete(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == subscription_id)
    )
    session.exec(delete(WebhookSubscription).where(col(WebhookSubscription.id) == subscription_id))
    session.commit()


def deliveries(
    session: Session,
    subscription_id: uuid.UUID,
    *,
    state: DeliveryState | None,
    limit: int,
    cursor: int | None,
) -> DeliveryPage:
    """The subscription's deliveries, newest first, each with its attempts."""
    load(session, subscription_id)
    statement = (
        select(WebhookDelivery, WebhookEvent.type)
        .join(WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id))
        .where(WebhookDelivery.subscription_id == subscription_id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit + 1)
    )
    if state is not None:
        statement = statement.where(WebhookDelivery.state == state.value)
    if cursor is not None:
        statement = statement.where(col(WebhookDelivery.id) < cursor)
    rows = list(session.exec(statement))
    more = len(rows) > limit
    rows = rows[:limit]
    history = _attempts(session, [delivery.id for delivery, _ in rows if delivery.id is not None])
    items = [_delivery_public(delivery, event_type, history) for delivery, event_type in rows]
    return DeliveryPage(items=items, next_cursor=str(rows[-1][0].id) if more else None)


def delivery(session: Session, subscription_id: uuid.UUID, delivery_id: int) -> DeliveryPublic:
    found = session.exec(
        select(WebhookDelivery, WebhookEvent.type)
        .join(WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id))
        .where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription_id
        )
    ).first()
    if found is None:
        raise NotFound(f"No delivery {delivery_id} for webhook subscription '{subscription_id}'.")
    return _delivery_public(found[0], found[1], _attempts(session, [delivery_id]))


def _attempts(session: Session, ids: list[int]) -> dict[int, list[AttemptPublic]]:
    history: dict[int, list[AttemptPublic]] = {}
    if not ids:
        return history
    found = session.exec(
        select(WebhookAttempt)
        .where(col(WebhookAttempt.delivery_id).in_(ids))
        .order_by(col(WebhookAttempt.id))
    )
    for attempt in found:
        history.setdefault(attempt.delivery_id, []).append(
            AttemptPublic.model_validate(attempt, from_attributes=True)
        )
    return history


def _delivery_public(
    delivery: WebhookDelivery, event_type: str, history: dict[int, list[AttemptPublic]]
) -> DeliveryPublic:
    assert delivery.id is not None
    pending = delivery.state == DeliveryState.PENDING.value
    return DeliveryPublic(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=event_type,
        state=DeliveryState(delivery.state),
        attempts=delivery.attempts,
        created_at=delivery.created_at,
        next_attempt_at=delivery.next_attempt_at if pending else None,
        finished_at=delivery.finished_at,
        history=history.get(delivery.id, []),
    )


def replay(session: Session, subscription_id: uuid.UUID, delivery_id: int) -> DeliveryPublic:
    """Send a delivery's event again: a new delivery, due now."""
    original = delivery(session, subscription_id, delivery_id)
    again = WebhookDelivery(subscription_id=subscription_id, event_id=original.event_id)
    session.add(again)
    session.commit()
    session.refresh(again)
    return _delivery_public(again, original.event_type, {})


def test_delivery(
    session: Session, subscription_id: uuid.UUID, owner: str, lease: timedelta
) -> int:
    """A sample event for this subscription alone, its delivery held by `owner` (the
    request sends it itself, once): the delivery's id."""
    subscription = load(session, subscription_id)
    event = WebhookEvent(
        type=TEST_EVENT,
        data={
            "subscription_id": str(subscription.id),
            "message": "A test event from Reflexe: the signature verifies with your secret.",
        },
    )
    session.add(event)
    session.flush()
    test = WebhookDelivery(
        subscription_id=subscription.id,
        event_id=event.id,
        lease_owner=owner,
        lease_until=utcnow() + lease,
    )
    session.add(test)
    session.commit()
    assert test.id is not None
    return test.id
