"""Human verdicts on stored decisions: the tables, and the API's models for verdicts, the
review queue and the statistics."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field as TableField
from sqlmodel import SQLModel

from app.criteria.models import MAX_CRITERIA
from app.db import JSONColumn, UTCDateTime, utcnow
from app.evaluations.models import EvaluationPublic, VerdictPublic
from app.jsonvalues import REQUEST_MODEL
from app.profiles import AnswerKey

# --- tables -----------------------------------------------------------------


class Verdict(SQLModel, table=True):
    """A person's verdict on a stored decision. The decision itself is never changed.

    A decision's verdicts are numbered from 1; the last is `current`, the others are its
    history. What the statistics filter on is copied from the decision (its set, version,
    time and outcome), so that they count verdicts without reading the decisions.
    """

    __tablename__ = "verdict"
    __table_args__ = (
        UniqueConstraint("evaluation_id", "sequence"),
        Index("ix_verdict_stats", "criteria_set_slug", "current", "evaluation_created_at"),
    )

    id: uuid.UUID = TableField(default_factory=uuid.uuid4, primary_key=True)
    evaluation_id: uuid.UUID = TableField(foreign_key="evaluation.id")
    sequence: int
    current: bool
    decision: str = TableField(max_length=16)
    machine_decision: str = TableField(max_length=16)
    agrees: bool | None = None
    criteria: dict[str, bool] | None = TableField(
        default=None, sa_column=Column(JSONColumn, nullable=True)
    )
    reason: str = TableField(max_length=500)
    note: str | None = TableField(default=None, max_length=5000)
    api_key_id: str | None = TableField(default=None, foreign_key="api_key.id", max_length=12)
    created_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)
    criteria_set_slug: str = TableField(max_length=64)
    criteria_set_version: int
    evaluation_created_at: datetime = TableField(sa_type=UTCDateTime)
    seconds_to_verdict: float

    def public(self) -> VerdictPublic:
        return VerdictPublic.model_validate(self, from_attributes=True)


class ReviewQueue(SQLModel, table=True):
    """A stored `review` decision that has no verdict yet: the queue holds these alone.

    Written with the decision, in the writer's transaction (`reviews.queue.Enqueue`), and
    deleted with its first verdict, so that the queue and its statistics never walk the
    decisions already reviewed. Its id is the decision's (no foreign key: the row is
    written in the transaction, just before the decision's own).
    """

    __tablename__ = "review_queue"
    __table_args__ = (
        Index("ix_review_queue_created_at", "created_at", "evaluation_id"),
        Index(
            "ix_review_queue_scope",
            "criteria_set_slug",
            "criteria_set_version",
            "created_at",
            "evaluation_id",
        ),
    )

    evaluation_id: uuid.UUID = TableField(primary_key=True)
    criteria_set_slug: str = TableField(max_length=64)
    criteria_set_version: int
    created_at: datetime = TableField(sa_type=UTCDateTime)


class VerdictCriterion(SQLModel, table=True):
    """One criterion a verdict judged, next to what the machine found."""

    __tablename__ = "verdict_criterion"

    id: int | None = TableField(default=None, primary_key=True)
    verdict_id: uuid.UUID = TableField(foreign_key="verdict.id", index=True)
    criterion_key: str = TableField(max_length=64)
    human_met: bool
    machine_met: bool | None = None
    machine_source: str = TableField(max_length=8)


class VerdictLeaf(SQLModel, table=True):
    """A rule leaf that decided a criterion the verdict then contradicted."""

    __tablename__ = "verdict_leaf"

    id: int | None = TableField(default=None, primary_key=True)
    verdict_id: uuid.UUID = TableField(foreign_key="verdict.id", index=True)
    criterion_key: str = TableField(max_length=64)
    leaf: str = TableField(max_length=300)


# --- API models -------------------------------------------------------------

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Note = Annotated[str, StringConstraints(max_length=5000)]


class VerdictCreate(BaseModel):
    """A person's verdict on a stored decision."""

    model_config = ConfigDict(
        **REQUEST_MODEL,
        json_schema_extra={
            "examples": [
                {
                    "decision": "accept",
                    "criteria": {"pertinence": True, "utilite": True},
                    "reason": "A workshop manager: not my field, but a likely client.",
                }
            ]
        },
    )

    decision: Literal["accept", "decline"] = Field(description="The person's decision.")
    criteria: dict[AnswerKey, bool] | None = Field(
        default=None,
        max_length=MAX_CRITERIA,
        description="Optionally, per criterion of the decision, whether the person judges it met.",
    )
    reason: Reason = Field(description="Why, in short (required).")
    note: Note | None = Field(default=None, description="A longer note.")


class VerdictHistory(BaseModel):
    items: list[VerdictPublic] = Field(description="Every verdict on the decision, oldest first.")


class ReviewBecause(BaseModel):
    """What made a decision `review`."""

    unknown: list[str] = Field(description="The criteria nobody could tell, by key.")
    in_band: bool = Field(
        description="Whether the score fell in the policy's review band (at least "
        "`review_at`, below `accept_at`)."
    )
    review_at: float | None = Field(description="The policy's `review_at`, if it has one.")


class ReviewItem(BaseModel):
    evaluation: EvaluationPublic = Field(description="The decision, with its reasons.")
    because: ReviewBecause


class ReviewPage(BaseModel):
    items: list[ReviewItem] = Field(description="Decisions waiting for a verdict, oldest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


Outcomes = dict[str, int]


class DayCount(BaseModel):
    day: str = Field(description="The day, in UTC (YYYY-MM-DD).")
    machine: Outcomes = Field(description="Decisions made that day, by the machine's outcome.")
    final: Outcomes = Field(description="The same decisions, by their final outcome.")


class DecisionCounts(BaseModel):
    total: int = Field(description="Decisions stored.")
    machine: Outcomes = Field(description="By the machine's outcome.")
    final: Outcomes = Field(description="By the final outcome (the verdict's, if any).")
    by_day: list[DayCount] | None = Field(description="Per day, with `bucket=day`; else null.")


class SourceCounts(BaseModel):
    answer: int
    rules: int
    none: int


class CriterionCounts(BaseModel):
    key: str = Field(description="The criterion's key.")
    met: int
    not_met: int
    unknown: int
    source: SourceCounts = Field(description="Where each status came from.")


class CriterionDisagreement(BaseModel):
    key: str = Field(description="The criterion's key.")
    judged: int = Field(description="Verdicts that judged this criterion.")
    met_by_human_only: int = Field(
        description="The person judged it met; the machine found it not met or unknown."
    )
    met_by_machine_only: int = Field(
        description="The machine found it met; the person judged it not met."
    )


class LeafDisagreement(BaseModel):
    criterion: str = Field(description="The criterion the leaf decided.")
    leaf: str = Field(description="The rule leaf: attribute, operator, and value or param.")
    contradicted: int = Field(description="Verdicts that judged that criterion the other way.")


class VerdictCounts(BaseModel):
    count: int = Field(description="Decisions with a verdict (each once, by its current one).")
    replaced: int = Field(description="Verdicts later replaced by another.")
    agreement: dict[str, Outcomes] = Field(
        description="By the machine's outcome, then the person's: how many current verdicts."
    )
    agreement_rate: float | None = Field(
        description="Of the verdicts on `accept` and `decline` decisions, the share that "
        "agrees; null without any."
    )
    criteria: list[CriterionDisagreement]
    leaves: list[LeafDisagreement] = Field(description="Most contradicted first.")


class QueueCounts(BaseModel):
    open: int = Field(description="`review` decisions without a verdict.")
    oldest_age_seconds: float | None = Field(description="Age of the oldest; null if none.")
    median_seconds_to_verdict: float | None = Field(
        description="For `review` decisions, from the decision to its first verdict."
    )
    p90_seconds_to_verdict: float | None


class Stats(BaseModel):
    """Where the method and the people who check it part ways, in numbers."""

    criteria_set: str
    version: int | None
    since: datetime | None
    until: datetime | None
    decisions: DecisionCounts
    criteria: list[CriterionCounts]
    verdicts: VerdictCounts
    queue: QueueCounts
