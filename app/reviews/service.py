"""Recording human verdicts on stored decisions, and reading them back.

A verdict sits next to the machine's decision, which never changes. The first verdict on a
decision needs no precondition; replacing it needs the current verdict's ETag in If-Match
(428 without, 412 when stale), so that two reviewers never overwrite each other unseen.
Every verdict is kept: the replaced ones are the decision's history.
"""

import json
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.db import utcnow
from app.errors import (
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    field_path,
)
from app.etags import etag, if_match
from app.evaluations.log import load_record
from app.evaluations.models import VerdictPublic
from app.jsonvalues import find_problem
from app.monitoring.metrics import VERDICTS
from app.reviews import repository
from app.reviews.models import Verdict, VerdictCreate, VerdictCriterion, VerdictHistory, VerdictLeaf
from app.reviews.queue import leave
from app.webhooks import outbox

REVIEW = "review"


def record(
    session: Session,
    evaluation_id: uuid.UUID,
    body: VerdictCreate,
    if_match_header: str | None,
    api_key_id: str | None,
) -> tuple[VerdictPublic, bool]:
    """Record a verdict on a stored decision; the verdict, and whether it is the first."""
    found = find_problem(body.model_dump(exclude_none=True))  # U+0000, lone surrogates
    if found is not None:
        raise InvalidInput([(field_path(found[0]), found[1])])
    record = load_record(session, evaluation_id, None)
    current = repository.current(session, evaluation_id)
    _check_precondition(evaluation_id, current, if_match_header)
    machine = {c["key"]: c for c in json.loads(record.answer)["criteria"]}
    judged = body.criteria or {}
    unknown = [key for key in judged if key not in machine]
    if unknown:
        keys = ", ".join(machine)
        raise InvalidInput(
            [
                (f"criteria.{key}", f"the decision has no criterion '{key}' (it has: {keys})")
                for key in unknown
            ]
        )
    now = utcnow()
    verdict = Verdict(
        evaluation_id=evaluation_id,
        sequence=1 if current is None else current.sequence + 1,
        current=True,
        decision=body.decision,
        machine_decision=record.decision,
        agrees=None if record.decision == REVIEW else body.decision == record.decision,
        criteria=body.criteria,
        reason=body.reason,
        note=body.note,
        api_key_id=api_key_id,
        created_at=now,
        criteria_set_slug=record.criteria_set_slug,
        criteria_set_version=record.criteria_set_version,
        evaluation_created_at=record.created_at,
        seconds_to_verdict=(now - record.created_at).total_seconds(),
    )
    criteria, leaves = _judged(verdict.id, judged, machine)
    try:
        repository.add(session, verdict, criteria, leaves, replaces=current)
        leave(session, evaluation_id)
        outbox.publish(session.connection(), _recorded(verdict))
        session.commit()
    except IntegrityError:
        # Another verdict on this decision was recorded meanwhile (PostgreSQL: the unique
        # sequence): as if it had come first.
        session.rollback()
        if if_match_header is None:
            raise _required(evaluation_id) from None
        raise _stale(evaluation_id) from None
    VERDICTS.labels(str(body.decision)).inc()
    return verdict.public(), current is None


def _recorded(verdict: Verdict) -> outbox.Event:
    """`verdict.recorded`, in the transaction that stores the verdict."""
    return outbox.verdict_event(
        verdict.evaluation_id,
        verdict.criteria_set_slug,
        verdict.criteria_set_version,
        verdict.machine_decision,
        {
            "sequence": verdict.sequence,
            "decision": verdict.decision,
            "agrees": verdict.agrees,
            "criteria": verdict.criteria or {},
            "reason": verdict.reason,
            "created_at": verdict.created_at.isoformat().replace("+00:00", "Z"),
        },
    )


def get_current(
    session: Session, evaluation_id: uuid.UUID, *, owner: str | None = None
) -> VerdictPublic:
    load_record(session, evaluation_id, owner)
    verdict = repository.current(session, evaluation_id)
    if verdict is None:
        raise NotFound(f"Evaluation '{evaluation_id}' has no verdict yet.")
    return verdict.public()


def get_history(
    session: Session, evaluation_id: uuid.UUID, *, owner: str | None = None
) -> VerdictHistory:
    load_record(session, evaluation_id, owner)
    return VerdictHistory(items=[v.public() for v in repository.history(session, evaluation_id)])


def verdict_etag(verdict: VerdictPublic) -> str:
    return etag(verdict.sequence)


def _check_precondition(
    evaluation_id: uuid.UUID, current: Verdict | None, header: str | None
) -> None:
    if header is None:
        if current is not None:
            raise _required(evaluation_id)
        return
    if not if_match(header, None if current is None else current.sequence):
        raise _stale(evaluation_id)


def _required(evaluation_id: uuid.UUID) -> PreconditionRequired:
    return PreconditionRequired(
        f"Evaluation '{evaluation_id}' has a verdict: send If-Match with its ETag (GET "
        f"/evaluations/{evaluation_id}/verdict) to replace it."
    )


def _stale(evaluation_id: uuid.UUID) -> PreconditionFailed:
    return PreconditionFailed(
        f"The verdict on evaluation '{evaluation_id}' is not the one If-Match names; fetch "
        f"it again (GET /evaluations/{evaluation_id}/verdict) and retry with its ETag."
    )


def _judged(
    verdict_id: uuid.UUID, judged: dict[str, bool], machine: dict[str, dict[str, Any]]
) -> tuple[list[VerdictCriterion], list[VerdictLeaf]]:
    """The verdict's per-criterion rows, and the rule leaves it contradicts.

    A leaf is contradicted when it decided a criterion (the machine's source is `rules`)
    that the person judged the other way.
    """
    criteria: list[VerdictCriterion] = []
    leaves: list[VerdictLeaf] = []
    for key, human_met in judged.items():
        found = machine[key]
        criteria.append(
            VerdictCriterion(
                verdict_id=verdict_id,
                criterion_key=key,
                human_met=human_met,
                machine_met=found["met"],
                machine_source=found["source"],
            )
        )
        if found["source"] == "rules" and found["met"] is not human_met:
            leaves.extend(
                VerdictLeaf(verdict_id=verdict_id, criterion_key=key, leaf=leaf_name(evidence))
                for evidence in found["evidence"]
            )
    return criteria, leaves


def leaf_name(evidence: dict[str, Any]) -> str:
    """A rule leaf as the statistics name it: `headline contains_any param:keywords`."""
    value = (
        f"param:{evidence['param']}"
        if evidence.get("param") is not None
        else json.dumps(evidence.get("expected"), ensure_ascii=False)
    )
    return f"{evidence['attribute']} {evidence['operator']} {value}"[:300]
