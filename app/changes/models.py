"""Changing a method safely: the impact job table, and the API's models for impact
reports, shadow versions and cases made from stored decisions."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import Column
from sqlmodel import Field as TableField
from sqlmodel import SQLModel

from app.criteria.models import MAX_VERSION, CaseSpec, CriteriaSetReplace, ShortText
from app.db import JSONColumn, UTCDateTime, utcnow
from app.errors import CaseFailure
from app.evaluations.models import UNTIL_MESSAGE, IsoDateTime
from app.jsonvalues import REQUEST_MODEL

MAX_IMPACT_LIMIT = 10_000_000
MAX_SAMPLE = 200

# --- table ------------------------------------------------------------------


class ImpactJob(SQLModel, table=True):
    """An impact report too large to answer at once, worked out in the background."""

    __tablename__ = "impact_job"

    id: uuid.UUID = TableField(default_factory=uuid.uuid4, primary_key=True)
    criteria_set_slug: str = TableField(max_length=64, index=True)
    status: str = TableField(max_length=16)  # queued, running, done, failed
    request: dict[str, Any] = TableField(sa_column=Column(JSONColumn, nullable=False))
    total: int
    compared: int = 0
    report: dict[str, Any] | None = TableField(
        default=None, sa_column=Column(JSONColumn, nullable=True)
    )
    error: str | None = TableField(default=None, max_length=500)
    api_key_id: str | None = TableField(default=None, max_length=12)
    created_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)
    # Moved on as the work goes: a job whose process died stops moving (see `changes.jobs`).
    heartbeat_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = TableField(default=None, sa_type=UTCDateTime)


# --- API models ---------------------------------------------------------------


class Status(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"
    ABSENT = "absent"  # the criterion is not in that version


class StatusChange(BaseModel):
    was: Status = Field(description="The criterion's status in the stored decision.")
    now: Status = Field(description="Its status under the candidate.")
    count: int = Field(description="How many decisions.")


class CriterionFlips(BaseModel):
    key: str = Field(description="The criterion's key.")
    flipped: int = Field(description="Decisions where it changed between met, not met and unknown.")
    changes: list[StatusChange] = Field(
        description="Each change of status and its count (`absent`: added or removed)."
    )


class MatrixRow(BaseModel):
    accept: int = Field(description="Now `accept`.")
    review: int = Field(description="Now `review`.")
    decline: int = Field(description="Now `decline`.")


class DecisionMatrix(BaseModel):
    """Decisions counted by their stored outcome (rows) and the candidate's (columns)."""

    accept: MatrixRow = Field(description="Stored as `accept`.")
    review: MatrixRow = Field(description="Stored as `review`.")
    decline: MatrixRow = Field(description="Stored as `decline`.")


class VerdictAgreement(BaseModel):
    """How the stored decisions and the candidate's agree with the human verdicts."""

    with_verdict: int = Field(description="Compared decisions that have a current verdict.")
    agree_before: int = Field(description="Of those, stored decisions equal to the verdict.")
    agree_after: int = Field(description="Of those, candidate decisions equal to the verdict.")
    rate_before: float | None = Field(description="agree_before / with_verdict; null if none.")
    rate_after: float | None = Field(description="agree_after / with_verdict; null if none.")


class NotReplayed(BaseModel):
    reason: Literal["no_inputs", "minimised", "removed_criterion"] = Field(
        description="`no_inputs`: the decision's inputs were not stored; `minimised`: it was "
        "stored under the set's `minimal` privacy, without the attributes a replay needs; "
        "`removed_criterion`: it answered a criterion the candidate does not have."
    )
    criterion: str | None = Field(description="The criterion, for `removed_criterion`.")
    count: int = Field(description="How many decisions.")


class Comparison(BaseModel):
    """Stored decisions against a candidate version: what the impact report and the
    shadow report share."""

    compared: int = Field(description="Decisions decided again by the candidate.")
    changed: int = Field(description="Of those, decisions whose outcome changed.")
    matrix: DecisionMatrix
    criteria: list[CriterionFlips] = Field(
        description="Per criterion, in the candidate's order, then those it removed."
    )
    verdicts: VerdictAgreement


class ChangedDecision(BaseModel):
    id: uuid.UUID = Field(description="The stored decision (GET /evaluations/{id}).")
    created_at: datetime = Field(description="When it was made.")
    old: str = Field(description="The stored decision.")
    new: str = Field(description="The candidate's decision.")
    flipped: list[str] = Field(description="The criteria whose status changed.")


class CandidateRef(BaseModel):
    version: int | None = Field(description="The candidate version; null for a draft.")
    content_hash: str = Field(description="The candidate's content hash.")


class CaseReport(BaseModel):
    passed: int = Field(description="The candidate's cases that pass.")
    failed: list[CaseFailure] = Field(description="Those that fail.")


class ImpactReport(Comparison):
    """What a candidate would have decided on the stored decisions of a window."""

    slug: str = Field(description="The criteria set.")
    candidate: CandidateRef
    since: datetime | None = Field(description="The window's start, if any.")
    until: datetime | None = Field(description="The window's end, if any.")
    not_replayed: int = Field(description="Decisions that could not be decided again.")
    not_replayed_reasons: list[NotReplayed] = Field(description="Why, with counts.")
    truncated: bool = Field(description="Whether `limit` stopped the replay early.")
    cases: CaseReport = Field(description="The candidate's own test cases.")
    sample: list[ChangedDecision] = Field(
        description="Changed decisions (outcome or a criterion), oldest first."
    )
    sample_next: str | None = Field(
        description="Pass as `sample_cursor` for the next page of the sample; null at the end."
    )


class ImpactRequest(BaseModel):
    """A candidate, a draft or a stored version, replayed on the stored decisions."""

    model_config = REQUEST_MODEL

    criteria: CriteriaSetReplace | None = Field(
        default=None, description="A draft: the same body as PUT /criteria/{slug}."
    )
    version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description="A stored version of the set, instead."
    )
    since: IsoDateTime | None = Field(default=None, description="Decisions made at or after.")
    until: IsoDateTime | None = Field(default=None, description="Decisions made before.")
    limit: int = Field(
        default=1_000_000,
        ge=1,
        le=MAX_IMPACT_LIMIT,
        description="At most this many decisions, oldest first.",
    )
    sample_size: int = Field(
        default=20, ge=0, le=MAX_SAMPLE, description="Changed decisions listed in `sample`."
    )
    sample_cursor: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="`sample_next` of a previous report: the sample's next page."
    )

    @model_validator(mode="after")
    def _one_candidate(self) -> "ImpactRequest":
        if (self.criteria is None) == (self.version is None):
            raise ValueError("send either `criteria` (a draft) or `version`, not both or none")
        return self

    @field_validator("until")
    @classmethod
    def _after_since(cls, until: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if since is not None and until is not None and since >= until:
            raise PydanticCustomError("window_empty", UNTIL_MESSAGE)
        return until


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImpactJobPublic(BaseModel):
    id: uuid.UUID = Field(description="The job (GET /criteria/{slug}/impact/{id}).")
    slug: str = Field(description="The criteria set.")
    status: JobStatus = Field(description="`queued`, `running`, `done` or `failed`.")
    total: int = Field(description="Decisions to compare, at most.")
    compared: int = Field(description="Decisions compared so far.")
    created_at: datetime
    finished_at: datetime | None
    error: str | None = Field(description="Why it failed.")
    report: ImpactReport | None = Field(description="The report, once done.")


class ShadowRequest(BaseModel):
    """The candidate to shadow the current version with."""

    model_config = REQUEST_MODEL

    version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description="A stored version of the set."
    )
    criteria: CriteriaSetReplace | None = Field(
        default=None,
        description="A draft (the body of PUT /criteria/{slug}): saved as the set's next "
        "version, not current. Its cases must pass.",
    )

    @model_validator(mode="after")
    def _one_candidate(self) -> "ShadowRequest":
        if (self.criteria is None) == (self.version is None):
            raise ValueError("send either `version` or `criteria` (a draft), not both or none")
        return self


class ShadowPublic(BaseModel):
    slug: str = Field(description="The criteria set.")
    version: int = Field(description="The shadow version.")
    current_version: int = Field(description="The set's current version, which decides.")
    since: datetime = Field(description="When the shadow started.")
    content_hash: str = Field(description="The shadow version's content hash.")


class ShadowReport(Comparison):
    """The shadow so far: stored decisions against what the shadow decided on them."""

    shadow: ShadowPublic


class CaseRequest(BaseModel):
    """How to name the case made from a stored decision."""

    model_config = REQUEST_MODEL

    name: ShortText | None = Field(
        default=None, description="The case's name; `evaluation-<id>` when absent."
    )


class PendingCasePublic(BaseModel):
    slug: str = Field(description="The set whose next version will hold the case.")
    evaluation_id: uuid.UUID = Field(description="The decision it was made from.")
    case: CaseSpec
    expected_from: Literal["verdict", "decision"] = Field(
        description="Whether the expectation comes from the human verdict or the decision."
    )
    passes_current: bool = Field(description="Whether the current version passes it.")
    created_at: datetime
