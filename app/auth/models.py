"""API keys: the stored table and the API's request and response models."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from sqlmodel import Field as TableField
from sqlmodel import SQLModel

from app.db import UTCDateTime, utcnow
from app.jsonvalues import REQUEST_MODEL, storable_text

KEY_ID = r"[0-9a-f]{12}"
KEY_ID_PATTERN = rf"^{KEY_ID}$"
KeyName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(storable_text),
]


class Role(StrEnum):
    """What a key may do. `admin`: everything; `evaluator`: evaluate, read the criteria and
    the evaluations it made; `auditor`: read the criteria, every evaluation, the review
    queue and the statistics; `reviewer`: what an auditor may, and record verdicts."""

    admin = "admin"
    evaluator = "evaluator"
    auditor = "auditor"
    reviewer = "reviewer"


# --- table ------------------------------------------------------------------


class ApiKey(SQLModel, table=True):
    """An API key, stored only as a keyed hash of its token."""

    __tablename__ = "api_key"

    id: str = TableField(primary_key=True, max_length=12)
    name: str = TableField(max_length=100)
    role: str = TableField(max_length=16)
    hash: str = TableField(max_length=64)
    created_at: datetime = TableField(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = TableField(default=None, sa_type=UTCDateTime)


# --- API models ---------------------------------------------------------------


class ApiKeyCreate(BaseModel):
    model_config = REQUEST_MODEL

    name: KeyName = Field(description="What the key is for, e.g. `ci` or `crm-sync`.")
    role: Role = Field(description="What the key may do.")


class ApiKeyPublic(BaseModel):
    id: str = Field(description="The key's public id, also the part after `rfx_` in the key.")
    name: str = Field(description="What the key is for.")
    role: Role = Field(description="What the key may do.")
    created_at: datetime = Field(description="When the key was created (UTC).")
    revoked_at: datetime | None = Field(description="When the key was revoked, if it was.")


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(
        description="The key itself, to send as `Authorization: Bearer <key>`. "
        "Shown this once: only a keyed hash of it is stored."
    )


class ApiKeyList(BaseModel):
    items: list[ApiKeyPublic] = Field(description="Every key, newest first.")
