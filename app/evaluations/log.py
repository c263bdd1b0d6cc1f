"""Reading the decision log: one stored decision, or a page of them, each with its current
verdict (app.reviews) next to the machine's decision."""

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from pydantic import TypeAdapter
from pydantic_core import to_json
from sqlmodel import Session

from app.errors import InvalidInput, NotFound
from app.evaluations import repository
from app.evaluations.models import (
    EvaluationInputs,
    EvaluationRecord,
    IsoDateTime,
    Subject,
)
from app.evaluations.repository import EvaluationFilter
from app.privacy import Privacy, SubjectKeys
from app.reviews import repository as verdicts_repository
from app.reviews.models import Verdict

# A cursor is the (created_at, id) of the last decision of a page, as JSON in base64.
_CURSOR = TypeAdapter(tuple[IsoDateTime, uuid.UUID])


def get_evaluation(
    session: Session, evaluation_id: uuid.UUID, *, owner: str | None = None
) -> bytes:
    """A stored decision: the answer given when it was made, byte for byte.

    With an `owner`, only a decision asked for by that API key is found.
    """
    record = load_record(session, evaluation_id, owner)
    return answers_of(session, [record])[0].encode()


def get_inputs(
    session: Session, evaluation_id: uuid.UUID, *, owner: str | None = None
) -> EvaluationInputs:
    """The subject, answers and attributes a stored decision was made from."""
    return inputs_of(load_record(session, evaluation_id, owner))


def inputs_of(record: EvaluationRecord) -> EvaluationInputs:
    """What a stored decision was made from, as stored."""
    return EvaluationInputs(
        id=record.id,
        subject=_subject(record),
        answers=record.answers,
        attributes=record.attributes,
        privacy=Privacy(record.privacy),
    )


def load_record(
    session: Session, evaluation_id: uuid.UUID, owner: str | None = None
) -> EvaluationRecord:
    """A stored decision's row; 404 if there is none (or not `owner`'s, given one)."""
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
    after = decode_cursor(cursor) if cursor else None
    records = repository.list_page(session, filters, limit=limit + 1, after=after)
    page, more = records[:limit], len(records) > limit
    next_cursor = json.dumps(encode_cursor(page[-1]) if more else None)
    # Each item is the stored answer as it is: the page is assembled, never re-encoded.
    items = ",".join(answers_of(session, page))
    return f'{{"items":[{items}],"next_cursor":{next_cursor}}}'.encode()


def subject_key_of(keys: SubjectKeys, ref: str | None) -> str | None:
    """The `subject` query parameter (a LookupRef) as the key decisions are stored under."""
    return None if ref is None else keys.of(ref)


def answers_of(session: Session, records: Sequence[EvaluationRecord]) -> list[str]:
    """Each decision's stored answer, as it was given, with its current verdict if any.

    Only `verdict` and `final_decision` are ever filled in; without a verdict the answer is
    returned byte for byte.
    """
    verdicts = verdicts_repository.current_of(session, [record.id for record in records])
    return [
        record.answer if record.id not in verdicts else _with(record.answer, verdicts[record.id])
        for record in records
    ]


def _with(answer: str, verdict: Verdict) -> str:
    document = json.loads(answer)
    document["verdict"] = verdict.public().model_dump(mode="json")
    document["final_decision"] = verdict.decision
    return to_json(document).decode()


def encode_cursor(record: EvaluationRecord) -> str:
    return encode_position(record.created_at, record.id)


def encode_position(created_at: datetime, evaluation_id: uuid.UUID) -> str:
    """An opaque cursor for a place in the log's order, `(created_at, id)`."""
    raw = json.dumps([created_at.isoformat(), str(evaluation_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, location: str = "query") -> tuple[datetime, uuid.UUID]:
    """The position a cursor names; 422 for `cursor` (in the query, or where `location` says)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return _CURSOR.validate_json(raw, strict=True)
    except (binascii.Error, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise InvalidInput(
            [("cursor", "not a cursor returned by this endpoint")], location=location
        ) from exc
