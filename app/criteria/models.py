"""Criteria sets: stored tables and the API's request and response models."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
    field_serializer,
)
from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlmodel import Field as TableField
from sqlmodel import SQLModel

from app.criteria.rules_schema import CONDITION_REF, LITERAL_SCHEMAS
from app.db import JSONColumn, UTCDateTime, utcnow
from app.engine import Decision, Mode, UnknownMode
from app.jsonvalues import REQUEST_MODEL, storable_text
from app.privacy import Privacy
from app.profiles import Answer, AnswerKey, ProfileAttributes

SLUG_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=64)]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    AfterValidator(storable_text),  # names also travel alone: in paths, in a case's request
]
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")]

MAX_CRITERIA = 50
MAX_VERSION = 1_000_000  # far above any real history, within every integer column
MAX_PARAMS = 100
MAX_CASES = 200

RuleTree = Annotated[dict[str, Any], WithJsonSchema(CONDITION_REF)]
PARAM_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ParamName = Annotated[str, StringConstraints(pattern=PARAM_NAME_PATTERN, max_length=64)]
# List items are strict: a boolean stays a boolean, which the engine refuses in a list,
# instead of silently becoming 0 or 1.
ParamValue = Annotated[
    str | int | float | bool | list[StrictStr | StrictInt | StrictFloat | StrictBool],
    WithJsonSchema({"anyOf": LITERAL_SCHEMAS}),
]
# The names' rule as `propertyNames` and the values as `additionalProperties`, rather than
# pydantic's equivalent `patternProperties`, which client generators leave untyped.
Params = Annotated[
    dict[ParamName, ParamValue],
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"pattern": PARAM_NAME_PATTERN, "maxLength": 64},
            "additionalProperties": {"anyOf": LITERAL_SCHEMAS},
            "maxProperties": MAX_PARAMS,
        }
    ),
]


# --- tables ---------------------------------------------------------------


class CriteriaSet(SQLModel, table=True):
    """A named, versioned criteria set; its content lives in `CriteriaVersion` rows."""

    __tablename__ = "criteria_set"
    __table_args__ = (
        # At most one default set, enforced by the database itself.
        Index(
            "uq_criteria_set_is_default",
            "is_default",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: int | None = TableField(default=None, primary_key=True)
    slug: str = TableField(max_length=64, unique=True)
    current_version: int
    is_default: bool = False
    # The version that every stored evaluation is also decided with, unseen by callers.
    shadow_version: int | None = None
    shadow_since: datetime | None = TableField(default=None, sa_type=UTCDateTime)
    archived_at: datetime | None = TableField(default=None, sa_type=UTCDateTime)
    created_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)
    # The current version's, copied when it becomes current: what the writer and the purge
    # read of a set without reading its versions.
    privacy: str = TableField(default=Privacy.FULL, max_length=16)
    retention_days: int | None = None


class CriteriaVersion(SQLModel, table=True):
    """One immutable version of a criteria set."""

    __tablename__ = "criteria_version"
    __table_args__ = (UniqueConstraint("criteria_set_id", "version"),)

    id: int | None = TableField(default=None, primary_key=True)
    criteria_set_id: int = TableField(foreign_key="criteria_set.id", index=True)
    version: int
    name: str
    description: str
    locale: str
    criteria: list[dict[str, Any]] = TableField(sa_column=Column(JSONColumn, nullable=False))
    policy: dict[str, Any] = TableField(sa_column=Column(JSONColumn, nullable=False))
    params: dict[str, Any] = TableField(
        default_factory=dict, sa_column=Column(JSONColumn, nullable=False)
    )
    cases: list[dict[str, Any]] = TableField(
        default_factory=list, sa_column=Column(JSONColumn, nullable=False)
    )
    # What the cases reach, per criterion, worked out when the version was saved.
    coverage: list[dict[str, Any]] = TableField(
        default_factory=list, sa_column=Column(JSONColumn, nullable=False)
    )
    created_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)
    privacy: str = TableField(default=Privacy.FULL, max_length=16)
    retention_days: int | None = None


class PendingCase(SQLModel, table=True):
    """A case made from a stored decision (POST /evaluations/{id}/case), waiting to join
    the set's next version: every version saved checks it, and the next current one keeps it."""

    __tablename__ = "criteria_pending_case"
    __table_args__ = (UniqueConstraint("criteria_set_id", "name"),)

    id: int | None = TableField(default=None, primary_key=True)
    criteria_set_id: int = TableField(foreign_key="criteria_set.id", index=True)
    name: str = TableField(max_length=120)
    case: dict[str, Any] = TableField(sa_column=Column(JSONColumn, nullable=False))
    evaluation_id: uuid.UUID
    api_key_id: str | None = TableField(default=None, max_length=12)
    created_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)


# --- API models -----------------------------------------------------------


class CriterionSpec(BaseModel):
    """One criterion of a set: a yes/no question about the profile."""

    model_config = REQUEST_MODEL

    key: Slug = Field(description="Identifier of the criterion, unique in its set.")
    label: ShortText = Field(description="Short name shown in summaries.")
    question: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)
    ] = Field(description="The question a person answers yes or no.")
    description: LongText | None = Field(default=None, description="What the criterion means.")
    weight: float = Field(
        default=1.0, gt=0, le=1000, description="Points the criterion adds in `score` mode."
    )
    required: bool = Field(
        default=False,
        description="Not met forces `decline`; unknown allows at most `review`.",
    )
    rules: RuleTree | None = Field(
        default=None,
        description="How to judge the criterion from profile attributes when no answer is "
        "given. An explicit answer wins over the rules.",
    )


class PolicySpec(BaseModel):
    """How the criteria met turn into a decision."""

    model_config = REQUEST_MODEL

    mode: Mode = Field(
        default=Mode.COUNT,
        description="`count` counts the criteria met; `score` sums their weights.",
    )
    accept_at: float = Field(
        gt=0, le=50_000, description="Count or score at which the decision is `accept`."
    )
    review_at: float | None = Field(
        default=None,
        gt=0,
        le=50_000,
        description="Count or score from which, below `accept_at`, the decision is `review`.",
    )
    unknown: UnknownMode = Field(
        default=UnknownMode.NOT_MET,
        description="`not_met`: an unanswered criterion counts as not met. "
        "`review`: a decision that the unanswered criteria could flip becomes `review`.",
    )


class CaseExpectation(BaseModel):
    """What a case expects: only what it names is checked."""

    model_config = REQUEST_MODEL

    decision: Decision = Field(description="The decision expected.")
    met: dict[Slug, bool | None] = Field(
        default_factory=dict,
        max_length=MAX_CRITERIA,
        description="Per criterion key: expected met (true), not met (false) or unknown (null).",
    )


class CaseSpec(BaseModel):
    """A test case: a profile and what the set must decide about it. Every version saved
    runs its cases first; one that fails blocks the save."""

    model_config = REQUEST_MODEL

    name: ShortText = Field(description="Unique in the set; names the case in reports.")
    answers: dict[AnswerKey, Answer] = Field(
        default_factory=dict,
        max_length=MAX_CRITERIA,
        description="Direct answers, as in POST /evaluate.",
    )
    attributes: ProfileAttributes = Field(
        default_factory=ProfileAttributes,
        description="Profile attributes, as in POST /evaluate.",
    )
    expect: CaseExpectation

    # No return annotation: pydantic would document it in place of ProfileAttributes.
    @field_serializer("attributes", mode="wrap")
    def _given_only(  # type: ignore[no-untyped-def]
        self, attributes: ProfileAttributes, handler: SerializerFunctionWrapHandler
    ):
        """The attributes a case gives, as it was written: no `null` for each one it does not."""
        return {name: value for name, value in handler(attributes).items() if value is not None}

    def profile(self) -> dict[str, Any]:
        """The attributes given: a null one is a missing one, to the rules as to the hash."""
        return self.attributes.model_dump(mode="json", exclude_none=True)


class CriteriaContent(BaseModel):
    """The content of a criteria set, as sent to create or replace it."""

    model_config = REQUEST_MODEL

    name: ShortText = Field(description="Human name of the set.")
    description: LongText = Field(default="", description="What the set is for.")
    locale: Locale = Field(default="en", description="Language of labels and questions (BCP 47).")
    criteria: list[CriterionSpec] = Field(
        min_length=1, max_length=MAX_CRITERIA, description="The criteria, in display order."
    )
    policy: PolicySpec
    params: Params = Field(
        default_factory=dict,
        max_length=MAX_PARAMS,
        description="Named values (industries, keywords, thresholds) that rules refer to "
        'with `{"param": "name"}`, so targets change without rewriting rules.',
    )
    cases: list[CaseSpec] = Field(
        default_factory=list,
        max_length=MAX_CASES,
        description="Test cases: each must pass for the version to be saved.",
    )
    privacy: Privacy | None = Field(
        default=None,
        description="What the decision log keeps of the set's decisions. `full`: the inputs "
        "as given. `minimal`: no attributes, no subject name, the ref only as a keyed hash, "
        "and explanations without the profile's values; such decisions cannot be replayed. "
        "Absent: the set's current privacy, or REFLEXE_PRIVACY_DEFAULT for a new set. The "
        "current version's privacy governs every decision of the set.",
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="Days the set's decisions are kept before the daily purge removes them, "
        "over REFLEXE_RETENTION_DAYS; absent: the deployment's retention.",
    )


class CriteriaSetCreate(CriteriaContent):
    slug: Slug = Field(description="Identifier of the set in URLs, e.g. `pipu`.")


class CriteriaSetReplace(CriteriaContent):
    """The next version of a set. A set as GET returns it may be sent back, edited: its
    `slug` must be the set's own, and the fields the server manages are ignored."""

    slug: Slug | None = Field(
        default=None, description="The set's slug, if sent: it must be the one in the URL."
    )
    version: int | None = Field(
        default=None, description="Ignored: the server numbers versions (If-Match says which)."
    )
    created_at: datetime | None = Field(default=None, description="Ignored: set by the server.")
    is_default: bool | None = Field(
        default=None, description="Ignored: see POST /criteria/{slug}/default."
    )
    archived_at: datetime | None = Field(
        default=None, description="Ignored: see DELETE and POST /criteria/{slug}/restore."
    )
    content_hash: str | None = Field(default=None, description="Ignored: worked out by the server.")
    coverage: list[Any] | None = Field(
        default=None, description="Ignored: worked out by the server."
    )
    shadow_version: int | None = Field(
        default=None, description="Ignored: see PUT /criteria/{slug}/shadow."
    )
    pending_cases: list[Any] | None = Field(
        default=None, description="Ignored: see POST /evaluations/{id}/case."
    )


class CriterionCoverage(BaseModel):
    key: str = Field(description="The criterion's key.")
    met: bool = Field(description="Whether a case finds it met.")
    not_met: bool = Field(description="Whether a case finds it not met.")
    unknown: bool = Field(description="Whether a case finds it unknown.")


class CriteriaVersionPublic(CriteriaSetCreate):
    version: int = Field(description="Version number, from 1.")
    created_at: datetime = Field(description="When this version was stored.")
    content_hash: str = Field(
        description="`sha256:` and the hex digest of the version's canonical content (RFC "
        "8785 JSON of everything but the server's fields): the same file gives the same hash."
    )
    coverage: list[CriterionCoverage] = Field(
        description="Per criterion, which statuses the version's cases reach."
    )


class CriteriaSetPublic(CriteriaVersionPublic):
    is_default: bool = Field(description="Whether evaluations that name no set use this one.")
    shadow_version: int | None = Field(
        default=None, description="The version shadowing this one on live traffic, if any."
    )
    pending_cases: list[CaseSpec] = Field(
        default_factory=list,
        description="Cases made from stored decisions, which the next version saved must pass.",
    )
    archived_at: datetime | None = Field(
        default=None, description="When the set was archived; archived sets cannot evaluate."
    )


class CriteriaSetList(BaseModel):
    items: list[CriteriaSetPublic]


class CriteriaVersionList(BaseModel):
    items: list[CriteriaVersionPublic]
