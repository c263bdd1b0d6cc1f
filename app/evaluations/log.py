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
from app.evaluations.models import EvaluationInputs, EvaluationRecord, IsoDateTime, Subject
from app.evaluations.repository import EvaluationFilter
from app.jsonvalues import NUL_MESSAGE

# A cursor is the (created_at, id) of the last decision of a page, as JSON in base64.
_CURSOR = TypeAdapter(tuple[IsoDateTime, uuid.UUID])


def get_evaluation(
    session: Session, evaluation_id: uuid.UUID, *, owner: str | None = None
) -> bytes:
    """A stored decision: the answer given when it was made, byte for byte.

    With an `owner`, only a decision asked for by that API key is found.
    """
    return _load(session, evaluation_id, owner).answer.encode()


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
) -> bytes:
    """A page of stored decisions, newest first, as the JSON of an `EvaluationPage`."""
    if filters.subject_ref is not None and "\x00" in filters.subject_ref:
        raise InvalidInput([("subject", NUL_MESSAGE)], location="query")
    after = _decode_cursor(cursor) if cursor else None
    records = repository.list_page(session, filters, limit=limit + 1, after=after)
    page, more = records[:limit], len(records) > limit
    next_cursor = json.dumps(_encode_cursor(page[-1]) if more else None)
    # Each item is the stored answer as it is: the page is assembled, never re-encoded.
    items = ",".join(record.answer for record in page)
    return f'{{"items":[{items}],"next_cursor":{next_cursor}}}'.encode()


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
