"""What judging a profile will cost, known before the work is done.

Most of the time an evaluation spends goes into the texts its rules read: folding them,
looking for keywords, running regular expressions. Each is linear in the text (RE2 is, and
`MAX_PROGRAM_SIZE` bounds the factor a regular expression adds), so the work is bounded by
counting, before any rule runs, the characters each leaf will read:

| work                                                         | cost units        |
|--------------------------------------------------------------|-------------------|
| a character of text read by a rule (any operator on a text)  | 1                 |
| ... by a `matches` rule                                      | `REGEX_FACTOR`    |
| compiling a leaf of an inline draft                          | `DRAFT_LEAF`      |
| ... each entry of its list (keywords, members)               | `DRAFT_ENTRY`     |
| ... a regular expression                                     | `DRAFT_REGEX`     |

A list attribute counts the characters of its texts. A text a rule reads holds at most
`MAX_TEXT_READ` characters. The budgets themselves are the service's settings.
"""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from app.engine.model import CriteriaDefinition
from app.engine.rules import FieldProblem

MAX_TEXT_READ = 5_000
REGEX_FACTOR = 20
DRAFT_LEAF = 1_000
DRAFT_ENTRY = 100
DRAFT_REGEX = 10_000

_NUMERIC = frozenset({"lt", "lte", "gt", "gte", "exists"})


class OverBudget(ValueError):
    """Work that would go over a limit, as (field path, message) pairs."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


def profile_cost(definition: CriteriaDefinition, attributes: Mapping[str, Any]) -> int:
    """The cost of judging `attributes` with `definition`; OverBudget for a text too long."""
    cost = 0
    for leaf in definition.leaves:
        if leaf.operator in _NUMERIC:
            continue
        value = leaf.read(attributes)
        if isinstance(value, str):
            size = len(value)
            if size > MAX_TEXT_READ:
                raise OverBudget(
                    [
                        (
                            f"attributes.{leaf.attribute}",
                            f"a text that rules read holds at most {MAX_TEXT_READ:,} "
                            f"characters; this one has {size:,}",
                        )
                    ]
                )
        elif isinstance(value, list):
            size = sum(len(item) for item in value if isinstance(item, str))
        else:
            continue
        cost += size * (REGEX_FACTOR if leaf.operator == "matches" else 1)
    return cost


def draft_cost(criteria: Sequence[Any], params: Mapping[str, Any]) -> int:
    """The cost of compiling an inline draft, counted on its JSON before it is compiled."""
    cost = 0
    for leaf in _leaves(criteria):
        cost += DRAFT_LEAF
        value = leaf.get("value")
        if isinstance(value, Mapping) and isinstance(value.get("param"), str):
            value = params.get(value["param"])
        if isinstance(value, list):
            cost += DRAFT_ENTRY * len(value)
        if leaf.get("operator") == "matches":
            cost += DRAFT_REGEX
    return cost


def check_budget(cost: int, budget: int, what: str) -> None:
    """OverBudget when `cost` passes `budget`; `what` says what the budget is for."""
    if cost > budget:
        raise OverBudget(
            [
                (
                    "attributes" if what == "evaluation" else "items",
                    f"judging this {what} would cost {cost:,} units (the characters its rules "
                    f"read, see the README), over the budget of {budget:,} per {what}",
                )
            ]
        )


def _leaves(criteria: Sequence[Any]) -> Iterator[Mapping[str, Any]]:
    stack = [c.get("rules") for c in criteria if isinstance(c, Mapping)]
    while stack:
        node = stack.pop()
        if not isinstance(node, Mapping):
            continue
        groups = [node[key] for key in ("all", "any", "not") if key in node]
        if not groups:
            yield node
        for group in groups:
            stack.extend(group if isinstance(group, list) else [group])
