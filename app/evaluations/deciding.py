"""Deciding one evaluation request: its checks, its cost, the engine, the answer and the row.

Everything here is synchronous and does no I/O, so the service may run it on the event
loop when it is cheap and in a worker thread when it is not. Two steps:
- `prepare` checks the request against its definition (an inline draft is compiled here)
  and works out its cost, before any rule runs;
- `judge` runs the engine and shapes the answer, and the row to store unless a dry run.
"""

import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json
from uuid_utils.compat import uuid7

from app.criteria import service as criteria_service
from app.criteria.registry import ResolvedCriteria
from app.db import utcnow
from app.engine import (
    CriteriaDefinition,
    CriterionResult,
    OverBudget,
    check_budget,
    draft_cost,
    profile_cost,
    replay,
)
from app.engine import evaluate as run_engine
from app.errors import InvalidInput, ReflexeError, field_path
from app.evaluations.models import EvaluationRequest
from app.jsonvalues import find_problem
from app.privacy import Privacy, SubjectKeys
from app.profiles import check_answer_keys, check_attributes

_REQUEST = TypeAdapter(EvaluationRequest)


@dataclass(frozen=True, slots=True)
class Budget:
    """Cost units allowed per evaluation, and per request (a whole batch)."""

    evaluation: int
    request: int


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request checked against the definition it will be judged with."""

    request: EvaluationRequest
    resolved: ResolvedCriteria | None  # None: an inline draft, tried as a dry run
    definition: CriteriaDefinition
    profile: dict[str, Any]
    cost: int


@dataclass(frozen=True, slots=True)
class Decided:
    """The answer to send (its JSON, an `EvaluationPublic`), and the row to store.

    A dry run has no `evaluation_id` and no `row`.
    """

    answer: bytes
    decision: str
    summary: str
    evaluation_id: str | None
    row: dict[str, Any] | None

    def body(self) -> bytes:
        """The answer to send: the stored row's, if `linking` completed it with the subject's
        previous decision (under `minimal`, the caller's answer with the same completion)."""
        row = self.row
        if row is None or row["previous_id"] is None:
            return self.answer
        stored: str = row["answer"]
        if row["privacy"] == Privacy.FULL:
            return stored.encode()
        linked = json.loads(stored)
        answer = json.loads(self.answer)
        answer["previous_id"], answer["changes"] = linked["previous_id"], linked["changes"]
        return to_json(answer)

    def kept(self) -> bytes:
        """The answer as the log keeps it: the one sent, except under `minimal`, where the
        profile's values are left out."""
        if self.row is None:
            return self.answer
        stored: str = self.row["answer"]
        return stored.encode()


Drafts = dict[str, tuple[CriteriaDefinition, int]]


def parse(item: Any) -> EvaluationRequest | ReflexeError:
    """One batch item as a request, or the problem that fails that item alone."""
    try:
        return _REQUEST.validate_python(item)
    except ValidationError as exc:
        return InvalidInput([(field_path(error["loc"]), error["msg"]) for error in exc.errors()])


def prepare(
    request: EvaluationRequest,
    resolved: ResolvedCriteria | None,
    budget: Budget,
    drafts: Drafts | None = None,
) -> Prepared:
    """Check `request` and cost it; 422 for bad input or an evaluation over budget.

    An inline draft is compiled here, its compilation counted; `drafts` lets a batch
    compile (and count) each distinct draft once.
    """
    cost = 0
    if resolved is None:
        definition, cost = _draft(request, budget, {} if drafts is None else drafts)
    else:
        definition = resolved.definition
    _check_inputs(request, definition, resolved)
    profile = request.profile()
    try:
        cost += profile_cost(definition, profile)
        check_budget(cost, budget.evaluation, "evaluation")
    except OverBudget as exc:
        raise InvalidInput(exc.problems) from exc
    return Prepared(request, resolved, definition, profile, cost)


def judge(prepared: Prepared, api_key_id: str | None, keys: SubjectKeys) -> Decided:
    """Run the engine: the answer and, unless a dry run, the row to store.

    The answer is built as plain JSON-ready data rather than validated models: this is
    the hot path, and `EvaluationPublic` documents exactly this shape. Under the set's
    `minimal` privacy the row keeps no attributes, no name, the ref only as its key
    (`keys`), and an answer without the profile's values; the caller's answer is whole.
    """
    request, resolved = prepared.request, prepared.resolved
    privacy = _privacy_of(prepared)
    minimal = privacy is Privacy.MINIMAL and not request.dry_run
    outcome = run_engine(prepared.definition, request.answers, prepared.profile, masked=minimal)
    evaluation_id = None if request.dry_run else uuid7()
    created_at = utcnow()
    subject = request.subject
    subject_json = None if subject is None else {"ref": subject.ref, "name": subject.name}
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
        # Completed when stored, if the subject has an earlier decision (evaluations.linking).
        "previous_id": None,
        "changes": None,
        # Read back with the current verdict, if any (evaluations.log).
        "verdict": None,
        "final_decision": outcome.decision.value,
        "privacy": privacy.value,
    }
    answer = to_json(payload)
    if resolved is None or evaluation_id is None:
        return Decided(answer, outcome.decision.value, outcome.summary, None, None)
    ref = None if subject is None else subject.ref
    if minimal:
        payload["subject"] = None
        payload["criteria"] = [_outcome(criterion, masked=True) for criterion in outcome.criteria]
        kept = to_json(payload).decode()
    else:
        kept = answer.decode()
    # A row of `EvaluationRecord`, each of its columns: the answer is kept as it was sent
    # (under `minimal`, without the profile's values).
    row = {
        "id": evaluation_id,
        "criteria_version_id": resolved.version_id,
        "criteria_set_slug": resolved.slug,
        "criteria_set_version": resolved.version,
        "subject_ref": None if minimal else ref,
        "subject_name": None if minimal or subject is None else subject.name,
        "subject_key": None if ref is None else keys.of(ref),
        "privacy": privacy.value,
        "decision": outcome.decision.value,
        "created_at": created_at,
        "api_key_id": api_key_id,
        "answers": to_json(request.answers).decode(),
        "attributes": "{}" if minimal else to_json(prepared.profile).decode(),
        "answer": kept,
        "statuses": "".join(map(status_code, outcome.criteria)),
        "previous_id": None,
        "created_on": created_at.date(),
        **_shadowed(resolved, request, prepared.profile),
    }
    return Decided(answer, outcome.decision.value, outcome.summary, str(evaluation_id), row)


_MET = {True: "+", False: "-", None: "?"}
_NO_SHADOW = {"shadow_version": None, "shadow_decision": None, "shadow_statuses": None}


def _shadowed(
    resolved: ResolvedCriteria, request: EvaluationRequest, profile: dict[str, Any]
) -> dict[str, Any]:
    """The shadow version's decision, if the set has one: one more engine run, without
    reasons or evidence, stored and never answered. Answers to criteria it lacks are
    left out."""
    if resolved.shadow is None:
        return _NO_SHADOW
    number, definition = resolved.shadow
    decision, statuses = replay(definition, request.answers, profile)
    return {
        "shadow_version": number,
        "shadow_decision": decision.value,
        "shadow_statuses": "".join(_MET[status] for status in statuses),
    }


def status_code(result: CriterionResult) -> str:
    """A criterion's status in two characters, as `EvaluationRecord.statuses` keeps it."""
    return _MET[result.met] + result.source.value[0]


def _draft(
    request: EvaluationRequest, budget: Budget, drafts: Drafts
) -> tuple[CriteriaDefinition, int]:
    """The compiled inline draft and what compiling it cost (nothing if compiled before)."""
    content = request.criteria
    assert content is not None
    criteria_service.check_rule_trees(content, prefix="criteria.")
    key = content.model_dump_json()
    if key in drafts:
        return drafts[key][0], 0
    # Counted on the JSON before compiling, so that an over-budget draft is never compiled.
    cost = draft_cost([{"rules": c.rules} for c in content.criteria], content.params)
    try:
        check_budget(cost, budget.evaluation, "evaluation")
    except OverBudget as exc:
        raise InvalidInput([("criteria", exc.problems[0][1])]) from exc
    definition = criteria_service.build_definition(content, prefix="criteria.")
    drafts[key] = (definition, cost)
    return definition, cost


def _check_inputs(
    request: EvaluationRequest, definition: CriteriaDefinition, resolved: ResolvedCriteria | None
) -> None:
    where = (
        "the inline criteria"
        if resolved is None
        else f"criteria set '{resolved.slug}' version {resolved.version}"
    )
    check_answer_keys(request.answers, definition.keys, where, ("answers",))
    check_attributes(request.attributes, ("attributes",))
    subject = request.subject
    if subject is not None:
        found = find_problem({"ref": subject.ref, "name": subject.name}, ("subject",))
        if found is not None:
            raise InvalidInput([(field_path(found[0]), found[1])])


def _privacy_of(prepared: Prepared) -> Privacy:
    """The set's current privacy; an inline draft's own (it is never stored)."""
    if prepared.resolved is not None:
        return prepared.resolved.privacy
    draft = prepared.request.criteria
    return Privacy.FULL if draft is None or draft.privacy is None else draft.privacy


def _outcome(result: CriterionResult, *, masked: bool = False) -> dict[str, Any]:
    """A criterion's part of the answer; `masked`, without the profile's values."""
    return {
        "key": result.key,
        "label": result.label,
        "met": result.met,
        "source": result.source.value,
        "reasons": list(result.masked_reasons if masked else result.reasons),
        "evidence": [
            {
                "attribute": e.attribute,
                "operator": e.operator,
                # A param's value is part of the stored version: name it, don't copy it.
                "expected": None if e.param is not None else e.expected,
                "param": e.param,
                "actual": None if masked else e.actual,
                "actual_shortened": False if masked else e.actual_shortened,
                "result": e.result,
                "reason": e.masked_reason if masked else e.reason,
            }
            for e in result.evidence
        ],
    }
