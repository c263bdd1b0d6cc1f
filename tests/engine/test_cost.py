"""The cost of judging a profile (app.engine.cost), and how evidence quotes values."""

from typing import Any

import pytest

from app.engine import OverBudget, check_budget, compile_definition, draft_cost, evaluate
from app.engine.cost import (
    DRAFT_ENTRY,
    DRAFT_LEAF,
    DRAFT_REGEX,
    MAX_TEXT_READ,
    REGEX_FACTOR,
    profile_cost,
)
from app.engine.rules import MAX_PROGRAM_SIZE, QUOTED_ITEMS, QUOTED_TEXT, quote


def definition_with(*rules: dict[str, Any], params: dict[str, Any] | None = None) -> Any:
    criteria = [
        {"key": f"c{i}", "label": f"C{i}", "question": "?", "rules": rule}
        for i, rule in enumerate(rules)
    ]
    return compile_definition(criteria, {"accept_at": 1}, params or {})


def leaf(attribute: str, operator: str, value: Any) -> dict[str, Any]:
    return {"attribute": attribute, "operator": operator, "value": value}


def test_the_cost_is_the_characters_text_rules_read() -> None:
    definition = definition_with(
        leaf("headline", "contains_any", ["ceo"]),
        {"any": [leaf("headline", "eq", "x"), leaf("followers", "gte", 3)]},
        leaf("skills", "contains_any", ["python"]),
        leaf("bio", "matches", "^a"),
    )
    profile = {"headline": "h" * 50, "followers": 10**9, "skills": ["ab", "cde", 3], "bio": "b" * 7}

    # headline twice (two leaves read it), the list's texts, the regex twenty times over;
    # numbers cost nothing.
    assert profile_cost(definition, profile) == 50 + 50 + 5 + 7 * REGEX_FACTOR


def test_missing_and_non_text_attributes_cost_nothing() -> None:
    definition = definition_with(leaf("headline", "contains_any", ["ceo"]))

    assert profile_cost(definition, {}) == 0
    assert profile_cost(definition, {"headline": 42}) == 0


def test_a_text_longer_than_rules_read_is_refused_naming_it() -> None:
    definition = definition_with(leaf("profile.bio", "contains_any", ["ceo"]))

    with pytest.raises(OverBudget) as raised:
        profile_cost(definition, {"profile": {"bio": "x" * (MAX_TEXT_READ + 1)}})

    assert raised.value.problems == [
        (
            "attributes.profile.bio",
            "a text that rules read holds at most 5,000 characters; this one has 5,001",
        )
    ]


def test_a_text_no_rule_reads_may_be_longer() -> None:
    definition = definition_with(leaf("headline", "contains_any", ["ceo"]))

    assert profile_cost(definition, {"note": "x" * 60_000, "headline": "ceo"}) == 3


def test_an_inline_draft_costs_its_leaves_lists_and_regexes() -> None:
    criteria = [
        {
            "rules": {
                "all": [leaf("a", "contains_any", {"param": "words"}), leaf("b", "in", [1, 2])]
            }
        },
        {"rules": {"not": leaf("c", "matches", "^x")}},
        {"rules": None},
    ]

    cost = draft_cost(criteria, {"words": ["x"] * 7})

    assert cost == 3 * DRAFT_LEAF + 9 * DRAFT_ENTRY + DRAFT_REGEX


def test_a_budget_names_what_it_is_for() -> None:
    check_budget(10, 10, "evaluation")

    with pytest.raises(OverBudget, match="over the budget of 10 per request"):
        check_budget(11, 10, "request")


def test_a_regular_expression_over_the_program_size_is_refused() -> None:
    from app.engine import InvalidDefinition

    with pytest.raises(InvalidDefinition) as raised:
        definition_with(leaf("headline", "matches", "(.{0,100}){0,9}x"))

    [(path, message)] = raised.value.problems
    assert path == "criteria[0].rules.value"
    assert f"at most {MAX_PROGRAM_SIZE}" in message


@pytest.mark.parametrize(
    ("value", "quoted", "shortened"),
    [
        ("short", "short", False),
        ("x" * QUOTED_TEXT, "x" * QUOTED_TEXT, False),
        ("x" * 5000, "x" * QUOTED_TEXT + "…", True),
        (list(range(50)), list(range(QUOTED_ITEMS)), True),
        (["y" * 300], ["y" * QUOTED_TEXT + "…"], True),
        ({"k": "v"}, {"k": "v"}, False),
        ({"a": {"b": {"c": 1}}}, {"a": {"b": "{…}"}}, True),
        (12, 12, False),
        (None, None, False),
    ],
)
def test_evidence_quotes_long_values_shortened(value: Any, quoted: Any, shortened: bool) -> None:
    assert quote(value) == (quoted, shortened)


def test_evidence_of_a_long_text_is_shortened_and_says_so() -> None:
    definition = definition_with(leaf("headline", "contains_any", ["ceo", "cto"]))
    headline = "ceo " + "x" * 4000

    [criterion] = evaluate(definition, {}, {"headline": headline}).criteria
    [evidence] = criterion.evidence

    assert evidence.actual == headline[:QUOTED_TEXT] + "…"
    assert evidence.actual_shortened is True
    assert len(evidence.reason) < 200


def test_reasons_name_a_few_keywords_then_count_the_rest() -> None:
    keywords = [f"k{i}" for i in range(12)]
    definition = definition_with(leaf("headline", "contains_any", keywords))

    [criterion] = evaluate(definition, {}, {"headline": " ".join(keywords)}).criteria

    assert criterion.reasons[0].endswith('which contains "k0", "k1", "k2", "k3", "k4", … 7 more')
