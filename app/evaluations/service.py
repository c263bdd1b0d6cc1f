"""Evaluate profiles against criteria sets and keep the decision log."""

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any

import anyio
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json
from sqlmodel import Session
from uuid_utils.compat import uuid7

from app.criteria import service as criteria_service
from app.criteria.registry import CriteriaRegistry, NeedsLoading, ResolvedCriteria
from app.db import utcnow
from app.engine import CriteriaDefinition, CriterionResult
from app.engine import evaluate as run_engine
from app.errors import Conflict, InvalidInput, NotFound, ReflexeError, field_path
from app.evaluations import repository
from app.evaluations.models import (
    MAX_EXTRA_ATTRIBUTES,
    CriteriaSetRef,
    CriterionOutcome,
    EvaluationPage,
    EvaluationPublic,
    EvaluationRecord,
    EvaluationRequest,
    IsoDateTime,
    Subject,
)
from app.evaluations.repository import EvaluationFilter
from app.evaluations.writer import Completion, DecisionWriter
from app.idempotency.service import Claim
from app.jsonvalues import NUL_MESSAGE, find_problem

Decided = tuple[dict[str, Any], dict[str, Any] | None]
STALE_RETRIES = 3
_REQUEST = TypeAdapter(EvaluationRequest)
# A cursor is the (created_at, id) of the last decision of a page, as JSON in base64.
_CURSOR = TypeAdapter(tuple[IsoDateTime, uuid.UUID])


async def evaluate(
    request: EvaluationRequest,
    registry: CriteriaRegistry,
    writer: DecisionWriter,
    claim: Claim | None = None,
    api_key_id: str | None = None,
) -> tuple[dict[str, Any], bytes]:
    """Decide on a profile; unless it is a dry run, store the decision before answering.

    Returns the payload and its JSON. With a `claim`, a stored decision's answer is
    recorded against the idempotency key in the same transaction. `api_key_id` is the
    caller's key, recorded with the decision.
    """
    for _ in range(STALE_RETRIES):
        resolved = await _resolve(request, registry)
        payload, row = decide(request, resolved, api_key_id)
        content = to_json(payload)
        completion = None
        if claim is not None:
            status, location = (
                (200, None) if row is None else (201, f"/evaluations/{payload['id']}")
            )
            completion = Completion(claim.scope, claim.key, status, content.decode(), location)
        if resolved is None and completion is None:
            return payload, content
        checks = [] if resolved is None else [resolved]
        if await writer.store(checks, [row] if row else [], completion):
            return payload, content
    raise Conflict("The criteria set kept changing while deciding; retry.")


async def evaluate_batch(
    items: list[Any],
    registry: CriteriaRegistry,
    writer: DecisionWriter,
    claim: Claim | None = None,
    api_key_id: str | None = None,
) -> bytes:
    """Decide on every item; store the valid ones together, in one transaction."""
    requests = [_parse(item) for item in items]
    for _ in range(STALE_RETRIES):
        outcomes: list[Decided | ReflexeError] = []
        checks: list[ResolvedCriteria] = []
        for index, request in enumerate(requests):
            if index % 50 == 49:
                await anyio.sleep(0)  # let other requests run between slices of a big batch
            if isinstance(request, ReflexeError):
                outcomes.append(request)
                continue
            try:
                resolved = await _resolve(request, registry)
                outcomes.append(decide(request, resolved, api_key_id))
            except ReflexeError as error:
                outcomes.append(error)
                continue
            if resolved is not None:
                checks.append(resolved)
        rows = [o[1] for o in outcomes if not isinstance(o, ReflexeError) and o[1] is not None]
        content = to_json(_batch_result(outcomes))
        completion = (
            None
            if claim is None
            else Completion(claim.scope, claim.key, 200, content.decode(), None)
        )
        if not checks and claim is None:
            return content
        if await writer.store(checks, rows, completion):
            return content
    raise Conflict("The criteria sets kept changing while deciding; retry.")


def decide(
    request: EvaluationRequest, resolved: ResolvedCriteria | None, api_key_id: str | None = None
) -> Decided:
    """Run the engine: the response payload and, unless a dry run, the row to store.

    The payload is built as plain JSON-ready data rather than validated models: this is
    the hot path, and `EvaluationPublic` documents exactly this shape.
    """
    if resolved is None:
        assert request.criteria is not None
        definition = criteria_service.build_definition(request.criteria, prefix="criteria.")
    else:
        definition = resolved.definition
    _check_inputs(request, definition, resolved)
    subject = request.subject
    subject_json = None if subject is None else {"ref": subject.ref, "name": subject.name}
    profile = request.profile()
    outcome = run_engine(definition, request.answers, profile)
    evaluation_id = None if request.dry_run else uuid7()
    created_at = utcnow()
    criteria = [_outcome(criterion) for criterion in outcome.criteria]
    payload = {
        "id": None if evaluation_id is None else str(evaluation_id),
        "decision": outcome.decision.value,
        "criteria_set": None
        if resolved is None
        else {"slug": resolved.slug, "version": resolved.version},
        "subject": subject_json,
        "met": outcome.met,
        "score": outcome.score,
        "needed": outcome.needed,
        "criteria": criteria,
        "summary": outcome.summary,
        "to_change": list(outcome.to_change),
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "api_key_id": api_key_id,
    }
    if resolved is None or evaluation_id is None:
        return payload, None
    row = {
        "id": evaluation_id,
        "criteria_version_id": resolved.version_id,
        "criteria_set_slug": resolved.slug,
        "criteria_set_version": resolved.version,
        "subject_ref": None if subject is None else subject.ref,
        "subject_name": None if subject is None else subject.name,
        "answers": to_json(request.answers).decode(),
        "attributes": to_json(profile).decode(),
        "results": to_json(criteria).decode(),
        "decision": outcome.decision.value,
        "met": outcome.met,
        "score": outcome.score,
        "needed": outcome.needed,
        "summary": outcome.summary,
        "to_change": to_json(outcome.to_change).decode(),
        "created_at": created_at,
        "api_key_id": api_key_id,
    }
    return payload, row


async def _resolve(
    request: EvaluationRequest, registry: CriteriaRegistry
) -> ResolvedCriteria | None:
    if request.criteria is not None:
        problems = []
        if request.criteria_set is not None or request.version is not None:
            problems.append(("criteria", "give either criteria or criteria_set, not both"))
        if not request.dry_run:
            problems.append(("dry_run", "inline criteria can only be tried with dry_run: true"))
        if problems:
            raise InvalidInput(problems)
        return None
    try:
        return registry.resolve(request.criteria_set, request.version)
    except NeedsLoading:
        return await anyio.to_thread.run_sync(registry.load, request.criteria_set, request.version)


def _parse(item: Any) -> EvaluationRequest | ReflexeError:
    try:
        return _REQUEST.validate_python(item)
    except ValidationError as exc:
        return InvalidInput([(field_path(error["loc"]), error["msg"]) for error in exc.errors()])


def _batch_result(outcomes: list[Decided | ReflexeError]) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, ReflexeError):
            problem = outcome.problem().model_dump(mode="json", exclude_none=True)
            items.append({"index": index, "status": outcome.status_code, "problem": problem})
        else:
            status = 200 if outcome[0]["id"] is None else 201
            items.append({"index": index, "status": status, "evaluation": outcome[0]})
    return {
        "items": items,
        "stored": sum(1 for item in items if item["status"] == 201),
        "failed": sum(1 for item in items if "problem" in item),
    }


def _check_inputs(
    request: EvaluationRequest, definition: CriteriaDefinition, resolved: ResolvedCriteria | None
) -> None:
    keys = {criterion.key for criterion in definition.criteria}
    unknown = [key for key in request.answers if key not in keys]
    if unknown:
        where = (
            "the inline criteria"
            if resolved is None
            else f"criteria set '{resolved.slug}' version {resolved.version}"
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
    subject = request.subject
    attributes = request.attributes
    # The attributes as received (before any dump walks them): free-form, so checked here.
    raw = {name: getattr(attributes, name) for name in attributes.model_fields_set}
    found = find_problem(raw, ("attributes",))
    if found is None and subject is not None:
        found = find_problem({"ref": subject.ref, "name": subject.name}, ("subject",))
    if found is not None:
        raise InvalidInput([(field_path(found[0]), found[1])])
    extra = attributes.model_extra or {}
    if len(extra) > MAX_EXTRA_ATTRIBUTES:
        raise InvalidInput(
            [
                (
                    "attributes",
                    f"at most {MAX_EXTRA_ATTRIBUTES} attributes beyond the documented ones",
                )
            ]
        )


def _outcome(result: CriterionResult) -> dict[str, Any]:
    return {
        "key": result.key,
        "label": result.label,
        "met": result.met,
        "source": result.source.value,
        "reasons": list(result.reasons),
        "evidence": [
            {
                "attribute": e.attribute,
                "operator": e.operator,
                # A param's value is part of the stored version: name it, don't copy it.
                "expected": None if e.param is not None else e.expected,
                "param": e.param,
                "actual": e.actual,
                "result": e.result,
                "reason": e.reason,
            }
            for e in result.evidence
        ],
    }


def get_evaluation(
    session: Session, evaluation_id: uuid.UUID, *, owner: str | None = None
) -> EvaluationPublic:
    """A stored decision, exactly as it was returned when it was made.

    With an `owner`, only a decision asked for by that API key is found.
    """
    record = repository.get(session, evaluation_id)
    if record is None or (owner is not None and record.api_key_id != owner):
        raise NotFound(f"No evaluation '{evaluation_id}'.")
    return _public(record)


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
