"""The decision engine: criteria, policy and explanation, as pure deterministic code.

It imports nothing from the web framework or the database layer. Its inputs are
plain frozen dataclasses (`CriteriaDefinition`) and answers; its output is an
`Evaluation` that says what was decided and why.
"""

from app.engine.compile import InvalidDefinition, compile_definition
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
from app.engine.policy import evaluate
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
    "Policy",
    "Rule",
    "Source",
    "UnknownMode",
    "compile_definition",
    "evaluate",
    "find_problems",
]
