"""A criteria set's test cases: run them against its definition, and what they cover.

Pure: no database, no web framework. The service runs them before saving any version; the
command line runs them offline on a file (`reflexe test`), with the same results.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from app.criteria.models import CaseSpec, CriterionCoverage
from app.engine import CriteriaDefinition, Decision, replay
from app.errors import CaseFailure, CaseOutcome, InvalidInput, field_path
from app.profiles import check_answer_keys, check_attributes


@dataclass(frozen=True, slots=True)
class CaseRun:
    """A case and what the definition decides about it."""

    index: int
    case: CaseSpec
    decision: Decision
    met: dict[str, bool | None]

    def failure(self) -> CaseFailure | None:
        """What the case expected and got, if it fails: only what it names is compared."""
        expect = self.case.expect
        wrong_decision = expect.decision != self.decision
        wrong_met = any(self.met.get(key) is not value for key, value in expect.met.items())
        if not (wrong_decision or wrong_met):
            return None
        return CaseFailure(
            index=self.index,
            name=self.case.name,
            expected=CaseOutcome(decision=expect.decision.value, met=dict(expect.met)),
            actual=CaseOutcome(
                decision=self.decision.value,
                met={key: self.met.get(key) for key in expect.met},
            ),
        )


def check_cases(
    cases: Sequence[CaseSpec], definition: CriteriaDefinition, prefix: str = ""
) -> None:
    """422 for cases that cannot run: a name used twice, an answer or an expectation that
    names no criterion of the set, attributes a request could not send."""
    keys = definition.keys
    seen: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for index, case in enumerate(cases):
        at: tuple[str | int, ...] = (*_at(prefix), "cases", index)
        if case.name in seen:
            problems.append(
                (field_path((*at, "name")), f"'{case.name}' also names cases[{seen[case.name]}]")
            )
        seen.setdefault(case.name, index)
        for key in case.expect.met:
            if key not in keys:
                problems.append(
                    (
                        field_path((*at, "expect", "met", key)),
                        f"the set has no criterion '{key}' (it has: {', '.join(sorted(keys))})",
                    )
                )
        try:
            check_answer_keys(case.answers, keys, "the set", (*at, "answers"))
            check_attributes(case.attributes, (*at, "attributes"))
        except InvalidInput as exc:
            problems.extend((e.field, e.message) for e in exc.errors())
    if problems:
        raise InvalidInput(problems)


def run_cases(cases: Sequence[CaseSpec], definition: CriteriaDefinition) -> list[CaseRun]:
    """Decide each case as POST /evaluate would (an answer wins over the rules)."""
    runs = []
    for index, case in enumerate(cases):
        decision, statuses = replay(definition, case.answers, case.profile())
        met = {c.key: status for c, status in zip(definition.criteria, statuses, strict=True)}
        runs.append(CaseRun(index, case, decision, met))
    return runs


def failures(runs: Sequence[CaseRun]) -> list[CaseFailure]:
    return [failure for run in runs if (failure := run.failure()) is not None]


def coverage(runs: Sequence[CaseRun], definition: CriteriaDefinition) -> list[CriterionCoverage]:
    """Per criterion, whether some case finds it met, some not met, some unknown."""
    return [
        CriterionCoverage(
            key=c.key,
            met=any(run.met[c.key] is True for run in runs),
            not_met=any(run.met[c.key] is False for run in runs),
            unknown=any(run.met[c.key] is None for run in runs),
        )
        for c in definition.criteria
    ]


def _at(prefix: str) -> tuple[str, ...]:
    return (prefix.rstrip("."),) if prefix else ()
