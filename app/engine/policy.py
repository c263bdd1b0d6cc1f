"""Judge answers against a criteria set, apply its policy and explain the outcome."""

import math
from collections.abc import Callable, Iterable, Mapping

from app.engine.model import (
    Answers,
    Attributes,
    CriteriaDefinition,
    Criterion,
    CriterionResult,
    Decision,
    Evaluation,
    Mode,
    Outcome,
    Source,
    UnknownMode,
    sum_weights,
)
from app.engine.rules import Evidence

Statuses = Mapping[str, bool | None]

_UNKNOWN_NOTES = {
    UnknownMode.NOT_MET: "counts as not met",
    UnknownMode.REVIEW: "the decision is review if this could change it",
}
# Outcomes a definition keeps (every tuple of statuses for up to six criteria), then starts
# over: memory stays flat however many combinations a large set meets.
CACHED_OUTCOMES = 1024
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def evaluate(
    definition: CriteriaDefinition,
    answers: Answers,
    attributes: Attributes | None = None,
    *,
    masked: bool = False,
) -> Evaluation:
    """Decide on one profile from direct answers and, for criteria with rules, attributes.

    With `masked`, each criterion also carries its reasons without the profile's values.
    """
    attributes = attributes if attributes is not None else {}
    unknown_note = _UNKNOWN_NOTES[definition.policy.unknown]
    results = tuple(
        _judge(c, answers, attributes, unknown_note, masked) for c in definition.criteria
    )
    outcome = _outcome(definition, tuple(result.met for result in results))
    return Evaluation(
        decision=outcome.decision,
        met=outcome.met,
        score=outcome.score,
        needed=definition.policy.accept_at,
        criteria=results,
        summary=outcome.summary,
        to_change=outcome.to_change,
    )


def replay(
    definition: CriteriaDefinition, answers: Answers, attributes: Attributes
) -> tuple[Decision, tuple[bool | None, ...]]:
    """The decision and each criterion's status, without reasons or evidence: what
    comparing versions needs (a shadow run, a replay of the log), at a fraction of the cost.

    It decides exactly as `evaluate` does: an answer wins over the rules.
    """
    met = tuple(
        answer
        if (answer := answers.get(c.key)) is not None
        else None
        if c.rules is None
        else c.rules.test(attributes)
        for c in definition.criteria
    )
    return _outcome(definition, met).decision, met


def decide(definition: CriteriaDefinition, statuses: Statuses) -> Decision:
    """Apply the policy to each criterion's status (met, not met, or None for unknown)."""
    if definition.policy.unknown is UnknownMode.REVIEW and None in statuses.values():
        pessimistic = _decide_settled(definition, _resolve(statuses, False))
        optimistic = _decide_settled(definition, _resolve(statuses, True))
        return pessimistic if pessimistic is optimistic else Decision.REVIEW
    return _decide_settled(definition, statuses)


def to_change(
    definition: CriteriaDefinition, statuses: Statuses, decision: Decision
) -> tuple[str, ...]:
    """Say what would flip the decision, in words a reviewer can act on."""
    changes: list[str] = []
    unknown = [c for c in definition.criteria if statuses[c.key] is None]
    if decision is Decision.REVIEW and unknown and _unknowns_matter(definition, statuses):
        changes.append(f"an answer to {_names(unknown)} could settle it")
    if decision is Decision.ACCEPT:
        changes.extend(_what_would_break(definition, statuses))
    else:
        changes.append(_path_to_accept(definition, statuses))
    return tuple(changes)


def _outcome(definition: CriteriaDefinition, met: tuple[bool | None, ...]) -> Outcome:
    """The outcome of these statuses, worked out once per definition: it depends on nothing else."""
    # An answer other than true, false or null (1, say) equals a status yet reads differently.
    is_status = all(status is None or type(status) is bool for status in met)
    outcome = definition.outcomes.get(met) if is_status else None
    if outcome is None:
        statuses = {c.key: status for c, status in zip(definition.criteria, met, strict=True)}
        decision = decide(definition, statuses)
        met_criteria = [c for c in definition.criteria if statuses[c.key] is True]
        outcome = Outcome(
            decision=decision,
            met=len(met_criteria),
            score=sum_weights(c.weight for c in met_criteria),
            summary=_summarise(definition, statuses, decision),
            to_change=to_change(definition, statuses, decision),
        )
        if is_status:
            if len(definition.outcomes) >= CACHED_OUTCOMES:
                definition.outcomes.clear()
            definition.outcomes[met] = outcome
    return outcome


def _judge(
    criterion: Criterion,
    answers: Answers,
    attributes: Attributes,
    unknown_note: str,
    masked: bool,
) -> CriterionResult:
    key, label, rules = criterion.key, criterion.label, criterion.rules
    answer = answers.get(key)
    verdict, judged = (None, []) if rules is None else rules.judge(attributes)
    evidence = tuple(judged)
    if answer is not None:
        met, source = answer, Source.ANSWER
    elif verdict is not None:
        met, source = verdict, Source.RULES
    else:
        met, source = None, Source.NONE

    def reasons(reason_of: Callable[[Evidence], str]) -> tuple[str, ...]:
        if source is Source.ANSWER:
            said = [f"Answered {'yes' if answer else 'no'} to: {criterion.question}"]
            if verdict is not None and verdict is not answer:
                found = "met" if verdict else "not met"
                said.append(
                    f"The rules disagree, they find it {found}: {_join(evidence, reason_of)}."
                )
            return tuple(said)
        if source is Source.RULES:
            return tuple(map(reason_of, evidence))
        said_none = "Answered unknown" if key in answers else "No answer given"
        if rules is not None:
            said_none += f" and the rules cannot tell ({_join(evidence, reason_of)})"
        return (f"{said_none}; {unknown_note}.",)

    masked_reasons = reasons(_masked_reason) if masked else ()
    return CriterionResult(key, label, met, source, reasons(_reason), evidence, masked_reasons)


def _reason(evidence: Evidence) -> str:
    return evidence.reason


def _masked_reason(evidence: Evidence) -> str:
    return evidence.masked_reason


def _join(evidence: Iterable[Evidence], reason_of: Callable[[Evidence], str]) -> str:
    return "; ".join(map(reason_of, evidence))


def _resolve(statuses: Statuses, unknown_as: bool) -> dict[str, bool | None]:
    return {key: unknown_as if met is None else met for key, met in statuses.items()}


def _threshold(definition: CriteriaDefinition, points: float) -> Decision:
    policy = definition.policy
    if points >= policy.accept_at:
        return Decision.ACCEPT
    if policy.review_at is not None and points >= policy.review_at:
        return Decision.REVIEW
    return Decision.DECLINE


def _decide_settled(definition: CriteriaDefinition, statuses: Statuses) -> Decision:
    """Unknown counts as not met, except that an unknown required criterion caps at review."""
    required = definition.required
    if any(statuses[c.key] is False for c in required):
        return Decision.DECLINE
    met = (c for c in definition.criteria if statuses[c.key] is True)
    decision = _threshold(definition, definition.points_of(met))
    if decision is Decision.ACCEPT and any(statuses[c.key] is None for c in required):
        return Decision.REVIEW
    return decision


def _unknowns_matter(definition: CriteriaDefinition, statuses: Statuses) -> bool:
    low = _decide_settled(definition, _resolve(statuses, False))
    high = _decide_settled(definition, _resolve(statuses, True))
    return low is not high


def _path_to_accept(definition: CriteriaDefinition, statuses: Statuses) -> str:
    missing = [c for c in definition.criteria if statuses[c.key] is not True]
    required = [c for c in missing if c.required]
    optional = [c for c in missing if not c.required]
    met = [c for c in definition.criteria if statuses[c.key] is True]
    gap = definition.policy.accept_at - definition.points_of([*met, *required])
    parts = [f"{_names(required)} (required)"] if required else []
    if gap > 0 and definition.policy.mode is Mode.COUNT:
        needed = math.ceil(gap)
        more = " more" if met or required else ""
        parts.append(
            f"all of {_names(optional)}"
            if needed == len(optional) and needed > 1
            else optional[0].label
            if len(optional) == 1
            else f"{_number(needed)}{more} of {_names(optional)}"
        )
    elif gap > 0:
        weighted = ", ".join(f"{c.label} ({c.weight:g})" for c in optional)
        gap = round(gap, 9)
        unit = "point" if gap == 1 else "points"
        parts.append(f"{gap:g} more {unit} from {weighted}")
    return f"{' and '.join(parts)} would make it accept"


def _what_would_break(definition: CriteriaDefinition, statuses: Statuses) -> list[str]:
    losses: dict[Decision, list[Criterion]] = {}
    trial = dict(statuses)
    for criterion in definition.criteria:
        if statuses[criterion.key] is True:
            trial[criterion.key] = False
            outcome = decide(definition, trial)
            trial[criterion.key] = True
            if outcome is not Decision.ACCEPT:
                losses.setdefault(outcome, []).append(criterion)
    if not losses:
        return ["no single criterion lost would change it"]
    return [
        f"losing {_names(lost, 'any one of ')} would make it {outcome.value}"
        for outcome, lost in sorted(losses.items())
    ]


def _summarise(definition: CriteriaDefinition, statuses: Statuses, decision: Decision) -> str:
    criteria = definition.criteria
    met = [c for c in criteria if statuses[c.key] is True]
    names = _names(met) if met else "none"
    policy = definition.policy
    if policy.mode is Mode.COUNT:
        tally = f"{len(met)} of {len(criteria)} criteria met ({names})"
    else:
        total = definition.points_of(criteria)
        tally = f"score {definition.points_of(met):g} of {total:g} ({names})"
    clauses = [f"{decision.value.capitalize()}: {tally}", f"{policy.accept_at:g} needed"]
    required = [c for c in criteria if c.required]
    failed = [c for c in required if statuses[c.key] is False]
    unknown_required = [c for c in required if statuses[c.key] is None]
    if failed:
        clauses.append(f"required {_names(failed)} not met")
    if unknown_required:
        clauses.append(f"required {_names(unknown_required)} unknown")
    if (
        policy.unknown is UnknownMode.REVIEW
        and decision is Decision.REVIEW
        and _unknowns_matter(definition, statuses)
    ):
        unknown = [c for c in criteria if statuses[c.key] is None]
        clauses.append(f"unknown {_names(unknown)} could change it")
    return "; ".join(clauses) + "."


def _names(criteria: Iterable[Criterion], many_prefix: str = "") -> str:
    labels = [c.label for c in criteria]
    return f"{many_prefix if len(labels) > 1 else ''}{', '.join(labels)}"


def _number(n: int) -> str:
    return _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)
