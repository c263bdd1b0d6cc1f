"""A stored decision made into a test case of its set's next version: its stored inputs, and
what a person said about it (the verdict) or, without a verdict, what was decided.

The case waits as a pending case: every version saved after it must pass it, and the next
current version keeps it, so a human disagreement becomes a regression check."""

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.changes.models import CaseRequest, PendingCasePublic
from app.criteria import repository as criteria_repository
from app.criteria import service as criteria_service
from app.criteria.cases import run_cases
from app.criteria.models import CaseSpec, PendingCase
from app.errors import Conflict, InvalidInput, NotFound
from app.evaluations.log import load_record
from app.jsonvalues import find_wide_integer
from app.privacy import Privacy
from app.reviews import repository as verdicts

_STATUS = {"+": True, "-": False, "?": None}


def make_case(
    session: Session, evaluation_id: uuid.UUID, body: CaseRequest, api_key_id: str | None
) -> PendingCasePublic:
    """Store the decision as a pending case of its set; 409 if the set already waits on a
    case of that name, if the decision answered a criterion the set no longer has, or if it
    was minimised (its attributes were never stored)."""
    record = load_record(session, evaluation_id)
    slug = record.criteria_set_slug
    if record.privacy != Privacy.FULL:
        raise Conflict(
            f"The decision was stored under '{slug}''s minimal privacy, without the "
            "attributes it was made from: it cannot become a case."
        )
    criteria_set = criteria_service.load_set(session, slug)
    assert criteria_set.id is not None
    current = criteria_service.load_version(session, criteria_set, criteria_set.current_version)
    content = criteria_service.content_of_version(current)
    keys = [c.key for c in content.criteria]
    stored = criteria_service.load_version(session, criteria_set, record.criteria_set_version)
    stored_keys = [c["key"] for c in stored.criteria]
    verdict = verdicts.current(session, evaluation_id)
    if verdict is not None:
        expect: dict[str, Any] = {
            "decision": verdict.decision,
            "met": dict(verdict.criteria or {}),
        }
    else:
        statuses = dict(zip(stored_keys, record.statuses[::2], strict=True))
        expect = {"decision": record.decision, "met": {k: _STATUS[s] for k, s in statuses.items()}}
    # What the current version lacks cannot be expected of it; an answer to it cannot be sent.
    expect["met"] = {k: v for k, v in expect["met"].items() if k in keys}
    gone = sorted(k for k, v in record.answers.items() if v is not None and k not in keys)
    if gone:
        raise Conflict(
            f"The decision answered criteria that version {current.version} of '{slug}' no "
            f"longer has ({', '.join(gone)}): it cannot become one of its cases."
        )
    name = body.name or f"evaluation-{evaluation_id}"
    try:
        case = CaseSpec.model_validate(
            {
                "name": name,
                "answers": {k: v for k, v in record.answers.items() if k in keys},
                "attributes": record.attributes,
                "expect": expect,
            }
        )
    except ValueError as exc:
        raise InvalidInput([("name", str(exc))]) from exc
    if find_wide_integer(case.profile()) is not None:
        raise Conflict(
            "The decision's attributes hold an integer beyond ±(2^53 - 1), which a set's "
            "canonical JSON cannot carry exactly: it cannot become one of its cases."
        )
    if criteria_repository.get_pending(session, criteria_set.id, name) is not None:
        raise Conflict(f"Criteria set '{slug}' already has a pending case named '{name}'.")
    if any(c.name == name for c in content.cases):
        raise Conflict(f"Version {current.version} of '{slug}' already has a case named '{name}'.")
    definition = criteria_service.build_definition(content)
    [run] = run_cases([case], definition)
    pending = PendingCase(
        criteria_set_id=criteria_set.id,
        name=name,
        case=case.model_dump(mode="json", exclude={"attributes"}) | {"attributes": case.profile()},
        evaluation_id=evaluation_id,
        api_key_id=api_key_id,
    )
    session.add(pending)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"Criteria set '{slug}' already has a pending case named '{name}'.") from exc
    session.refresh(pending)
    return PendingCasePublic(
        slug=slug,
        evaluation_id=evaluation_id,
        case=case,
        expected_from="verdict" if verdict is not None else "decision",
        passes_current=run.failure() is None,
        created_at=pending.created_at,
    )


def drop_case(session: Session, slug: str, name: str) -> None:
    """Forget a pending case; 404 if the set has none by that name."""
    criteria_set = criteria_service.load_set(session, slug)
    assert criteria_set.id is not None
    pending = criteria_repository.get_pending(session, criteria_set.id, name)
    if pending is None:
        raise NotFound(f"Criteria set '{slug}' has no pending case named '{name}'.")
    criteria_repository.delete_pending(session, [pending])
    session.commit()
