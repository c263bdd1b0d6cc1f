"""Decision events by webhook: the subscription, outbox and attempt tables, and the API's
models for them."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, Field, StringConstraints
from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer
from sqlmodel import Field as TableField
from sqlmodel import SQLModel

from app.criteria.models import Slug
from app.db import JSONColumn, UTCDateTime, utcnow
from app.engine import Decision
from app.jsonvalues import REQUEST_MODEL

MAX_URL = 2048


class EventType(StrEnum):
    EVALUATION_CREATED = "evaluation.created"
    VERDICT_RECORDED = "verdict.recorded"
    CRITERIA_PUBLISHED = "criteria.published"


TEST_EVENT = "webhook.test"  # sent by POST /webhooks/{id}/test alone


class DeliveryState(StrEnum):
    PENDING = "pending"  # due now or at `next_attempt_at`
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # every attempt failed, or the target refused it (4xx, 410 Gone)


# --- tables -----------------------------------------------------------------


class WebhookSubscription(SQLModel, table=True):
    """Where events go, which ones, and the secret they are signed with."""

    __tablename__ = "webhook_subscription"

    id: uuid.UUID = TableField(default_factory=uuid.uuid4, primary_key=True)
    url: str = TableField(max_length=MAX_URL)
    description: str | None = TableField(default=None, max_length=200)
    events: list[str] = TableField(sa_column=Column(JSONColumn, nullable=False))
    criteria_set: str | None = TableField(default=None, max_length=64)
    outcomes: list[str] | None = TableField(default=None, sa_column=Column(JSONColumn))
    include_attributes: bool = False
    # The Standard Webhooks secret (`whsec_...`): the receiver holds it too, so it is kept
    # as it is, never answered after the subscription's creation.
    secret: str = TableField(max_length=80)
    enabled: bool = True
    disabled_reason: str | None = TableField(default=None, max_length=500)
    last_error: str | None = TableField(default=None, max_length=500)
    last_error_at: datetime | None = TableField(default=None, sa_type=UTCDateTime)
    last_success_at: datetime | None = TableField(default=None, sa_type=UTCDateTime)
    created_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)
    api_key_id: str | None = TableField(default=None, max_length=12)


class WebhookEvent(SQLModel, table=True):
    """The outbox: an event, written in the transaction of what it tells."""

    __tablename__ = "webhook_event"

    id: uuid.UUID = TableField(default_factory=uuid.uuid4, primary_key=True)
    type: str = TableField(max_length=32)
    created_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)
    # The thin payload's `data`; a subscription that asks for attributes has them added
    # from the stored decision when it is sent.
    data: dict[str, Any] = TableField(sa_column=Column(JSONColumn, nullable=False))
    # Indexed: how an erasure or a purge finds the events about the decisions it removes.
    evaluation_id: uuid.UUID | None = TableField(default=None, index=True)


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription: its state, and the lease of the worker sending it."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # What the workers look for: the due deliveries, oldest first.
        Index("ix_webhook_delivery_due", "state", "next_attempt_at"),
        Index("ix_webhook_delivery_subscription", "subscription_id", "id"),
    )

    id: int | None = TableField(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    subscription_id: uuid.UUID = TableField(foreign_key="webhook_subscription.id")
    event_id: uuid.UUID = TableField(foreign_key="webhook_event.id")
    state: str = TableField(default=DeliveryState.PENDING.value, max_length=16)
    attempts: int = 0
    created_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)
    next_attempt_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)
    # A worker's claim: until then no other worker sends it (see webhooks.delivery).
    lease_owner: str | None = TableField(default=None, max_length=40)
    lease_until: datetime | None = TableField(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = TableField(default=None, sa_type=UTCDateTime)


class WebhookAttempt(SQLModel, table=True):
    """One try at a delivery: what the target answered, and how fast."""

    __tablename__ = "webhook_attempt"

    id: int | None = TableField(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    delivery_id: int = TableField(
        sa_column=Column(BigInteger, ForeignKey("webhook_delivery.id"), nullable=False, index=True)
    )
    number: int
    at: datetime = TableField(sa_type=UTCDateTime)
    status_code: int | None = None
    error: str | None = TableField(default=None, max_length=500)
    latency_ms: float


# --- API models -------------------------------------------------------------

Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


def _plain_url(url: AnyHttpUrl) -> AnyHttpUrl:
    if len(str(url)) > MAX_URL:
        raise ValueError(f"at most {MAX_URL} characters")
    if url.username or url.password:
        raise ValueError("credentials in the URL are refused: put a token in its path")
    return url


def _subscribable(events: list[EventType]) -> list[EventType]:
    return list(dict.fromkeys(events))


def _distinct(outcomes: list[Decision]) -> list[Decision]:
    return list(dict.fromkeys(outcomes))


TargetUrl = Annotated[
    AnyHttpUrl,
    AfterValidator(_plain_url),
    Field(
        description="Where events are POSTed: http or https, no private address unless "
        "`REFLEXE_WEBHOOK_ALLOW_PRIVATE_TARGETS` allows them. Redirects are not followed."
    ),
]
Events = Annotated[
    list[EventType],
    AfterValidator(_subscribable),
    Field(
        min_length=1,
        max_length=len(EventType),
        description="The event types sent: `evaluation.created`, `verdict.recorded`, "
        "`criteria.published`.",
    ),
]
Outcomes = Annotated[
    list[Decision],
    AfterValidator(_distinct),
    Field(
        min_length=1,
        max_length=len(Decision),
        description="Only decisions and verdicts with one of these decisions, e.g. "
        '`["review"]`. `criteria.published` events have none and are not filtered.',
    ),
]
CriteriaFilter = Annotated[
    Slug, Field(description="Only the events of this set (all sets if absent).")
]
IncludeAttributes = Annotated[
    bool,
    Field(
        description="Add the subject and its raw profile attributes to `evaluation.created` "
        "payloads. Off by default: payloads carry ids, decisions and met flags alone."
    ),
]


class SubscriptionCreate(BaseModel):
    """What an admin chooses of a subscription."""

    model_config = REQUEST_MODEL

    url: TargetUrl
    events: Events
    criteria_set: CriteriaFilter | None = None
    outcomes: Outcomes | None = None
    include_attributes: IncludeAttributes = False
    description: Description | None = None


class SubscriptionUpdate(BaseModel):
    """A partial change: only the fields sent change (`null` clears a filter).
    `enabled: true` turns a disabled subscription back on."""

    model_config = REQUEST_MODEL

    url: TargetUrl | None = None
    events: Events | None = None
    criteria_set: CriteriaFilter | None = None
    outcomes: Outcomes | None = None
    include_attributes: IncludeAttributes | None = None
    description: Description | None = None
    enabled: bool | None = None


class SubscriptionPublic(BaseModel):
    id: uuid.UUID
    url: str
    description: str | None
    events: list[str]
    criteria_set: str | None
    outcomes: list[str] | None
    include_attributes: bool
    enabled: bool
    disabled_reason: str | None = Field(description="Why it was turned off, if it was.")
    last_error: str | None = Field(description="The last failed attempt's error.")
    last_error_at: datetime | None
    last_success_at: datetime | None
    created_at: datetime


class SubscriptionCreated(SubscriptionPublic):
    secret: str = Field(
        description="The signing secret (`whsec_...`), shown this once: receivers verify "
        "`webhook-signature` with it (Standard Webhooks)."
    )


class SubscriptionPage(BaseModel):
    items: list[SubscriptionPublic]


class AttemptPublic(BaseModel):
    number: int
    at: datetime
    status_code: int | None = Field(description="The target's HTTP status, if it answered.")
    error: str | None = Field(description="Why it failed: a status, a timeout, a refusal.")
    latency_ms: float


class DeliveryPublic(BaseModel):
    id: int
    event_id: uuid.UUID = Field(description="The `webhook-id` header of every attempt.")
    event_type: str
    state: DeliveryState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When a pending delivery goes next.")
    finished_at: datetime | None
    history: list[AttemptPublic]


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for older deliveries.")
