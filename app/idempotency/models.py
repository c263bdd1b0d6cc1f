"""Idempotency keys: a claimed key, then the response it produced."""

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class IdempotencyRecord(SQLModel, table=True):
    """One `Idempotency-Key` of one caller: pending while `status` is null."""

    __tablename__ = "idempotency_key"

    scope: str = Field(default="", max_length=64, primary_key=True)
    key: str = Field(max_length=255, primary_key=True)
    request_hash: str = Field(max_length=64)
    status: int | None = None
    response: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    location: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
