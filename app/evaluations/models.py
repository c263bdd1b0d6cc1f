"""Evaluations: the decision log table and the evaluate API's models."""

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import Column, Index, text
from sqlalchemy import Text as TextColumn
from sqlmodel import Field as TableField
from sqlmodel import SQLModel

from app.criteria.models import MAX_CRITERIA, MAX_VERSION, CriteriaContent, Slug
from app.db import JSONColumn, UTCDateTime, utcnow
from app.engine import Decision, Source
from app.errors import InvalidInput, Problem
from app.jsonvalues import REQUEST_MODEL, storable_text
from app.privacy import SUBJECT_KEY_LENGTH, Privacy
from app.profiles import AnswerKey, ProfileAttributes

# --- table ------------------------------------------------------------------


class EvaluationRecord(SQLModel, table=True):
    """One stored decision: what the log is searched by, what it was made from, and the
    answer the caller was given, kept byte for byte (a read returns it as it is).

    The one definition of a stored decision: the writer's insert and its bind formats are
    derived from this table (`evaluations.writer`), `evaluations.deciding` fills a row of
    it, and `EvaluationPublic` documents `answer`.
    """

    __tablename__ = "evaluation"
    __table_args__ = (
        Index("ix_evaluation_created_at_id", "created_at", "id"),
        Index("ix_evaluation_subject_key_created_at", "subject_key", "created_at"),
        Index("ix_evaluation_api_key_id_created_at", "api_key_id", "created_at"),
        # Statistics read these two indexes alone, never the rows (app.reviews.stats): a
        # whole set in the order its counts are grouped by, or a range of days.
        Index(
            "ix_evaluation_stats",
            "criteria_set_slug",
            "criteria_set_version",
            "decision",
            "statuses",
            "created_at",
        ),
        Index(
            "ix_evaluation_days",
            "criteria_set_slug",
            "created_on",
            "decision",
            "criteria_set_version",
            "statuses",
            "created_at",
        ),
        # The shadow's report reads this index alone, and only shadowed decisions enter it.
        Index(
            "ix_evaluation_shadow",
            "criteria_set_slug",
            "shadow_version",
            "criteria_set_version",
            "decision",
            "shadow_decision",
            "statuses",
            "shadow_statuses",
            sqlite_where=text("shadow_version IS NOT NULL"),
            postgresql_where=text("shadow_version IS NOT NULL"),
        ),
    )

    id: uuid.UUID = TableField(default_factory=uuid.uuid4, primary_key=True)
    criteria_version_id: int = TableField(foreign_key="criteria_version.id", index=True)
    criteria_set_slug: str = TableField(max_length=64)
    criteria_set_version: int
    subject_ref: str | None = TableField(default=None, max_length=2048)
    subject_name: str | None = TableField(default=None, max_length=200)
    # The ref's keyed hash (app.privacy.SubjectKeys), kept whatever the privacy: how a
    # person's decisions are found, linked, shown and erased. Under `minimal` the ref is not.
    subject_key: str | None = TableField(default=None, max_length=SUBJECT_KEY_LENGTH)
    # What the row keeps: `full` (inputs as given) or `minimal` (app.privacy.Privacy).
    privacy: str = TableField(default=Privacy.FULL, max_length=16)
    decision: str = TableField(max_length=16)
    created_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)
    api_key_id: str | None = TableField(default=None, foreign_key="api_key.id", max_length=12)
    answers: dict[str, Any] = TableField(sa_column=Column(JSONColumn, nullable=False))
    attributes: dict[str, Any] = TableField(sa_column=Column(JSONColumn, nullable=False))
    answer: str = TableField(sa_column=Column(TextColumn, nullable=False))
    # Each criterion's status, in the version's order, two characters: met (`+`), not met
    # (`-`) or unknown (`?`), then its source (`a`nswer, `r`ules, `n`one): `+r-r?n+a`.
    statuses: str = TableField(max_length=2 * MAX_CRITERIA)
    # The subject's decision before this one under the same set (None: the first).
    previous_id: uuid.UUID | None = TableField(default=None)
    # The day of `created_at`, in UTC: what statistics count per day.
    created_on: date
    # The set's shadow version, if one was active, and what it decided: never told to the
    # caller. Its statuses are one character a criterion (`+`, `-`, `?`), in its order.
    shadow_version: int | None = None
    shadow_decision: str | None = TableField(default=None, max_length=16)
    shadow_statuses: str | None = TableField(default=None, max_length=MAX_CRITERIA)


# --- API models ---------------------------------------------------------------

SubjectRef = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


# A ref that names a subject to find or erase: what /evaluate would refuse, names no one.
LookupRef = Annotated[SubjectRef, AfterValidator(storable_text)]


ISO_8601_MESSAGE = "expected an ISO 8601 date-time, e.g. 2026-01-31T09:00:00Z"


def _iso_8601(value: object) -> object:
    """Parse text as ISO 8601 only: pydantic alone reads `2026` as 2026 seconds after 1970,
    and a JSON number as much."""
    if isinstance(value, int | float):
        raise PydanticCustomError("iso_8601", ISO_8601_MESSAGE)
    if not isinstance(value, str):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("iso_8601", ISO_8601_MESSAGE) from None


def _in_utc(value: datetime) -> datetime:
    """The instant in UTC, which is how every timestamp is stored and compared."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", "out of range: it must fall between years 1 and 9999 in UTC"
        ) from None


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_8601), AfterValidator(_in_utc)]
UNTIL_MESSAGE = "must come after `since`: the window from `since` to `until` is empty"


def check_window(since: datetime | None, until: datetime | None) -> None:
    """422 for the `until` query parameter when no instant is at or after `since` and
    before `until`."""
    if since is not None and until is not None and since >= until:
        raise InvalidInput([("until", UNTIL_MESSAGE)], location="query")


class Subject(BaseModel):
    """Who is being judged."""

    model_config = REQUEST_MODEL

    ref: SubjectRef | None = Field(
        default=None, description="A stable identifier, such as the profile URL."
    )
    name: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="Display name."
    )


class EvaluationRequest(BaseModel):
    """A profile to judge against a criteria set."""

    model_config = ConfigDict(
        **REQUEST_MODEL,
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
    criteria: CriteriaContent | None = Field(
        default=None,
        description="A draft criteria set to try, in place of `criteria_set`; "
        "only with `dry_run`. Validated exactly as a saved one.",
    )
    version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_VERSION,
        description="Pin an older version of the set; the current when absent.",
    )
    subject: Subject | None = Field(default=None, description="Who is being judged.")
    answers: dict[AnswerKey, StrictBool | None] = Field(
        default_factory=dict,
        max_length=MAX_CRITERIA,
        description="Direct answers: criterion key to true, false or null (unknown).",
    )
    attributes: ProfileAttributes = Field(
        default_factory=ProfileAttributes,
        description="Raw profile attributes that criterion rules judge; stored with the decision.",
    )
    dry_run: bool = Field(default=False, description="Decide without storing the decision.")

    def profile(self) -> dict[str, Any]:
        """The attributes as sent, without the vocabulary's absent fields."""
        return self.attributes.model_dump(mode="json", exclude_unset=True)


class CriteriaSetRef(BaseModel):
    slug: str = Field(description="The criteria set used.")
    version: int = Field(description="The exact version used.")


class EvidencePublic(BaseModel):
    attribute: str = Field(description="The attribute the rule read.")
    operator: str = Field(description="The rule's operator.")
    expected: Any = Field(
        description="The literal the rule compared with; null when it names a param."
    )
    param: str | None = Field(
        default=None, description="The set param the rule compared with (see the version)."
    )
    actual: Any = Field(
        description="The attribute's value in the profile (null if missing), quoted: a text "
        "keeps its first 100 characters and ends with …, a list or object its first 10 "
        "entries. The stored inputs keep the whole value."
    )
    actual_shortened: bool = Field(
        default=False, description="Whether `actual` leaves part of the value out."
    )
    result: bool | None = Field(description="The leaf's verdict; null when unknown.")
    reason: str = Field(description="The verdict in words.")


class CriterionOutcome(BaseModel):
    key: str = Field(description="The criterion's key.")
    label: str = Field(description="The criterion's label.")
    met: bool | None = Field(description="Met, not met, or null when unknown.")
    source: Source = Field(
        description="What decided it: `answer`, `rules`, or `none` when nothing did."
    )
    reasons: list[str] = Field(description="Why, in words.")
    evidence: list[EvidencePublic] = Field(
        default_factory=list,
        description="The rule leaves that decided it, with the attribute values seen.",
    )


class CriterionFlip(BaseModel):
    key: str = Field(description="The criterion's key.")
    was: bool | None = Field(description="Whether it was met in the previous decision.")
    now: bool | None = Field(description="Whether it is met in this one.")


class Changes(BaseModel):
    """What changed since the subject's previous decision under the same set."""

    attributes: list[str] = Field(
        description="The attributes added, removed or changed, by name (their values are in "
        "each decision's inputs)."
    )
    criteria: list[CriterionFlip] = Field(description="The criteria whose status changed.")
    decision: bool = Field(description="Whether the decision changed.")


class VerdictPublic(BaseModel):
    """A person's verdict on a stored decision, kept next to the machine's."""

    evaluation_id: uuid.UUID = Field(description="The decision judged.")
    sequence: int = Field(description="1 for the first verdict on the decision, then 2, ...")
    current: bool = Field(description="Whether it is the decision's current verdict.")
    decision: Literal["accept", "decline"] = Field(description="The person's decision.")
    machine_decision: Decision = Field(description="The decision the criteria made.")
    agrees: bool | None = Field(
        description="Whether the person agrees with the machine; null for a `review`, which "
        "had no decision to agree with."
    )
    criteria: dict[str, bool] | None = Field(
        description="Per criterion, whether the person judges it met; null if not given."
    )
    reason: str = Field(description="Why, in short.")
    note: str | None = Field(description="A longer note.")
    api_key_id: str | None = Field(description="The key of who gave it.")
    created_at: datetime = Field(description="When it was given.")


class EvaluationPublic(BaseModel):
    """A decision with its reasons."""

    id: uuid.UUID | None = Field(description="Id of the stored decision; null on a dry run.")
    decision: Decision = Field(description="`accept`, `decline` or `review`.")
    criteria_set: CriteriaSetRef | None = Field(
        description="The set and version used; null for inline criteria."
    )
    subject: Subject | None = Field(default=None, description="Who was judged.")
    met: int = Field(description="How many criteria are met.")
    score: float = Field(description="Sum of the weights of the criteria met.")
    needed: float = Field(description="The policy's `accept_at`.")
    criteria: list[CriterionOutcome] = Field(description="One entry per criterion, in order.")
    summary: str = Field(description="The decision in one sentence.")
    to_change: list[str] = Field(description="What would flip the decision.")
    created_at: datetime = Field(description="When the decision was made.")
    api_key_id: str | None = Field(
        default=None,
        description="Id of the API key that asked for the decision; null in development mode.",
    )
    previous_id: uuid.UUID | None = Field(
        default=None,
        description="The subject's previous decision under the same criteria set (by "
        "`subject.ref`); null for the first, a dry run, or no `ref`.",
    )
    changes: Changes | None = Field(
        default=None, description="What changed since `previous_id`; null without one."
    )
    verdict: VerdictPublic | None = Field(
        default=None,
        description="The current human verdict (PUT /evaluations/{id}/verdict); null if none.",
    )
    final_decision: Decision = Field(
        description="The verdict's decision, or the machine's when there is no verdict."
    )
    privacy: Privacy = Field(
        default=Privacy.FULL,
        description="What the log keeps of this decision (the set's `privacy`). `full`: "
        "read back byte for byte as it was answered. `minimal`: read back without the "
        "profile's values (no `subject`, evidence without `actual`, reasons without the "
        "values seen), while the caller of POST was answered in full.",
    )


MAX_BATCH = 1000


class BatchRequest(BaseModel):
    """Up to 1,000 evaluation requests, judged and stored together."""

    model_config = REQUEST_MODEL

    items: Annotated[
        list[Any],
        WithJsonSchema(
            {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH,
                # Any JSON: an item that is not a valid EvaluationRequest gets its own
                # problem entry rather than failing the batch.
                "items": {
                    "description": "An evaluation request, as for POST /evaluate "
                    "(see EvaluationRequest)."
                },
            }
        ),
    ] = Field(min_length=1, max_length=MAX_BATCH, description="The evaluation requests.")
    answer: Literal["full", "compact"] = Field(
        default="full",
        description="`full`: each item's whole decision, as POST /evaluate answers it. "
        "`compact`: only its `id`, `decision` and `summary` (the whole decision stays "
        "readable at GET /evaluations/{id}), for bulk callers.",
    )


class BatchItem(BaseModel):
    index: int = Field(description="Position of the item in the request.")
    status: int = Field(description="201 stored, 200 dry run, or the item's error status.")
    evaluation: EvaluationPublic | None = Field(
        default=None, description="The decision (a full answer)."
    )
    id: uuid.UUID | None = Field(
        default=None,
        description="Id of the stored decision (a compact answer; null for a dry run).",
    )
    decision: Decision | None = Field(default=None, description="The decision (a compact answer).")
    summary: str | None = Field(
        default=None, description="The decision in one sentence (a compact answer)."
    )
    problem: Problem | None = Field(default=None, description="Why the item was refused.")


class BatchResult(BaseModel):
    items: list[BatchItem] = Field(description="One result per item, in request order.")
    stored: int = Field(description="How many decisions were stored.")
    failed: int = Field(description="How many items were refused.")


class EvaluationInputs(BaseModel):
    """What a stored decision was made from, as stored: the full values, never shortened."""

    id: uuid.UUID = Field(description="Id of the stored decision.")
    subject: Subject | None = Field(description="Who was judged.")
    answers: dict[str, bool | None] = Field(description="The direct answers sent.")
    attributes: dict[str, Any] = Field(
        description="The profile attributes sent; empty under `minimal`, which keeps none."
    )
    privacy: Privacy = Field(
        default=Privacy.FULL, description="What the log keeps of this decision."
    )


class EvaluationPage(BaseModel):
    items: list[EvaluationPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
