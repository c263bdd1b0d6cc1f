"""Evaluate profiles against criteria sets and keep the decision log."""

import base64
import binascii
import json
import uuid
from datetime import datetime

from sqlmodel import Session

from app.criteria import service as criteria_service
from app.db import utcnow
from app.engine import evaluate as run_engine
from app.errors import InvalidInput, NotFound
from app.evaluations import repository
from app.evaluations.models import (
    CriteriaSetRef,
    CriterionOutcome,
    EvaluationPage,
    EvaluationPublic,
    EvaluationRecord,
    EvaluationRequest,
    Subject,
)
from app.evaluations.repository import EvaluationFilter


def evaluate(session: Session, request: EvaluationRequest) -> EvaluationPublic:
    """Decide on a profile; unless it is a dry run, store the decision before answering."""
    resolved = criteria_service.resolve(session, request.criteria_set, request.version)
    keys = {criterion.key for criterion in resolved.definition.criteria}
    unknown_keys = [key for key in request.answers if key not in keys]
    if unknown_keys:
        raise InvalidInput(
            [
                (
                    f"answers.{key}",
                    f"criteria set '{resolved.slug}' version {resolved.version.version} "
                    f"has no criterion '{key}' (it has: {', '.join(sorted(keys))})",
                )
                for key in unknown_keys
            ]
        )
    outcome = run_engine(resolved.definition, request.answers)
    assert resolved.version.id is not None
    record = EvaluationRecord(
        criteria_version_id=resolved.version.id,
        criteria_set_slug=resolved.slug,
        criteria_set_version=resolved.version.version,
        subject_ref=request.subject.ref if request.subject else None,
        subject_name=request.subject.name if request.subject else None,
        answers=dict(request.answers),
        attributes=request.attributes,
        results=[
            CriterionOutcome(
                key=r.key, label=r.label, met=r.met, source=r.source, reasons=list(r.reasons)
            ).model_dump(mode="json")
            for r in outcome.criteria
        ],
        decision=outcome.decision.value,
        met=outcome.met,
        score=outcome.score,
        needed=outcome.needed,
        summary=outcome.summary,
        to_change=list(outcome.to_change),
        created_at=utcnow(),
    )
    if request.dry_run:
        return _public(record, stored=False)
    repository.add(session, record)
    session.commit()
    return _public(record, stored=True)


def get_evaluation(session: Session, evaluation_id: uuid.UUID) -> EvaluationPublic:
    """A stored decision, exactly as it was returned when it was made."""
    record = repository.get(session, evaluation_id)
    if record is None:
        raise NotFound(f"No evaluation '{evaluation_id}'.")
    return _public(record, stored=True)


def list_evaluations(
    session: Session, filters: EvaluationFilter, *, limit: int, cursor: str | None
) -> EvaluationPage:
    """A page of stored decisions, newest first."""
    after = _decode_cursor(cursor) if cursor else None
    records = repository.list_page(session, filters, limit=limit + 1, after=after)
    page, more = records[:limit], len(records) > limit
    next_cursor = _encode_cursor(page[-1]) if more else None
    return EvaluationPage(
        items=[_public(record, stored=True) for record in page], next_cursor=next_cursor
    )


def _public(record: EvaluationRecord, *, stored: bool) -> EvaluationPublic:
    subject = (
        Subject(ref=record.subject_ref, name=record.subject_name)
        if record.subject_ref is not None or record.subject_name is not None
        else None
    )
    return EvaluationPublic(
        id=record.id if stored else None,
        decision=record.decision,
        criteria_set=CriteriaSetRef(
            slug=record.criteria_set_slug, version=record.criteria_set_version
        ),
        subject=subject,
        met=record.met,
        score=record.score,
        needed=record.needed,
        criteria=[CriterionOutcome.model_validate(result) for result in record.results],
        summary=record.summary,
        to_change=record.to_change,
        created_at=record.created_at,
    )


def _encode_cursor(record: EvaluationRecord) -> str:
    raw = json.dumps([record.created_at.isoformat(), str(record.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, last_id = json.loads(raw)
        when = datetime.fromisoformat(created_at)
        if when.tzinfo is None:
            raise ValueError("naive timestamp")
        return when, uuid.UUID(last_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            [("cursor", "not a cursor returned by this endpoint")], location="query"
        ) from exc
