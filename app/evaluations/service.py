"""Evaluate profiles against criteria sets and keep the decision log."""

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session

from app.criteria import service as criteria_service
from app.criteria.service import DefinitionCache, ResolvedCriteria
from app.db import utcnow
from app.engine import CriteriaDefinition, CriterionResult
from app.engine import evaluate as run_engine
from app.errors import InvalidInput, NotFound
from app.evaluations import repository
from app.evaluations.models import (
    MAX_EXTRA_ATTRIBUTES,
    CriteriaSetRef,
    CriterionOutcome,
    EvaluationPage,
    EvaluationPublic,
    EvaluationRecord,
    EvaluationRequest,
    EvidencePublic,
    Subject,
)
from app.evaluations.repository import EvaluationFilter


def evaluate(
    session: Session, request: EvaluationRequest, definitions: DefinitionCache
) -> EvaluationPublic:
    """Decide on a profile; unless it is a dry run, store the decision before answering."""
    resolved, definition = _criteria_for(session, request, definitions)
    _check_inputs(request, definition, resolved)
    profile = request.profile()
    outcome = run_engine(definition, request.answers, profile)
    result = EvaluationPublic(
        id=None if request.dry_run else uuid.uuid4(),
        decision=outcome.decision,
        criteria_set=None
        if resolved is None
        else CriteriaSetRef(slug=resolved.slug, version=resolved.version.version),
        subject=request.subject,
        met=outcome.met,
        score=outcome.score,
        needed=outcome.needed,
        criteria=[_outcome(criterion) for criterion in outcome.criteria],
        summary=outcome.summary,
        to_change=list(outcome.to_change),
        created_at=utcnow(),
    )
    if resolved is not None and result.id is not None:
        repository.add(session, _record(result, resolved, request, profile))
        session.commit()
    return result


def _criteria_for(
    session: Session, request: EvaluationRequest, definitions: DefinitionCache
) -> tuple[ResolvedCriteria | None, CriteriaDefinition]:
    if request.criteria is None:
        resolved = criteria_service.resolve(
            session, request.criteria_set, request.version, definitions
        )
        return resolved, resolved.definition
    problems = []
    if request.criteria_set is not None or request.version is not None:
        problems.append(("criteria", "give either criteria or criteria_set, not both"))
    if not request.dry_run:
        problems.append(("dry_run", "inline criteria can only be tried with dry_run: true"))
    if problems:
        raise InvalidInput(problems)
    return None, criteria_service.build_definition(request.criteria, prefix="criteria.")


def _check_inputs(
    request: EvaluationRequest, definition: CriteriaDefinition, resolved: ResolvedCriteria | None
) -> None:
    keys = {criterion.key for criterion in definition.criteria}
    unknown = [key for key in request.answers if key not in keys]
    if unknown:
        where = (
            "the inline criteria"
            if resolved is None
            else f"criteria set '{resolved.slug}' version {resolved.version.version}"
        )
        raise InvalidInput(
            [
                (
                    f"answers.{key}",
                    f"{where} has no criterion '{key}' (it has: {', '.join(sorted(keys))})",
                )
                for key in unknown
            ]
        )
    extra = request.attributes.model_extra or {}
    if len(extra) > MAX_EXTRA_ATTRIBUTES:
        raise InvalidInput(
            [
                (
                    "attributes",
                    f"at most {MAX_EXTRA_ATTRIBUTES} attributes beyond the documented ones",
                )
            ]
        )


def _outcome(result: CriterionResult) -> CriterionOutcome:
    return CriterionOutcome(
        key=result.key,
        label=result.label,
        met=result.met,
        source=result.source,
        reasons=list(result.reasons),
        evidence=[
            EvidencePublic(
                attribute=e.attribute,
                operator=e.operator,
                expected=e.expected,
                param=e.param,
                actual=e.actual,
                result=e.result,
                reason=e.reason,
            )
            for e in result.evidence
        ],
    )


def _record(
    result: EvaluationPublic,
    resolved: ResolvedCriteria,
    request: EvaluationRequest,
    profile: dict[str, Any],
) -> EvaluationRecord:
    assert result.id is not None
    assert resolved.version.id is not None
    return EvaluationRecord(
        id=result.id,
        criteria_version_id=resolved.version.id,
        criteria_set_slug=resolved.slug,
        criteria_set_version=resolved.version.version,
        subject_ref=request.subject.ref if request.subject else None,
        subject_name=request.subject.name if request.subject else None,
        answers=dict(request.answers),
        attributes=profile,
        results=[criterion.model_dump(mode="json") for criterion in result.criteria],
        decision=result.decision.value,
        met=result.met,
        score=result.score,
        needed=result.needed,
        summary=result.summary,
        to_change=result.to_change,
        created_at=result.created_at,
    )


def get_evaluation(session: Session, evaluation_id: uuid.UUID) -> EvaluationPublic:
    """A stored decision, exactly as it was returned when it was made."""
    record = repository.get(session, evaluation_id)
    if record is None:
        raise NotFound(f"No evaluation '{evaluation_id}'.")
    return _public(record)


def list_evaluations(
    session: Session, filters: EvaluationFilter, *, limit: int, cursor: str | None
) -> EvaluationPage:
    """A page of stored decisions, newest first."""
    after = _decode_cursor(cursor) if cursor else None
    records = repository.list_page(session, filters, limit=limit + 1, after=after)
    page, more = records[:limit], len(records) > limit
    next_cursor = _encode_cursor(page[-1]) if more else None
    return EvaluationPage(items=[_public(record) for record in page], next_cursor=next_cursor)


def _public(record: EvaluationRecord) -> EvaluationPublic:
    subject = (
        Subject(ref=record.subject_ref, name=record.subject_name)
        if record.subject_ref is not None or record.subject_name is not None
        else None
    )
    return EvaluationPublic(
        id=record.id,
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
