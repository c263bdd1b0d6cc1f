"""What a caller says about a profile: direct answers and raw attributes.

Shared by evaluation requests (`evaluations.models`) and a criteria set's test cases
(`criteria.models`), which are checked exactly alike.
"""

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
)

from app.errors import InvalidInput, field_path
from app.jsonvalues import MAX_PROFILE_VALUES, find_problem

MAX_EXTRA_ATTRIBUTES = 100

AnswerKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Answer = StrictBool | None
Text = Annotated[str, StringConstraints(max_length=5000)]
Count = Annotated[int, Field(ge=0)]


def _in_utc(value: datetime) -> datetime:
    """The instant in UTC: stored, and read by rules, as one text whatever the offset sent."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range: it must fall between years 1 and 9999 in UTC") from None


Instant = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class ProfileAttributes(BaseModel):
    """Raw profile attributes that criterion rules judge. Every field is optional and other
    attributes are allowed; rules read any of them, nested ones by dotted path."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    headline: Text | None = Field(default=None, description="The profile's headline.")
    current_title: Text | None = Field(default=None, description="Current job title.")
    company: Text | None = Field(default=None, description="Current company.")
    industry: Text | None = Field(default=None, description="Industry, as the network names it.")
    location: Text | None = Field(default=None, description="City or region, as displayed.")
    country: Text | None = Field(default=None, description="Country name or ISO code.")
    connections: Count | None = Field(default=None, description="Number of connections.")
    followers: Count | None = Field(default=None, description="Number of followers.")
    mutual_connections: Count | None = Field(
        default=None, description="Connections shared with me."
    )
    shared_groups: Count | None = Field(default=None, description="Groups shared with me.")
    shared_schools: Count | None = Field(default=None, description="Schools shared with me.")
    skills: list[Annotated[str, StringConstraints(max_length=200)]] | None = Field(
        default=None, max_length=500, description="Listed skills."
    )
    has_message: bool | None = Field(
        default=None, description="Whether the invitation came with a note."
    )
    message: Text | None = Field(default=None, description="The invitation's note.")
    sent_at: Instant | None = Field(
        default=None,
        description="When the invitation was sent (ISO 8601 with its offset); rules read "
        "it as its UTC text, e.g. 2024-09-14T19:31:00Z.",
    )
    met_in_person: bool | None = Field(default=None, description="Whether we have met.")
    engaged_with_my_posts: bool | None = Field(
        default=None, description="Whether the person has reacted to or commented my posts."
    )
    posts_last_90_days: Count | None = Field(
        default=None, description="Posts the person published in the last 90 days."
    )


def check_attributes(attributes: ProfileAttributes, at: tuple[str | int, ...]) -> None:
    """422 for attributes no dump may walk (U+0000, NaN, nesting, too many values) or with
    too many names beyond the vocabulary; `at` is where they are in the body."""
    # The attributes as received, before any dump walks them: free-form, so checked here.
    raw = {name: getattr(attributes, name) for name in attributes.model_fields_set}
    found = find_problem(raw, at, MAX_PROFILE_VALUES)
    if found is not None:
        raise InvalidInput([(field_path(found[0]), found[1])])
    if len(attributes.model_extra or {}) > MAX_EXTRA_ATTRIBUTES:
        raise InvalidInput(
            [
                (
                    field_path(at),
                    f"at most {MAX_EXTRA_ATTRIBUTES} attributes beyond the documented ones",
                )
            ]
        )


def check_answer_keys(
    answers: Mapping[str, object], keys: Collection[str], where: str, at: tuple[str | int, ...]
) -> None:
    """422 naming each answer to a criterion that `where` (a set, a version) does not have."""
    unknown = [key for key in answers if key not in keys]
    if unknown:
        raise InvalidInput(
            [
                (
                    field_path((*at, key)),
                    f"{where} has no criterion '{key}' (it has: {', '.join(sorted(keys))})",
                )
                for key in unknown
            ]
        )
