"""The engine's caches change nothing: warm or cold, in any order, the evaluation is the same.

A leaf keeps the evidence of the values it has seen and a definition keeps the outcome of
each tuple of statuses. Results are compared by `repr`, which tells apart what `==` does
not: 1, 1.0 and True, or 0.0 and -0.0, are equal but read differently in the evidence.
"""

import itertools
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine import CriteriaDefinition, Evaluation, compile_definition, evaluate
from app.engine.policy import CACHED_OUTCOMES
from app.engine.rules import CACHED_EVIDENCE, QUOTED_TEXT

from .factories import criterion_spec, leaf

PARAMS = {"industries": ["Software", "Retail"], "min_count": 5, "titles": ["CEO", "head of"]}
CRITERIA = (
    criterion_spec(
        "fit",
        {
            "any": [
                leaf("industry", "in", {"param": "industries"}),
                leaf("headline", "contains_any", {"param": "titles"}),
                leaf("headline", "matches", "^Directr"),
            ]
        },
    ),
    criterion_spec(
        "reach",
        {
            "all": [
                leaf("count", "gte", {"param": "min_count"}),
                {"not": leaf("flag", "eq", True, reason="flagged")},
                leaf("count", "ne", 1),
            ]
        },
        required=True,
    ),
    criterion_spec(
        "profile",
        {
            "any": [
                leaf("company.size", "lt", 50),
                leaf("skills", "contains_all", ["python", "sql"]),
                leaf("email", "exists"),
                leaf("flag", "eq", 1),
            ]
        },
    ),
    criterion_spec("met", None),
)
POLICY = {"accept_at": 2, "review_at": 1, "unknown": "review"}

TRICKY_VALUES: tuple[Any, ...] = (
    True,
    False,
    1,
    1.0,
    0,
    0.0,
    -0.0,
    5,
    5.0,
    2**70,
    float("inf"),
    None,
    "",
    "Software",
    "software",
    "Retail",
    "CEO of Acme",
    "Directrice Générale",
    "x" * QUOTED_TEXT,
    "x" * (QUOTED_TEXT + 1),
    "Head of Sales " * 30,
    ["python", "sql"],
    ["Python"],
    [1, True, 1.0],
    list(range(QUOTED_TEXT)),
    {"size": 10},
    {"k" * (QUOTED_TEXT + 5): [[1, [2]]]},
    [],
    {},
)
ATTRIBUTES = ("industry", "headline", "count", "flag", "company", "skills", "email")
BASE = {
    "industry": "Retail",
    "headline": "Directrice Générale",
    "count": 7,
    "flag": False,
    "company": {"size": 10},
    "skills": ["python"],
    "email": "a@example.com",
}
ANSWERS: dict[str, dict[str, bool | None]] = {
    "none": {},
    "some true": {"fit": True, "met": True},
    "some false": {"reach": False, "profile": False},
    "null": {"fit": None, "reach": None, "profile": None, "met": None},
}


def make_definition() -> CriteriaDefinition:
    """A freshly compiled definition: its caches are empty."""
    return compile_definition(CRITERIA, POLICY, PARAMS)


def tricky_profiles() -> list[dict[str, Any]]:
    """Each attribute set to each tricky value, or missing, in turn."""
    profiles: list[dict[str, Any]] = [{}, {"unrelated": 1}]
    for attribute in ATTRIBUTES:
        profiles.append({k: v for k, v in BASE.items() if k != attribute})
        for value in TRICKY_VALUES:
            profiles.append({**BASE, attribute: value})
    profiles.append({**BASE, "company": {"size": -0.0}})
    profiles.append({**BASE, "company": {"size": 0.0}})
    return profiles


def cold(answers: dict[str, bool | None], profile: dict[str, Any]) -> str:
    return repr(evaluate(make_definition(), answers, profile))


@pytest.mark.parametrize("answers", ANSWERS.values(), ids=ANSWERS)
def test_warm_caches_give_what_cold_ones_give_in_any_order(answers):
    profiles = tricky_profiles()
    expected = [cold(answers, profile) for profile in profiles]
    definition = make_definition()
    shuffled = list(range(len(profiles)))
    random.Random(0).shuffle(shuffled)

    for order in (range(len(profiles)), reversed(range(len(profiles))), shuffled):
        for i in order:
            assert repr(evaluate(definition, answers, profiles[i])) == expected[i], profiles[i]


def test_equal_values_of_other_types_keep_their_own_evidence():
    definition = make_definition()
    seen = {}
    for value in (True, 1, 1.0, False, 0, 0.0, -0.0):
        evaluation = evaluate(definition, {}, {**BASE, "flag": value, "count": value})
        seen[repr(value)] = [
            e.actual
            for result in evaluation.criteria
            for e in result.evidence
            if e.attribute in ("flag", "count")
        ]

    for shown, actuals in seen.items():
        assert actuals, shown
        assert all(repr(actual) == shown for actual in actuals), shown


def test_long_texts_and_lists_are_quoted_shortened_warm_as_cold():
    profile = {**BASE, "headline": "CEO " * 200, "skills": ["python", "sql", *("x" * 20)]}
    definition = make_definition()
    evaluate(definition, {}, profile)

    evaluation: Evaluation = evaluate(definition, {}, profile)

    assert repr(evaluation) == cold({}, profile)
    quoted = {e.attribute: e for r in evaluation.criteria for e in r.evidence}
    assert quoted["headline"].actual_shortened
    assert len(quoted["headline"].actual) == QUOTED_TEXT + 1


def test_answers_that_are_not_booleans_are_judged_as_before():
    # Outside the declared types, but 1 equals True: it must not take True's outcome.
    definition = make_definition()
    evaluate(definition, {"met": True}, BASE)

    evaluation = evaluate(definition, {"met": 1}, BASE)  # type: ignore[dict-item]

    assert repr(evaluation) == cold({"met": 1}, BASE)  # type: ignore[dict-item]


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 12),
    st.floats(),
    st.sampled_from(TRICKY_VALUES),
    st.text(max_size=QUOTED_TEXT + 20),
    st.lists(st.one_of(st.sampled_from(["python", "sql", "CEO"]), st.integers()), max_size=12),
    st.fixed_dictionaries({"size": st.one_of(st.integers(0, 100), st.floats(), st.none())}),
)
WARM = make_definition()  # shared by every example, so its caches fill as they run


@settings(database=None, deadline=None, max_examples=300)
@given(st.dictionaries(st.sampled_from(ATTRIBUTES), values), st.sampled_from(sorted(ANSWERS)))
def test_property_warm_caches_give_what_cold_ones_give(profile, answers_name):
    answers = ANSWERS[answers_name]

    assert repr(evaluate(WARM, answers, profile)) == cold(answers, profile)


def test_evidence_kept_stays_at_its_bound():
    definition = make_definition()
    largest: dict[tuple[str, str], int] = {}

    for i in range(5_000):
        profile = {**BASE, "count": i, "industry": f"Industry {i}", "headline": f"Manager {i}"}
        evaluation = evaluate(definition, {}, profile)
        for leaf_ in definition.leaves:
            name = (leaf_.attribute, leaf_.operator)
            largest[name] = max(largest.get(name, 0), len(leaf_._explained))

    assert max(largest.values()) == CACHED_EVIDENCE
    assert largest[("count", "gte")] == CACHED_EVIDENCE
    assert largest[("industry", "in")] == CACHED_EVIDENCE
    assert largest[("headline", "contains_any")] == CACHED_EVIDENCE
    assert repr(evaluation) == cold({}, profile)


def test_outcomes_kept_stay_at_their_bound():
    # Seven criteria without rules: 3**7 = 2,187 tuples of statuses, more than are kept.
    keys = [f"c{i}" for i in range(7)]
    definition = compile_definition([criterion_spec(key) for key in keys], {"accept_at": 4})
    largest = 0

    for statuses in itertools.product((True, False, None), repeat=len(keys)):
        answers = dict(zip(keys, statuses, strict=True))
        evaluation = evaluate(definition, answers)
        largest = max(largest, len(definition.outcomes))

    assert largest == CACHED_OUTCOMES
    fresh = compile_definition([criterion_spec(key) for key in keys], {"accept_at": 4})
    assert repr(evaluation) == repr(evaluate(fresh, answers))
