"""Evaluations: the decision log table and the evaluate API's models."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints
from sqlalchemy import Column, Index
from sqlmodel import Field as TableField
from sqlmodel import SQLModel

from app.criteria.models import MAX_CRITERIA, Slug
from app.db import JSONColumn, UTCDateTime, utcnow
from app.engine import Decision, Source

# --- table ------------------------------------------------------------------


class EvaluationRecord(SQLModel, table=True):
    """One stored decision, with everything needed to show it again."""

    __tablename__ = "evaluation"
    __table_args__ = (
        Index("ix_evaluation_created_at_id", "created_at", "id"),
        Index("ix_evaluation_subject_ref_created_at", "subject_ref", "created_at"),
    )

    id: uuid.UUID = TableField(default_factory=uuid.uuid4, primary_key=True)
    criteria_version_id: int = TableField(foreign_key="criteria_version.id", index=True)
    criteria_set_slug: str = TableField(max_length=64, index=True)
    criteria_set_version: int
    subject_ref: str | None = TableField(default=None, max_length=2048)
    subject_name: str | None = TableField(default=None, max_length=200)
    answers: dict[str, Any] = TableField(sa_column=Column(JSONColumn, nullable=False))
    attributes: dict[str, Any] = TableField(sa_column=Column(JSONColumn, nullable=False))
    results: list[dict[str, Any]] = TableField(sa_column=Column(JSONColumn, nullable=False))
    decision: str = TableField(max_length=16, index=True)
    met: int
    score: float
    needed: float
    summary: str
    to_change: list[str] = TableField(sa_column=Column(JSONColumn, nullable=False))
    created_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)


# --- API models ---------------------------------------------------------------

SubjectRef = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
AnswerKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Subject(BaseModel):
    """Who is being judged."""

    model_config = ConfigDict(extra="forbid")

    ref: SubjectRef | None = Field(
        default=None, description="A stable identifier, such as the profile URL."
    )
    name: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="Display name."
    )


class EvaluationRequest(BaseModel):
    """A profile to judge against a criteria set."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject": {
                        "ref": "https://www.linkedin.com/in/jeanne-martin",
                        "name": "Jeanne Martin",
                    },
                    "answers": {"pertinence": True, "utilite": True, "interaction": None},
                }
            ]
        },
    )

    criteria_set: Slug | None = Field(
        default=None, description="Slug of the criteria set; the default set when absent."
    )
    version: int | None = Field(
        default=None, ge=1, description="Pin an older version of the set; the current when absent."
    )
    subject: Subject | None = Field(default=None, description="Who is being judged.")
    answers: dict[AnswerKey, StrictBool | None] = Field(
        default_factory=dict,
        max_length=MAX_CRITERIA,
        description="Direct answers: criterion key to true, false or null (unknown).",
    )
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        max_length=100,
        description="Raw profile attributes (headline, industry, ...), stored with the decision.",
    )
    dry_run: bool = Field(default=False, description="Decide without storing the decision.")


class CriteriaSetRef(BaseModel):
    slug: str = Field(description="The criteria set used.")
    version: int = Field(description="The exact version used.")


class CriterionOutcome(BaseModel):
    key: str = Field(description="The criterion's key.")
    label: str = Field(description="The criterion's label.")
    met: bool | None = Field(description="Met, not met, or null when unknown.")
    source: Source = Field(description="What decided it: `answer`, or `none` when nothing did.")
    reasons: list[str] = Field(description="Why, in words.")


class EvaluationPublic(BaseModel):
    """A decision with its reasons."""

    id: uuid.UUID | None = Field(description="Id of the stored decision; null on a dry run.")
    decision: Decision = Field(description="`accept`, `decline` or `review`.")
    criteria_set: CriteriaSetRef
    subject: Subject | None = Field(default=None, description="Who was judged.")
    met: int = Field(description="How many criteria are met.")
    score: float = Field(description="Sum of the weights of the criteria met.")
    needed: float = Field(description="The policy's `accept_at`.")
    criteria: list[CriterionOutcome] = Field(description="One entry per criterion, in order.")
    summary: str = Field(description="The decision in one sentence.")
    to_change: list[str] = Field(description="What would flip the decision.")
    created_at: datetime = Field(description="When the decision was made.")


class EvaluationPage(BaseModel):
    items: list[EvaluationPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
