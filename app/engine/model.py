"""Plain typed values that the engine takes and returns."""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.engine.rules import Evidence, Leaf, Rule, leaves_of


class Mode(StrEnum):
    COUNT = "count"
    SCORE = "score"


class UnknownMode(StrEnum):
    NOT_MET = "not_met"
    REVIEW = "review"


class Decision(StrEnum):
    ACCEPT = "accept"
    REVIEW = "review"
    DECLINE = "decline"


class Source(StrEnum):
    ANSWER = "answer"
    RULES = "rules"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Criterion:
    key: str
    label: str
    question: str
    description: str | None = None
    weight: float = 1.0
    required: bool = False
    rules: "Rule | None" = None


@dataclass(frozen=True, slots=True)
class Policy:
    accept_at: float
    mode: Mode = Mode.COUNT
    review_at: float | None = None
    unknown: UnknownMode = UnknownMode.NOT_MET


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a definition decides for one tuple of criterion statuses, and how it reads."""

    decision: Decision
    met: int
    score: float
    summary: str
    to_change: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CriteriaDefinition:
    criteria: tuple[Criterion, ...]
    policy: Policy
    params: Mapping[str, Any] = field(default_factory=dict)
    required: tuple[Criterion, ...] = field(init=False)
    keys: frozenset[str] = field(init=False)
    leaves: tuple[Leaf, ...] = field(init=False)
    # The outcomes worked out so far, by statuses in criteria order (see policy.evaluate).
    outcomes: dict[tuple[bool | None, ...], Outcome] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "required", tuple(c for c in self.criteria if c.required))
        object.__setattr__(self, "keys", frozenset(c.key for c in self.criteria))
        rules = [c.rules for c in self.criteria if c.rules is not None]
        object.__setattr__(
            self, "leaves", tuple(leaf for rule in rules for leaf in leaves_of(rule))
        )

    def points(self, criterion: Criterion) -> float:
        """What meeting `criterion` adds towards the policy's thresholds."""
        return criterion.weight if self.policy.mode is Mode.SCORE else 1.0

    def points_of(self, criteria: Iterable[Criterion]) -> float:
        """What meeting all of `criteria` adds towards the policy's thresholds."""
        if self.policy.mode is Mode.COUNT:
            return float(sum(1 for _ in criteria))
        return sum_weights(c.weight for c in criteria)


def sum_weights(values: Iterable[float]) -> float:
    # Rounded so that decimal weights reach the threshold they add up to (0.3 + 0.6 >= 0.9).
    return round(math.fsum(values), 9)


Answers = Mapping[str, bool | None]
Attributes = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CriterionResult:
    key: str
    label: str
    met: bool | None
    source: Source
    reasons: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    # `reasons` without the profile's values; only when asked for (`evaluate(masked=True)`).
    masked_reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Evaluation:
    decision: Decision
    met: int
    score: float
    needed: float
    criteria: tuple[CriterionResult, ...]
    summary: str
    to_change: tuple[str, ...] = field(default=())
