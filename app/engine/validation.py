"""Checks that a criteria definition is coherent, beyond the shape of its fields."""

from app.engine.model import CriteriaDefinition

FieldProblem = tuple[str, str]


def find_problems(definition: CriteriaDefinition) -> list[FieldProblem]:
    """Every coherence problem of `definition`, as (field path, message) pairs."""
    problems: list[FieldProblem] = []
    first_seen: dict[str, int] = {}
    for index, criterion in enumerate(definition.criteria):
        if criterion.key in first_seen:
            problems.append(
                (
                    f"criteria[{index}].key",
                    f"duplicate key '{criterion.key}' (already used by "
                    f"criteria[{first_seen[criterion.key]}])",
                )
            )
        first_seen.setdefault(criterion.key, index)
    policy = definition.policy
    reachable = definition.points_of(definition.criteria)
    if policy.accept_at > reachable:
        limit = (
            f"the set has {len(definition.criteria)} criteria"
            if policy.mode == "count"
            else f"the weights of the set add up to {reachable:g}"
        )
        problems.append(("policy.accept_at", f"{policy.accept_at:g} can never be reached: {limit}"))
    if policy.review_at is not None and policy.review_at >= policy.accept_at:
        problems.append(
            (
                "policy.review_at",
                f"{policy.review_at:g} must be below accept_at ({policy.accept_at:g})",
            )
        )
    return problems
