"""The decision engine: criteria, policy and explanation, as pure deterministic code.

It imports nothing from the web framework or the database layer. Its inputs are
plain frozen dataclasses (`CriteriaDefinition`) and answers; its output is an
`Evaluation` that says what was decided and why.
"""

from app.engine.compile import InvalidDefinition, compile_definition
from app.engine.cost import OverBudget, check_budget, draft_cost, profile_cost
from app.engine.model import (
    CriteriaDefinition,
    Criterion,
    CriterionResult,
    Decision,
    Evaluation,
    Mode,
    Policy,
    Source,
    UnknownMode,
)
from app.engine.policy import evaluate, replay
from app.engine.rules import Evidence, Rule
from app.engine.validation import find_problems

__all__ = [
    "CriteriaDefinition",
    "Criterion",
    "CriterionResult",
    "Decision",
    "Evaluation",
    "Evidence",
    "InvalidDefinition",
    "Mode",
    "OverBudget",
    "Policy",
    "Rule",
    "Source",
    "UnknownMode",
    "check_budget",
    "compile_definition",
    "draft_cost",
    "evaluate",
    "find_problems",
    "profile_cost",
    "replay",
]
