"""Subjects: the record of erasures and purges, the scheduled jobs' lease, and the API's
models for a person's access and erasure requests."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictInt
from sqlalchemy import Column
from sqlmodel import Field as TableField
from sqlmodel import SQLModel

from app.db import JSONColumn, UTCDateTime, utcnow
from app.evaluations.models import (
    EvaluationInputs,
    EvaluationPublic,
    LookupRef,
    VerdictPublic,
)
from app.jsonvalues import REQUEST_MODEL
from app.webhooks.models import DeliveryState


class RemovalKind(StrEnum):
    ERASURE = "erasure"  # a person's decisions, on request
    PURGE = "purge"  # decisions older than their retention


class RemovalSource(StrEnum):
    API = "api"
    CLI = "cli"
    SCHEDULE = "schedule"


# --- tables -----------------------------------------------------------------


class Removal(SQLModel, table=True):
    """That decisions were removed: when, by whom, how many records of each kind. Nothing of
    the person: no ref, no name, not even the ref's keyed hash (which would let anyone with
    the secret confirm a guess that someone was erased)."""

    __tablename__ = "removal"

    id: uuid.UUID = TableField(default_factory=uuid.uuid4, primary_key=True)
    kind: str = TableField(max_length=16)
    source: str = TableField(max_length=16)
    api_key_id: str | None = TableField(default=None, max_length=12)
    created_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)
    counts: dict[str, int] = TableField(sa_column=Column(JSONColumn, nullable=False))
    # A purge's counts per set, and its transactions (each at most REFLEXE_PURGE_CHUNK).
    sets: dict[str, Any] = TableField(sa_column=Column(JSONColumn, nullable=False))
    chunks: int = 0
    largest_chunk: int = 0


class Lease(SQLModel, table=True):
    """A job that one process at a time runs: who holds it, until when."""

    __tablename__ = "lease"

    name: str = TableField(primary_key=True, max_length=32)
    holder: str = TableField(max_length=64)
    until: datetime = TableField(sa_type=UTCDateTime)


# --- API models ---------------------------------------------------------------


class RemovalCounts(BaseModel):
    """How many records of each kind (removed, or that removing would remove)."""

    decisions: int = Field(default=0, description="Stored decisions, with their inputs.")
    verdicts: int = Field(default=0, description="Human verdicts on them.")
    verdict_criteria: int = Field(default=0, description="The verdicts' per-criterion rows.")
    verdict_leaves: int = Field(default=0, description="The verdicts' rule-leaf rows.")
    review_queue_entries: int = Field(default=0, description="Entries of the review queue.")
    pending_cases: int = Field(
        default=0, description="Pending test cases made from them (they hold the attributes)."
    )
    idempotency_records: int = Field(
        default=0, description="Idempotency keys whose kept answer holds one of them."
    )
    webhook_events: int = Field(default=0, description="Outbox events about them.")
    webhook_deliveries: int = Field(default=0, description="Those events' deliveries.")
    undelivered: int = Field(
        default=0, description="Of those deliveries, the ones not yet sent: dropped unsent."
    )
    webhook_attempts: int = Field(default=0, description="The deliveries' attempts.")
    impact_samples: int = Field(
        default=0, description="Entries of impact reports' samples that name one of them."
    )
    unlinked_decisions: int = Field(
        default=0,
        description="Other decisions whose `previous_id` named one of them: it becomes null.",
    )

    def plus(self, other: "RemovalCounts") -> "RemovalCounts":
        mine, theirs = self.model_dump(), other.model_dump()
        return RemovalCounts(**{name: mine[name] + theirs[name] for name in mine})


class SubjectQuery(BaseModel):
    """A subject's ref in the body, so that it stays out of URLs and their logs."""

    model_config = REQUEST_MODEL

    ref: LookupRef = Field(description="The subject's ref, as sent in `subject.ref`.")
    limit: StrictInt = Field(default=50, ge=1, le=100, description="Decisions per page.")
    cursor: str | None = Field(
        default=None, max_length=200, description="`next_cursor` of the previous page."
    )


class ErasureRequest(BaseModel):
    """Erase a subject, named in the body so that the ref stays out of URLs and logs."""

    model_config = REQUEST_MODEL

    ref: LookupRef = Field(description="The subject's ref, as sent in `subject.ref`.")
    vacuum: StrictBool = Field(
        default=False, description="PostgreSQL: VACUUM the tables erased from, afterwards."
    )


class SubjectDelivery(BaseModel):
    id: int = Field(description="The delivery (GET /webhooks/{id}/deliveries/{delivery_id}).")
    subscription_id: uuid.UUID
    state: DeliveryState
    attempts: int


class SubjectEvent(BaseModel):
    id: uuid.UUID = Field(description="The event, as its `webhook-id`.")
    type: str
    created_at: datetime
    data: dict[str, Any] = Field(description="The event's payload data, as kept.")
    deliveries: list[SubjectDelivery]


class SubjectCase(BaseModel):
    slug: str = Field(description="The set whose next version will hold the case.")
    name: str
    case: dict[str, Any] = Field(description="The case, with the decision's attributes.")
    created_at: datetime


class SubjectDecision(BaseModel):
    """One decision about the subject, with everything that hangs off it."""

    evaluation: EvaluationPublic = Field(description="As GET /evaluations/{id} reads it.")
    inputs: EvaluationInputs = Field(description="As GET /evaluations/{id}/inputs reads them.")
    verdicts: list[VerdictPublic] = Field(description="Every verdict on it, oldest first.")
    in_review_queue: bool = Field(description="Whether it waits in the review queue.")
    events: list[SubjectEvent] = Field(description="Webhook events about it, and deliveries.")
    pending_cases: list[SubjectCase] = Field(description="Pending test cases made from it.")


class SubjectRecords(BaseModel):
    """Everything stored about a subject, found by its ref's keyed hash (minimised decisions
    included): a page of decisions, newest first, and the counts of everything."""

    counts: RemovalCounts = Field(
        description="Every record about the subject, of every kind: what an erasure removes."
    )
    decisions: list[SubjectDecision]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class RemovalPublic(BaseModel):
    """An erasure or a purge that happened: nothing of the people it concerned."""

    id: uuid.UUID
    kind: RemovalKind
    source: RemovalSource = Field(description="`api`, `cli` or `schedule` (the daily purge).")
    api_key_id: str | None = Field(description="The key that asked, for `api`.")
    created_at: datetime
    counts: RemovalCounts
    sets: dict[str, RemovalCounts] = Field(description="A purge's counts, per set.")
    chunks: int = Field(
        description="A purge's transactions, each of at most REFLEXE_PURGE_CHUNK decisions."
    )
    largest_chunk: int = Field(description="The most decisions one of them removed.")


class ErasureResult(RemovalPublic):
    """An erasure, done: what it removed, and what was done to make it physical."""

    checkpointed: bool | None = Field(
        description="SQLite: whether the WAL was checkpointed and truncated afterwards "
        "(false if a reader held it: the next checkpoint completes it). Null on PostgreSQL."
    )
    vacuumed: bool = Field(description="Whether the tables were vacuumed (PostgreSQL).")


class RemovalPage(BaseModel):
    items: list[RemovalPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
