"""Reading the decision log: one stored decision, or a page of them."""

import base64
import binascii
import json
import uuid
from datetime import datetime

from pydantic import TypeAdapter
from sqlmodel import Session

from app.errors import InvalidInput, NotFound
from app.evaluations import repository
from app.evaluations.models import (
    CriteriaSetRef,
    CriterionOutcome,
    EvaluationInputs,
    EvaluationPage,
    EvaluationPublic,
    EvaluationRecord,
    IsoDateTime,
    Subject,
)
from app.evaluations.repository import EvaluationFilter
from app.jsonvalues import NUL_MESSAGE

# A cursor is the (created_at, id) of the last decision of a page, as JSON in base64.
_CURSOR = TypeAdapter(tuple[IsoDateTime, uuid.UUID])


def get_evaluation(
    session: Session, evaluation_id: uuid.UUID, *, owner: str | None = None
) -> EvaluationPublic:
    """A stored decision, exactly as it was returned when it was made.

    With an `owner`, only a decision asked for by that API key is found.
    """
    return _public(_load(session, evaluation_id, owner))


def get_inputs(
    session: Session, evaluation_id: uuid.UUID, *, owner: str | None = None
) -> EvaluationInputs:
    """The subject, answers and attributes a stored decision was made from."""
    record = _load(session, evaluation_id, owner)
    return EvaluationInputs(
        id=record.id,
        subject=_subject(record),
        answers=record.answers,
        attributes=record.attributes,
    )


def _load(session: Session, evaluation_id: uuid.UUID, owner: str | None) -> EvaluationRecord:
    record = repository.get(session, evaluation_id)
    if record is None or (owner is not None and record.api_key_id != owner):
        raise NotFound(f"No evaluation '{evaluation_id}'.")
    return record


def _subject(record: EvaluationRecord) -> Subject | None:
    if record.subject_ref is None and record.subject_name is None:
        return None
    return Subject(ref=record.subject_ref, name=record.subject_name)


def list_evaluations(
    session: Session, filters: EvaluationFilter, *, limit: int, cursor: str | None
) -> EvaluationPage:
    """A page of stored decisions, newest first."""
    if filters.subject_ref is not None and "\x00" in filters.subject_ref:
        raise InvalidInput([("subject", NUL_MESSAGE)], location="query")
    after = _decode_cursor(cursor) if cursor else None
    records = repository.list_page(session, filters, limit=limit + 1, after=after)
    page, more = records[:limit], len(records) > limit
    next_cursor = _encode_cursor(page[-1]) if more else None
    return EvaluationPage(items=[_public(record) for record in page], next_cursor=next_cursor)


def _public(record: EvaluationRecord) -> EvaluationPublic:
    return EvaluationPublic(
        id=record.id,
        decision=record.decision,
        criteria_set=CriteriaSetRef(
            slug=record.criteria_set_slug, version=record.criteria_set_version
        ),
        subject=_subject(record),
        met=record.met,
        score=record.score,
        needed=record.needed,
        criteria=[CriterionOutcome.model_validate(result) for result in record.results],
        summary=record.summary,
        to_change=record.to_change,
        created_at=record.created_at,
        api_key_id=record.api_key_id,
    )


def _encode_cursor(record: EvaluationRecord) -> str:
    raw = json.dumps([record.created_at.isoformat(), str(record.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return _CURSOR.validate_json(raw, strict=True)
    except (binascii.Error, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise InvalidInput(
            [("cursor", "not a cursor returned by this endpoint")], location="query"
        ) from exc
