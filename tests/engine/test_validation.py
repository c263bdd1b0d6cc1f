"""find_problems: coherence of a criteria definition."""

import pytest

from app.engine import Mode, find_problems

from .factories import crit, make_definition


@pytest.mark.parametrize(
    ("definition", "problems"),
    [
        pytest.param(make_definition("a", "b", accept_at=2), [], id="coherent"),
        pytest.param(
            make_definition("a", "b", "a", accept_at=1),
            [("criteria[2].key", "duplicate key 'a' (already used by criteria[0])")],
            id="duplicate-key",
        ),
        pytest.param(
            make_definition("a", "b", accept_at=3),
            [("policy.accept_at", "3 can never be reached: the set has 2 criteria")],
            id="count-unreachable",
        ),
        pytest.param(
            make_definition(
                crit("a", weight=1.5), crit("b", weight=2), accept_at=4, mode=Mode.SCORE
            ),
            [
                (
                    "policy.accept_at",
                    "4 can never be reached: the weights of the set add up to 3.5",
                )
            ],
            id="score-unreachable",
        ),
        pytest.param(
            make_definition(
                crit("a", weight=0.3), crit("b", weight=0.6), accept_at=0.9, mode=Mode.SCORE
            ),
            [],
            id="decimal-weights-reach-their-sum",
        ),
        pytest.param(
            make_definition("a", "b", accept_at=2, review_at=2),
            [("policy.review_at", "2 must be below accept_at (2)")],
            id="review-not-below-accept",
        ),
    ],
)
def test_find_problems(definition: object, problems: list[tuple[str, str]]) -> None:
    assert find_problems(definition) == problems  # type: ignore[arg-type]
