"""Build an engine definition from its stored JSON form, checking everything once."""

from collections.abc import Mapping, Sequence
from typing import Any

from app.engine.model import CriteriaDefinition, Criterion, Mode, Policy, UnknownMode
from app.engine.rules import FieldProblem, check_params, compile_rule
from app.engine.validation import find_problems


class InvalidDefinition(ValueError):
    """A definition with problems, each a (field path, message) pair."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


def compile_definition(
    criteria: Sequence[Mapping[str, Any]],
    policy: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
) -> CriteriaDefinition:
    """Compile criteria (with their rules), policy and params; raise InvalidDefinition."""
    params = dict(params or {})
    problems = check_params(params)
    leaves = 0
    compiled = []
    for index, spec in enumerate(criteria):
        rule = None
        if spec.get("rules") is not None:
            rule, found, leaves = compile_rule(
                spec["rules"], params, f"criteria[{index}].rules", leaves_before=leaves
            )
            problems.extend(found)
        compiled.append(
            Criterion(
                key=spec["key"],
                label=spec["label"],
                question=spec["question"],
                description=spec.get("description"),
                weight=float(spec.get("weight", 1.0)),
                required=bool(spec.get("required", False)),
                rules=rule,
            )
        )
    review_at = policy.get("review_at")
    definition = CriteriaDefinition(
        criteria=tuple(compiled),
        policy=Policy(
            accept_at=float(policy["accept_at"]),
            mode=Mode(policy.get("mode", Mode.COUNT)),
            review_at=None if review_at is None else float(review_at),
            unknown=UnknownMode(policy.get("unknown", UnknownMode.NOT_MET)),
        ),
        params=params,
    )
    problems.extend(find_problems(definition))
    if problems:
        raise InvalidDefinition(problems)
    return definition
