"""Criteria sets: stored tables and the API's request and response models."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
)
from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlmodel import Field as TableField
from sqlmodel import SQLModel

from app.criteria.rules_schema import CONDITION_REF, LITERAL_SCHEMAS
from app.db import JSONColumn, UTCDateTime, utcnow
from app.engine import Mode, UnknownMode
from app.jsonvalues import REQUEST_MODEL

SLUG_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=64)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")]

MAX_CRITERIA = 50
MAX_VERSION = 1_000_000  # far above any real history, within every integer column
MAX_PARAMS = 100

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
    archived_at: datetime | None = TableField(default=None, sa_type=UTCDateTime)
    created_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)


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


class CriteriaVersionPublic(CriteriaSetCreate):
    version: int = Field(description="Version number, from 1.")
    created_at: datetime = Field(description="When this version was stored.")


class CriteriaSetPublic(CriteriaVersionPublic):
    is_default: bool = Field(description="Whether evaluations that name no set use this one.")
    archived_at: datetime | None = Field(
        default=None, description="When the set was archived; archived sets cannot evaluate."
    )


class CriteriaSetList(BaseModel):
    items: list[CriteriaSetPublic]


class CriteriaVersionList(BaseModel):
    items: list[CriteriaVersionPublic]
