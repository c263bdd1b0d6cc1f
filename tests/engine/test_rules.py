"""Table tests for criterion rules (app.engine.rules): operators, logic, evidence, checks."""

from typing import Any

import pytest

from app.engine import (
    Decision,
    InvalidDefinition,
    Source,
    UnknownMode,
    compile_definition,
    evaluate,
)
from app.engine.rules import Evidence, Group, Leaf, Rule, check_params, compile_rule

from .factories import criterion_spec, leaf

MISSING = object()  # the attribute is absent from the profile


def compile_ok(node: Any, params: dict[str, Any] | None = None) -> Rule:
    rule, problems, _ = compile_rule(node, params or {}, "rules")
    assert problems == []
    assert rule is not None
    return rule


def problems_of(node: Any, params: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    rule, problems, _ = compile_rule(node, params or {}, "rules")
    assert rule is None
    return problems


def paths_of(node: Any, params: dict[str, Any] | None = None) -> list[str]:
    return [path for path, _ in problems_of(node, params)]


def profile_with(attribute: str, actual: Any) -> dict[str, Any]:
    return {} if actual is MISSING else {attribute: actual}


def verdict_of(operator: str, value: Any, actual: Any, attribute: str = "x") -> bool | None:
    rule = compile_ok(leaf(attribute, operator, value))
    return rule.test(profile_with(attribute, actual))


def case(operator, value, actual, expected, case_id):
    return pytest.param(operator, value, actual, expected, id=case_id)


def check_operator(operator, value, actual, expected):
    result = verdict_of(operator, value, actual)
    assert result is expected, f"{operator} {value!r} on {actual!r}: {result!r}"


# --------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------

EQUALITY = [
    case("eq", "Software", "Software", True, "text-same"),
    case("eq", "Software", "SOFTWARE", True, "text-case"),
    case("eq", "software", "Software", True, "text-case-in-value"),
    case("eq", "Directrice Générale", "directrice generale", True, "text-accents-in-value"),
    case("eq", "directrice generale", "DIRECTRICE GÉNÉRALE", True, "text-accents-in-profile"),
    case("eq", "Software", "Soft", False, "text-prefix-not-equal"),
    case("eq", "Software", "Software engineering", False, "text-longer-not-equal"),
    case("eq", "Software", "Retail", False, "text-different"),
    case("eq", "5", 5, False, "text-value-number-profile"),
    case("eq", 5, "5", False, "number-value-text-profile"),
    case("eq", 5, 5, True, "number-same"),
    case("eq", 5, 5.0, True, "int-equals-float"),
    case("eq", 2.5, 2.5, True, "float-same"),
    case("eq", 5, 6, False, "number-different"),
    case("eq", 1, True, False, "number-value-bool-profile"),
    case("eq", 0, False, False, "zero-value-false-profile"),
    case("eq", True, True, True, "bool-true"),
    case("eq", False, False, True, "bool-false"),
    case("eq", True, False, False, "bool-different"),
    case("eq", True, 1, False, "bool-value-number-profile"),
    case("eq", False, 0, False, "false-value-zero-profile"),
    case("eq", True, "true", False, "bool-value-text-profile"),
    case("eq", "Software", ["Software"], False, "text-value-list-profile"),
    case("eq", "Software", {"name": "Software"}, False, "text-value-object-profile"),
    case("eq", "Software", MISSING, None, "missing"),
    case("eq", "Software", None, None, "null"),
    case("eq", True, MISSING, None, "bool-missing"),
    case("ne", "Software", "Software", False, "ne-text-same"),
    case("ne", "Générale", "GENERALE", False, "ne-text-case-and-accents"),
    case("ne", "Software", "Retail", True, "ne-text-different"),
    case("ne", 5, 5.0, False, "ne-number-same"),
    case("ne", 5, 6, True, "ne-number-different"),
    case("ne", 1, True, True, "ne-number-value-bool-profile"),
    case("ne", True, True, False, "ne-bool-same"),
    case("ne", True, 1, True, "ne-bool-value-number-profile"),
    case("ne", "5", 5, True, "ne-text-value-number-profile"),
    case("ne", "Software", ["Software"], True, "ne-list-profile"),
    case("ne", "Software", MISSING, None, "ne-missing"),
    case("ne", 5, None, None, "ne-null"),
]


@pytest.mark.parametrize(("operator", "value", "actual", "expected"), EQUALITY)
def test_equality_operators(operator, value, actual, expected):
    check_operator(operator, value, actual, expected)


COMPARISONS = [
    case("lt", 5, 4, True, "lt-below"),
    case("lt", 5, 5, False, "lt-equal"),
    case("lt", 5, 6, False, "lt-above"),
    case("lte", 5, 5, True, "lte-equal"),
    case("lte", 5, 5.5, False, "lte-above"),
    case("lte", 5, -1, True, "lte-negative"),
    case("gt", 5, 6, True, "gt-above"),
    case("gt", 5, 5, False, "gt-equal"),
    case("gt", 5, 4.99, False, "gt-below-float"),
    case("gte", 5, 5, True, "gte-equal"),
    case("gte", 5, 12, True, "gte-above"),
    case("gte", 5, 4, False, "gte-below"),
    case("gte", 0.5, 0.5, True, "gte-float-equal"),
    case("gte", 5, 5.0, True, "gte-float-profile"),
    case("gte", 5, "12", None, "gte-numeric-text"),
    case("gte", 5, "lots", None, "gte-text"),
    case("gte", 0, True, None, "gte-bool-is-not-a-number"),
    case("lt", 1, False, None, "lt-bool-is-not-a-number"),
    case("gte", 5, [12], None, "gte-list"),
    case("gte", 5, {"count": 12}, None, "gte-object"),
    case("gte", 5, MISSING, None, "gte-missing"),
    case("lt", 5, None, None, "lt-null"),
]


@pytest.mark.parametrize(("operator", "value", "actual", "expected"), COMPARISONS)
def test_comparison_operators(operator, value, actual, expected):
    check_operator(operator, value, actual, expected)


MEMBERSHIP = [
    case("in", ["Software", "SaaS"], "Software", True, "text-member"),
    case("in", ["Software", "SaaS"], "saas", True, "text-member-case"),
    case("in", ["Générale", "Retail"], "GENERALE", True, "text-member-accents-in-value"),
    case("in", ["generale"], "Générale", True, "text-member-accents-in-profile"),
    case("in", ["Software", "SaaS"], "Soft", False, "text-prefix-not-member"),
    case("in", ["Software", "SaaS"], "Retail", False, "text-not-member"),
    case("in", [1, 2, 3], 3, True, "number-member"),
    case("in", [1, 2, 3], 3.0, True, "float-equal-member"),
    case("in", [1, 2, 3], 4, False, "number-not-member"),
    case("in", [3], "3", False, "text-is-not-the-number"),
    case("in", ["3"], 3, False, "number-is-not-the-text"),
    case("in", ["Software", 7], 7, True, "mixed-list-number"),
    case("in", ["Software", "SaaS"], ["Retail", "saas"], True, "list-any-element-member"),
    case("in", ["Software", "SaaS"], ["Retail", "Food"], False, "list-no-element-member"),
    case("in", ["Software", "SaaS"], [], False, "empty-list"),
    case("in", ["Software"], [None, {"a": 1}, "software"], True, "list-skips-non-scalars"),
    case("in", ["Software"], {"Software": True}, None, "object-profile"),
    case("in", ["Software"], MISSING, None, "missing"),
    case("in", ["Software"], None, None, "null"),
    case("not_in", ["Software", "SaaS"], "Retail", True, "not-in-absent"),
    case("not_in", ["Software", "SaaS"], "SOFTWARE", False, "not-in-present-case"),
    case("not_in", ["Générale"], "generale", False, "not-in-present-accents"),
    case("not_in", [1, 2], 3, True, "not-in-number-absent"),
    case("not_in", [1, 2], 2.0, False, "not-in-number-present"),
    case("not_in", ["Software"], ["Retail", "Food"], True, "not-in-list-none-member"),
    case("not_in", ["Software"], ["Retail", "software"], False, "not-in-list-one-member"),
    case("not_in", ["Software"], [], True, "not-in-empty-list"),
    case("not_in", ["Software"], {"a": 1}, None, "not-in-object-profile"),
    case("not_in", ["Software"], MISSING, None, "not-in-missing"),
    case("not_in", ["Software"], None, None, "not-in-null"),
]


@pytest.mark.parametrize(("operator", "value", "actual", "expected"), MEMBERSHIP)
def test_membership_operators(operator, value, actual, expected):
    check_operator(operator, value, actual, expected)


CONTAINS = [
    case("contains_any", ["directrice generale"], "Directrice Générale", True, "accents-phrase"),
    case("contains_any", ["Générale"], "DIRECTRICE GENERALE", True, "accents-in-keyword"),
    case("contains_any", ["CEO"], "CEO & Founder", True, "word-at-start"),
    case("contains_any", ["ceo"], "Founder, CEO", True, "word-at-end-case"),
    case("contains_any", ["CEO"], "CEOS united", False, "no-prefix-match"),
    case("contains_any", ["CEO"], "exCEO", False, "no-suffix-match"),
    case("contains_any", ["head of"], "Head of Sales EMEA", True, "multi-word-keyword"),
    case("contains_any", ["head of"], "Head-of-Sales", True, "multi-word-over-hyphens"),
    case("contains_any", ["head of"], "Head office", False, "multi-word-cut-mid-word"),
    case("contains_any", ["head of"], "Head, of Sales", True, "multi-word-over-comma"),
    case("contains_any", ["cto", "ceo", "cfo"], "Our CFO", True, "any-one-of-several"),
    case("contains_any", ["cto", "ceo"], "VP Sales", False, "none-of-several"),
    case("contains_any", ["ceo"], "", False, "empty-text"),
    case("contains_all", ["head of", "sales"], "Head of Sales", True, "all-present"),
    case("contains_all", ["sales", "head of"], "Head of Sales", True, "all-order-free"),
    case("contains_all", ["head of", "sales"], "Head of Marketing", False, "one-lacking"),
    case("contains_all", ["ceo", "founder"], "CEOS and founders", False, "words-only"),
    case("contains_any", ["python"], ["Go", "PYTHON"], True, "list-member-case"),
    case("contains_any", ["generale"], ["Directrice", "Générale"], True, "list-member-accents"),
    case("contains_any", ["python"], ["Pythonista"], False, "list-needs-whole-item"),
    case("contains_any", ["sales"], ["Head of Sales"], False, "list-not-word-search"),
    case("contains_any", ["head of sales"], ["Head of Sales"], True, "list-whole-phrase-item"),
    case("contains_any", ["python"], [], False, "list-empty"),
    case("contains_any", ["go"], [1, None, "Go"], True, "list-skips-non-texts"),
    case("contains_all", ["python", "go"], ["Go", "Rust", "Python"], True, "list-all"),
    case("contains_all", ["python", "go"], ["Go", "Rust"], False, "list-one-lacking"),
    case("contains_any", ["ceo"], 5, None, "number-profile"),
    case("contains_any", ["ceo"], True, None, "bool-profile"),
    case("contains_all", ["ceo"], {"title": "CEO"}, None, "object-profile"),
    case("contains_any", ["ceo"], MISSING, None, "missing"),
    case("contains_all", ["ceo"], None, None, "null"),
]


@pytest.mark.parametrize(("operator", "value", "actual", "expected"), CONTAINS)
def test_keyword_operators(operator, value, actual, expected):
    check_operator(operator, value, actual, expected)


MATCHES = [
    case("matches", r"^VP\b", "VP Sales", True, "anchored"),
    case("matches", r"^VP\b", "SVP Sales", False, "anchored-miss"),
    case("matches", "Sales", "Head of Sales EMEA", True, "search-not-fullmatch"),
    case("matches", "sales", "Head of Sales", False, "case-sensitive"),
    case("matches", "(?i)sales", "Head of SALES", True, "inline-case-flag"),
    case("matches", r"\d{3,}", "Team of 120", True, "digits"),
    case("matches", "é", "Générale", True, "unicode"),
    case("matches", "^$", "", True, "empty-text"),
    case("matches", "5", 5, None, "number-profile"),
    case("matches", "True", True, None, "bool-profile"),
    case("matches", "a", ["a"], None, "list-profile"),
    case("matches", "a", MISSING, None, "missing"),
    case("matches", "a", None, None, "null"),
]


@pytest.mark.parametrize(("operator", "value", "actual", "expected"), MATCHES)
def test_matches_operator(operator, value, actual, expected):
    check_operator(operator, value, actual, expected)


EXISTS = [
    case("exists", True, "x", True, "text"),
    case("exists", True, "", True, "empty-text"),
    case("exists", True, 0, True, "zero"),
    case("exists", True, False, True, "false"),
    case("exists", True, [], True, "empty-list"),
    case("exists", True, {}, True, "empty-object"),
    case("exists", True, MISSING, False, "missing"),
    case("exists", True, None, False, "null"),
    case("exists", False, MISSING, True, "false-missing"),
    case("exists", False, None, True, "false-null"),
    case("exists", False, 0, False, "false-present"),
]


@pytest.mark.parametrize(("operator", "value", "actual", "expected"), EXISTS)
def test_exists_operator(operator, value, actual, expected):
    check_operator(operator, value, actual, expected)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        pytest.param("x", True, id="present"),
        pytest.param(None, False, id="null"),
        pytest.param(MISSING, False, id="missing"),
    ],
)
def test_exists_value_defaults_to_true(actual, expected):
    rule = compile_ok(leaf("email", "exists"))

    assert rule.test(profile_with("email", actual)) is expected


# --------------------------------------------------------------------------------------
# Attribute paths and params
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "profile", "expected"),
    [
        pytest.param(leaf("company.size", "gte", 10), {"company": {"size": 50}}, True, id="nested"),
        pytest.param(leaf("company.size", "gte", 10), {"company": {"size": 5}}, False,
                     id="nested-false"),
        pytest.param(leaf("a.b.c", "eq", "Deep"), {"a": {"b": {"c": "deep"}}}, True, id="deeper"),
        pytest.param(leaf("company.size", "gte", 10), {"company": {}}, None, id="leaf-missing"),
        pytest.param(leaf("company.size", "gte", 10), {}, None, id="parent-missing"),
        pytest.param(leaf("company.size", "gte", 10), {"company": None}, None, id="parent-null"),
        pytest.param(leaf("company.size", "gte", 10), {"company": "Acme"}, None, id="parent-text"),
        pytest.param(leaf("company.size", "gte", 10), {"company": [{"size": 50}]}, None,
                     id="parent-list"),
        pytest.param(leaf("company.size", "gte", 10), {"company.size": 50}, None,
                     id="flat-dotted-key-is-not-read"),
        pytest.param(leaf("company", "gte", 10), {"company": {"size": 50}}, None,
                     id="top-level-object-is-wrong-type"),
        pytest.param(leaf("company.size", "exists"), {"company": {"size": 0}}, True,
                     id="exists-nested"),
        pytest.param(leaf("company.size", "exists"), {"company": "Acme"}, False,
                     id="exists-parent-not-object"),
        pytest.param(leaf("company.tags", "contains_any", ["b2b"]),
                     {"company": {"tags": ["B2B", "SaaS"]}}, True, id="nested-list"),
    ],
)  # fmt: skip
def test_dotted_attribute_paths(node, profile, expected):
    assert compile_ok(node).test(profile) is expected


PARAMS = {
    "min_mutual_connections": 5,
    "target_industries": ["Software", "SaaS"],
    "senior_titles": ["ceo", "head of"],
    "title_pattern": "^VP",
    "wants_verified": True,
    "home_country": "France",
}


@pytest.mark.parametrize(
    ("node", "profile", "expected"),
    [
        pytest.param(leaf("mutual_connections", "gte", {"param": "min_mutual_connections"}),
                     {"mutual_connections": 5}, True, id="number-met"),
        pytest.param(leaf("mutual_connections", "gte", {"param": "min_mutual_connections"}),
                     {"mutual_connections": 4}, False, id="number-not-met"),
        pytest.param(leaf("industry", "in", {"param": "target_industries"}),
                     {"industry": "saas"}, True, id="list-member"),
        pytest.param(leaf("industry", "not_in", {"param": "target_industries"}),
                     {"industry": "Retail"}, True, id="list-not-member"),
        pytest.param(leaf("headline", "contains_any", {"param": "senior_titles"}),
                     {"headline": "Head of Growth"}, True, id="keywords"),
        pytest.param(leaf("headline", "contains_all", {"param": "senior_titles"}),
                     {"headline": "Head of Growth"}, False, id="keywords-all"),
        pytest.param(leaf("headline", "matches", {"param": "title_pattern"}),
                     {"headline": "VP Sales"}, True, id="pattern"),
        pytest.param(leaf("verified", "eq", {"param": "wants_verified"}),
                     {"verified": True}, True, id="boolean"),
        pytest.param(leaf("country", "eq", {"param": "home_country"}),
                     {"country": "FRANCE"}, True, id="text"),
        pytest.param(leaf("email", "exists", {"param": "wants_verified"}),
                     {}, False, id="exists"),
        pytest.param(leaf("mutual_connections", "gte", {"param": "min_mutual_connections"}),
                     {}, None, id="missing-attribute"),
    ],
)  # fmt: skip
def test_params_are_resolved_from_the_set(node, profile, expected):
    assert compile_ok(node, PARAMS).test(profile) is expected


def test_a_param_leaf_keeps_the_param_name_and_resolved_value():
    rule = compile_ok(leaf("industry", "in", {"param": "target_industries"}), PARAMS)

    assert isinstance(rule, Leaf)
    assert rule.param == "target_industries"
    assert rule.expected == ["Software", "SaaS"]


# --------------------------------------------------------------------------------------
# Groups: Kleene three-valued logic
# --------------------------------------------------------------------------------------

T, F, U = True, False, None


def bit(name: str) -> dict[str, Any]:
    """A leaf whose verdict is the profile's boolean `name`: unknown when it is absent."""
    return leaf(name, "eq", True)


def bits_profile(*values: bool | None) -> dict[str, bool]:
    return {f"b{i}": v for i, v in enumerate(values) if v is not None}


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [
        pytest.param("all", (T,), T, id="all-T"),
        pytest.param("all", (F,), F, id="all-F"),
        pytest.param("all", (U,), U, id="all-U"),
        pytest.param("all", (T, T, T), T, id="all-TTT"),
        pytest.param("all", (T, F, T), F, id="all-TFT"),
        pytest.param("all", (T, U, T), U, id="all-TUT"),
        pytest.param("all", (U, F), F, id="all-UF-false-wins"),
        pytest.param("all", (F, U), F, id="all-FU-false-wins"),
        pytest.param("all", (U, U), U, id="all-UU"),
        pytest.param("any", (T,), T, id="any-T"),
        pytest.param("any", (F,), F, id="any-F"),
        pytest.param("any", (U,), U, id="any-U"),
        pytest.param("any", (F, F, F), F, id="any-FFF"),
        pytest.param("any", (F, T, F), T, id="any-FTF"),
        pytest.param("any", (F, U, F), U, id="any-FUF"),
        pytest.param("any", (U, T), T, id="any-UT-true-wins"),
        pytest.param("any", (T, U), T, id="any-TU-true-wins"),
        pytest.param("any", (U, U), U, id="any-UU"),
    ],
)
def test_all_and_any_follow_kleene_logic(kind, values, expected):
    rule = compile_ok({kind: [bit(f"b{i}") for i in range(len(values))]})

    assert rule.test(bits_profile(*values)) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(T, F, id="not-T"),
        pytest.param(F, T, id="not-F"),
        pytest.param(U, U, id="not-U"),
    ],
)
def test_not_follows_kleene_logic(value, expected):
    rule = compile_ok({"not": bit("b0")})

    assert rule.test(bits_profile(value)) is expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # all(b0, any(b1, not b2))
        pytest.param((T, F, F), T, id="TFF"),
        pytest.param((T, F, T), F, id="TFT"),
        pytest.param((T, U, F), T, id="TUF-inner-any-settled"),
        pytest.param((T, U, T), U, id="TUT"),
        pytest.param((F, U, U), F, id="FUU-outer-false-settles"),
        pytest.param((U, T, U), U, id="UTU"),
        pytest.param((T, T, U), T, id="TTU"),
    ],
)
def test_nested_groups(values, expected):
    rule = compile_ok({"all": [bit("b0"), {"any": [bit("b1"), {"not": bit("b2")}]}]})

    assert rule.test(bits_profile(*values)) is expected


def test_exists_is_never_unknown_inside_groups():
    rule = compile_ok({"not": {"any": [leaf("email", "exists"), leaf("phone", "exists")]}})

    assert rule.test({}) is True
    assert rule.test({"email": None, "phone": "0600"}) is False


# --------------------------------------------------------------------------------------
# Evidence
# --------------------------------------------------------------------------------------


def reasons(node: Any, profile: dict[str, Any], params: dict[str, Any] | None = None):
    rule = compile_ok(node, params)
    return [e.reason for e in rule.explain(profile, rule.test(profile))]


@pytest.mark.parametrize(
    ("node", "profile", "expected"),
    [
        pytest.param(leaf("mutual_connections", "gte", 5), {"mutual_connections": 12},
                     "mutual_connections is 12, at least 5", id="gte-met"),
        pytest.param(leaf("mutual_connections", "gte", 5), {"mutual_connections": 3},
                     "mutual_connections is 3, less than 5", id="gte-not-met"),
        pytest.param(leaf("mutual_connections", "gte", 5), {"mutual_connections": 12.0},
                     "mutual_connections is 12, at least 5", id="whole-float-shown-as-int"),
        pytest.param(leaf("age", "lt", 30), {"age": 25}, "age is 25, less than 30", id="lt-met"),
        pytest.param(leaf("age", "lt", 30), {"age": 30}, "age is 30, not less than 30",
                     id="lt-not-met"),
        pytest.param(leaf("age", "lte", 30), {"age": 31}, "age is 31, more than 30",
                     id="lte-not-met"),
        pytest.param(leaf("age", "gt", 30), {"age": 31.5}, "age is 31.5, more than 30",
                     id="gt-met-float"),
        pytest.param(leaf("age", "gt", 30), {"age": 30}, "age is 30, not more than 30",
                     id="gt-not-met"),
        pytest.param(leaf("industry", "eq", "Software"), {"industry": "software"},
                     'industry is "software", equal to "Software"', id="eq-met"),
        pytest.param(leaf("industry", "eq", "Software"), {"industry": "Retail"},
                     'industry is "Retail", not "Software"', id="eq-not-met"),
        pytest.param(leaf("industry", "ne", "Software"), {"industry": "Retail"},
                     'industry is "Retail", not "Software"', id="ne-met"),
        pytest.param(leaf("verified", "eq", True), {"verified": False},
                     "verified is false, not true", id="eq-bool"),
        pytest.param(leaf("industry", "in", ["Software", "SaaS"]), {"industry": "SaaS"},
                     'industry is "SaaS", one of ["Software", "SaaS"]', id="in-met"),
        pytest.param(leaf("industry", "not_in", ["Software"]), {"industry": "Retail"},
                     'industry is "Retail", not one of ["Software"]', id="not-in-met"),
        pytest.param(leaf("industry", "in", ["a", "b", "c", "d", "e", "f", "g"]),
                     {"industry": "z"},
                     'industry is "z", not one of ["a", "b", "c", "d", "e", … 2 more]',
                     id="long-list-shortened"),
        pytest.param(leaf("headline", "contains_any", ["cto", "ceo"]),
                     {"headline": "CEO & Founder"},
                     'headline is "CEO & Founder", which contains "ceo"', id="contains-any-met"),
        pytest.param(leaf("headline", "contains_any", ["cto", "ceo"]), {"headline": "VP"},
                     'headline is "VP", which contains none of ["cto", "ceo"]',
                     id="contains-any-not-met"),
        pytest.param(leaf("headline", "contains_all", ["head of", "sales"]),
                     {"headline": "Head of Sales"},
                     'headline is "Head of Sales", which contains all of ["head of", "sales"]',
                     id="contains-all-met"),
        pytest.param(leaf("headline", "contains_all", ["head of", "sales", "emea"]),
                     {"headline": "Head of Sales"},
                     'headline is "Head of Sales", which lacks "emea"', id="contains-all-lacks"),
        pytest.param(leaf("skills", "contains_all", ["python", "go"]), {"skills": ["Go"]},
                     'skills is ["Go"], which lacks "python"', id="contains-all-list"),
        pytest.param(leaf("headline", "matches", "^VP"), {"headline": "VP Sales"},
                     'headline is "VP Sales", matching /^VP/', id="matches-met"),
        pytest.param(leaf("headline", "matches", "^VP"), {"headline": "CEO"},
                     'headline is "CEO", not matching /^VP/', id="matches-not-met"),
        pytest.param(leaf("email", "exists"), {"email": "a@b.c"}, "email is present",
                     id="exists-met"),
        pytest.param(leaf("email", "exists"), {}, "email is missing", id="exists-not-met"),
        pytest.param(leaf("email", "exists", False), {"email": None}, "email is missing",
                     id="exists-false-met"),
        pytest.param(leaf("mutual_connections", "gte", 5), {}, "mutual_connections is missing",
                     id="unknown-missing"),
        pytest.param(leaf("mutual_connections", "gte", 5), {"mutual_connections": None},
                     "mutual_connections is missing", id="unknown-null"),
        pytest.param(leaf("mutual_connections", "gte", 5), {"mutual_connections": "many"},
                     'mutual_connections is "many", which gte cannot judge',
                     id="unknown-wrong-type"),
        pytest.param(leaf("company.size", "gte", 10), {"company": {"size": 50}},
                     "company.size is 50, at least 10", id="dotted"),
        pytest.param(leaf("bio", "eq", "x"), {"bio": "y" * 100},
                     f'bio is "{"y" * 77}...", not "x"', id="long-text-shortened"),
    ],
)  # fmt: skip
def test_leaf_reasons(node, profile, expected):
    assert reasons(node, profile) == [expected]


@pytest.mark.parametrize(
    ("node", "profile", "expected"),
    [
        pytest.param(leaf("mutual_connections", "gte", {"param": "min_mutual_connections"}),
                     {"mutual_connections": 12},
                     "mutual_connections is 12, at least 5 (min_mutual_connections)",
                     id="number-param"),
        pytest.param(leaf("mutual_connections", "gte", {"param": "min_mutual_connections"}),
                     {"mutual_connections": 2},
                     "mutual_connections is 2, less than 5 (min_mutual_connections)",
                     id="number-param-not-met"),
        pytest.param(leaf("industry", "in", {"param": "target_industries"}),
                     {"industry": "Software"},
                     'industry is "Software", one of target_industries', id="list-param"),
        pytest.param(leaf("industry", "in", {"param": "target_industries"}),
                     {"industry": "Retail"},
                     'industry is "Retail", not one of target_industries', id="list-param-not"),
        pytest.param(leaf("headline", "contains_any", {"param": "senior_titles"}),
                     {"headline": "Intern"},
                     'headline is "Intern", which contains none of senior_titles',
                     id="keywords-param"),
        pytest.param(leaf("country", "eq", {"param": "home_country"}), {"country": "France"},
                     'country is "France", equal to "France" (home_country)', id="text-param"),
    ],
)  # fmt: skip
def test_param_reasons_name_the_param(node, profile, expected):
    assert reasons(node, profile, PARAMS) == [expected]


def test_evidence_carries_the_leaf_and_the_actual_value():
    node = leaf("mutual_connections", "gte", {"param": "min_mutual_connections"})
    rule = compile_ok(node, PARAMS)

    assert rule.explain({"mutual_connections": 12}, True) == [
        Evidence(
            attribute="mutual_connections",
            operator="gte",
            expected=5,
            param="min_mutual_connections",
            actual=12,
            result=True,
            reason="mutual_connections is 12, at least 5 (min_mutual_connections)",
            masked_reason="mutual_connections, at least 5 (min_mutual_connections)",
        )
    ]


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        pytest.param({"mutual_connections": 12}, ["Plenty of mutual connections"], id="holds"),
        pytest.param({"mutual_connections": 1}, ["mutual_connections is 1, less than 5"],
                     id="fails-uses-generated"),
        pytest.param({}, ["mutual_connections is missing"], id="unknown-uses-generated"),
    ],
)  # fmt: skip
def test_custom_reason_is_used_when_the_leaf_holds(profile, expected):
    node = leaf("mutual_connections", "gte", 5, reason="Plenty of mutual connections")

    assert reasons(node, profile) == expected


GROUP_LEAVES = {
    "mc": leaf("mutual_connections", "gte", 5),
    "ind": leaf("industry", "eq", "Software"),
    "ceo": leaf("headline", "contains_any", ["ceo"]),
}


@pytest.mark.parametrize(
    ("kind", "profile", "verdict", "attributes"),
    [
        pytest.param("all", {"mutual_connections": 9, "industry": "Software", "headline": "CEO"},
                     True, ["mutual_connections", "industry", "headline"],
                     id="all-true-every-leaf"),
        pytest.param("all", {"mutual_connections": 1, "industry": "Software", "headline": "VP"},
                     False, ["mutual_connections", "headline"], id="all-false-the-false-leaves"),
        pytest.param("all", {"mutual_connections": 9, "headline": "CEO"}, None, ["industry"],
                     id="all-unknown-the-unknown-leaves"),
        pytest.param("any", {"mutual_connections": 1, "industry": "Software", "headline": "CEO"},
                     True, ["industry", "headline"], id="any-true-the-true-leaves"),
        pytest.param("any", {"mutual_connections": 1, "industry": "Retail", "headline": "VP"},
                     False, ["mutual_connections", "industry", "headline"],
                     id="any-false-every-leaf"),
        pytest.param("any", {"mutual_connections": 1, "headline": "VP"}, None, ["industry"],
                     id="any-unknown-the-unknown-leaves"),
    ],
)  # fmt: skip
def test_group_evidence_lists_the_deciding_leaves(kind, profile, verdict, attributes):
    rule = compile_ok({kind: list(GROUP_LEAVES.values())})

    assert rule.test(profile) is verdict
    evidence = rule.explain(profile, verdict)
    assert [e.attribute for e in evidence] == attributes
    assert isinstance(rule, Group)
    own = {child.attribute: child.test(profile) for child in rule.children}
    assert [e.result for e in evidence] == [own[name] for name in attributes]


def test_not_explains_its_child_with_the_child_verdict():
    rule = compile_ok({"not": leaf("industry", "in", ["Retail"])})

    assert rule.test({"industry": "Retail"}) is False
    [evidence] = rule.explain({"industry": "Retail"}, False)
    assert evidence.result is True
    assert evidence.reason == 'industry is "Retail", one of ["Retail"]'


def test_nested_evidence_follows_the_deciding_branch():
    rule = compile_ok(
        {
            "all": [
                leaf("mutual_connections", "gte", 5),
                {"any": [leaf("industry", "eq", "Software"), leaf("headline", "matches", "CEO")]},
            ]
        }
    )
    profile = {"mutual_connections": 8, "industry": "Retail", "headline": "CEO"}

    assert rule.test(profile) is True
    assert [e.reason for e in rule.explain(profile, True)] == [
        "mutual_connections is 8, at least 5",
        'headline is "CEO", matching /CEO/',
    ]


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------

GOOD = leaf("x", "exists")


def nested_nots(levels: int) -> dict[str, Any]:
    """`levels` nodes deep: levels - 1 `not` groups around one leaf."""
    node: dict[str, Any] = GOOD
    for _ in range(levels - 1):
        node = {"not": node}
    return node


def nested_alls(levels: int) -> dict[str, Any]:
    """`levels` nodes deep: the deepest leaf is alone, the others have a leaf sibling."""
    node: dict[str, Any] = {"all": [GOOD]}
    for _ in range(levels - 2):
        node = {"all": [GOOD, node]}
    return node


def many_leaves(count: int) -> dict[str, Any]:
    return {"any": [leaf(f"a{i}", "exists") for i in range(count)]}


@pytest.mark.parametrize(
    ("node", "params", "path", "message"),
    [
        pytest.param(leaf("x", "between", 1), {}, "rules.operator", "unknown operator 'between'",
                     id="unknown-operator"),
        pytest.param({"attribute": "x", "value": 1}, {}, "rules.operator", "unknown operator",
                     id="missing-operator"),
        pytest.param(leaf("x", "GTE", 1), {}, "rules.operator", "unknown operator",
                     id="operator-is-case-sensitive"),
        pytest.param(leaf("x", "gte", "five"), {}, "rules.value", "gte compares numbers",
                     id="gte-with-text"),
        pytest.param(leaf("x", "lt", True), {}, "rules.value", "lt compares numbers",
                     id="lt-with-boolean"),
        pytest.param(leaf("x", "gt"), {}, "rules.value", "gt compares numbers", id="gt-no-value"),
        pytest.param(leaf("x", "eq", ["a"]), {}, "rules.value", "eq needs a text",
                     id="eq-with-list"),
        pytest.param(leaf("x", "ne", None), {}, "rules.value", "ne needs a text",
                     id="ne-with-null"),
        pytest.param(leaf("x", "in", "Software"), {}, "rules.value", "in needs a list",
                     id="in-with-text"),
        pytest.param(leaf("x", "not_in", [["a"]]), {}, "rules.value", "not_in needs a list",
                     id="not-in-nested-list"),
        pytest.param(leaf("x", "contains_any", "ceo"), {}, "rules.value",
                     "contains_any needs a non-empty list", id="contains-any-with-text"),
        pytest.param(leaf("x", "contains_all", []), {}, "rules.value",
                     "contains_all needs a non-empty list", id="contains-all-empty"),
        pytest.param(leaf("x", "contains_any", ["ceo", " "]), {}, "rules.value",
                     "contains_any needs a non-empty list", id="contains-any-blank-keyword"),
        pytest.param(leaf("x", "contains_any", ["ceo", 5]), {}, "rules.value",
                     "contains_any needs a non-empty list", id="contains-any-number-keyword"),
        pytest.param(leaf("x", "exists", "yes"), {}, "rules.value", "exists takes true or false",
                     id="exists-with-text"),
        pytest.param(leaf("x", "matches", 5), {}, "rules.value", "matches needs a regular",
                     id="matches-with-number"),
        pytest.param(leaf("x", "matches", "(unclosed"), {}, "rules.value",
                     "invalid regular expression", id="invalid-regex"),
        pytest.param(leaf("x", "matches", "(?=lookahead)"), {}, "rules.value",
                     "invalid regular expression", id="regex-not-re2"),
        pytest.param(leaf("x", "matches", "a" * 201), {}, "rules.value",
                     "at most 200 characters", id="regex-too-long"),
        pytest.param(leaf("x", "eq", "a" * 201), {}, "rules.value", "at most 200 characters",
                     id="text-too-long"),
        pytest.param(leaf("x", "contains_any", [f"k{i}" for i in range(501)]), {}, "rules.value",
                     "at most 500 entries", id="keywords-too-many"),
        pytest.param(leaf("x", "in", list(range(501))), {}, "rules.value", "at most 500 entries",
                     id="members-too-many"),
        pytest.param(leaf("x", "gte", {"param": "nope"}), {}, "rules.value.param",
                     "no param 'nope'", id="param-undefined"),
        pytest.param(leaf("x", "gte", {"param": 5}), {"5": 1}, "rules.value.param",
                     "no param 5", id="param-name-not-text"),
        pytest.param(leaf("x", "gte", {"param": "p"}), {"p": "five"}, "rules.value.param",
                     "gte compares numbers, not a text (param 'p')", id="param-wrong-type"),
        pytest.param(leaf("x", "contains_any", {"param": "p"}), {"p": 5}, "rules.value.param",
                     "contains_any needs a non-empty list", id="param-not-a-list"),
        pytest.param(leaf("x", "matches", {"param": "p"}), {"p": "(bad"}, "rules.value.param",
                     "invalid regular expression", id="param-invalid-regex"),
        pytest.param(leaf("x", "in", {"param": "p"}), {"p": list(range(501))},
                     "rules.value.param", "at most 500 entries", id="param-list-too-long"),
        pytest.param({**GOOD, "weight": 2}, {}, "rules.weight", "unknown field",
                     id="unknown-leaf-field"),
        pytest.param({**GOOD, "Reason": "x"}, {}, "rules.Reason", "unknown field",
                     id="leaf-fields-are-case-sensitive"),
        pytest.param({"operator": "exists"}, {}, "rules.attribute", "attribute name",
                     id="missing-attribute"),
        pytest.param(leaf("company..size", "exists"), {}, "rules.attribute", "dotted path",
                     id="empty-path-segment"),
        pytest.param(leaf(".size", "exists"), {}, "rules.attribute", "dotted path",
                     id="leading-dot"),
        pytest.param(leaf("", "exists"), {}, "rules.attribute", "dotted path",
                     id="empty-attribute"),
        pytest.param(leaf(5, "exists"), {}, "rules.attribute", "dotted path",
                     id="attribute-not-text"),
        pytest.param(leaf("x", "exists", reason=""), {}, "rules.reason", "1 to 300",
                     id="empty-reason"),
        pytest.param(leaf("x", "exists", reason="r" * 301), {}, "rules.reason", "1 to 300",
                     id="reason-too-long"),
        pytest.param({"all": []}, {}, "rules.all", "non-empty list", id="empty-all"),
        pytest.param({"any": []}, {}, "rules.any", "non-empty list", id="empty-any"),
        pytest.param({"all": GOOD}, {}, "rules.all", "non-empty list", id="all-not-a-list"),
        pytest.param({"all": [GOOD], "any": [GOOD]}, {}, "rules", "exactly one key",
                     id="group-two-kinds"),
        pytest.param({"all": [GOOD], "reason": "x"}, {}, "rules", "exactly one key",
                     id="group-with-extra-key"),
        pytest.param({"not": GOOD, "attribute": "x"}, {}, "rules", "exactly one key",
                     id="not-with-leaf-field"),
        pytest.param([GOOD], {}, "rules", "must be an object", id="list-node"),
        pytest.param("x exists", {}, "rules", "must be an object", id="text-node"),
        pytest.param(None, {}, "rules", "must be an object", id="null-node"),
        pytest.param({"all": [GOOD, 5]}, {}, "rules.all[1]", "must be an object",
                     id="non-object-child"),
        pytest.param({"not": [GOOD]}, {}, "rules.not", "must be an object",
                     id="not-with-a-list"),
        pytest.param({"any": [GOOD, {"all": [GOOD, leaf("y", "gte", "a")]}]}, {},
                     "rules.any[1].all[1].value", "gte compares numbers", id="nested-path"),
        pytest.param({"not": {"not": leaf("y", "nope")}}, {}, "rules.not.not.operator",
                     "unknown operator", id="path-through-not"),
        pytest.param(nested_nots(9), {}, "rules" + ".not" * 8, "deeper than 8",
                     id="depth-9-nots"),
        pytest.param(nested_alls(9), {}, "rules" + ".all[1]" * 7 + ".all[0]",
                     "deeper than 8",
                     id="depth-9-alls"),
        pytest.param(many_leaves(201), {}, "rules.any[200]", "at most 200 conditions",
                     id="leaves-201"),
    ],
)  # fmt: skip
def test_validation_problem_paths(node, params, path, message):
    problems = problems_of(node, params)

    assert [p for p, _ in problems] == [path]
    assert message in problems[0][1]


@pytest.mark.parametrize(
    "node",
    [
        pytest.param(nested_nots(8), id="depth-8-nots"),
        pytest.param(nested_alls(8), id="depth-8-alls"),
        pytest.param(many_leaves(200), id="leaves-200"),
        pytest.param(leaf("x", "matches", "a" * 200), id="regex-200-chars"),
        pytest.param(leaf("x", "contains_any", [f"k{i}" for i in range(500)]), id="keywords-500"),
        pytest.param(leaf("x", "eq", "a" * 200), id="text-200-chars"),
        pytest.param(leaf("x", "exists", reason="r" * 300), id="reason-300-chars"),
        pytest.param(leaf("a.b.c", "exists"), id="dotted-attribute"),
    ],
)
def test_validation_limits_are_inclusive(node):
    assert compile_ok(node) is not None


def test_every_problem_of_a_tree_is_reported():
    node = {
        "all": [
            leaf("a", "between", 1),
            {**leaf("b", "gte", "x"), "weight": 1},
            leaf("c", "gte", {"param": "missing"}),
            {"any": []},
        ]
    }

    assert paths_of(node) == [
        "rules.all[0].operator",
        "rules.all[1].weight",
        "rules.all[2].value.param",
        "rules.all[3].any",
    ]


def test_a_leaf_with_several_problems_reports_each_field():
    assert paths_of({"attribute": "", "operator": "nope", "reason": 3, "extra": 1}) == [
        "rules.extra",
        "rules.attribute",
        "rules.operator",
        "rules.reason",
    ]


def test_compile_rule_counts_leaves_from_leaves_before():
    rule, problems, count = compile_rule(many_leaves(3), {}, "rules", leaves_before=10)

    assert problems == []
    assert rule is not None
    assert count == 13


def test_leaf_limit_counts_leaves_before():
    rule, problems, count = compile_rule(many_leaves(3), {}, "rules", leaves_before=198)

    assert rule is None
    assert [path for path, _ in problems] == ["rules.any[2]"]
    assert count == 201


def test_compiled_tree_shapes():
    rule = compile_ok({"all": [GOOD, {"not": GOOD}, {"any": [GOOD]}]})

    assert isinstance(rule, Group)
    assert rule.kind == "all"
    assert [type(c).__name__ for c in rule.children] == ["Leaf", "Group", "Group"]
    assert [getattr(c, "kind", None) for c in rule.children] == [None, "not", "any"]


@pytest.mark.parametrize(
    ("params", "paths"),
    [
        pytest.param({"n": 5, "t": "x", "b": True, "l": ["a", 1]}, [], id="valid"),
        pytest.param({"o": {"a": 1}}, ["params.o"], id="object"),
        pytest.param({"n": None}, ["params.n"], id="null"),
        pytest.param({"l": [True]}, ["params.l"], id="list-of-booleans"),
        pytest.param({"l": [["a"]]}, ["params.l"], id="nested-list"),
        pytest.param({"l": list(range(501))}, ["params.l"], id="list-too-long"),
        pytest.param({"l": list(range(500))}, [], id="list-500"),
        pytest.param({"t": "a" * 201}, ["params.t"], id="text-too-long"),
        pytest.param({"l": ["a" * 201]}, ["params.l"], id="list-text-too-long"),
    ],
)
def test_check_params(params, paths):
    assert [path for path, _ in check_params(params)] == paths


# --------------------------------------------------------------------------------------
# Through compile_definition
# --------------------------------------------------------------------------------------


def definition_problems(criteria, params=None, accept_at=1):
    with pytest.raises(InvalidDefinition) as raised:
        compile_definition(criteria, {"accept_at": accept_at}, params)
    return raised.value.problems


def test_definition_problem_paths_name_the_criterion():
    problems = definition_problems(
        [
            criterion_spec("a", GOOD),
            criterion_spec("b", {"any": [GOOD, leaf("y", "gte", "many")]}),
        ]
    )

    assert problems == [("criteria[1].rules.any[1].value", "gte compares numbers, not a text")]


@pytest.mark.parametrize(
    ("rules", "params", "paths"),
    [
        pytest.param(leaf("x", "between", 1), {}, ["criteria[1].rules.operator"],
                     id="operator"),
        pytest.param({"any": [GOOD, leaf("x", "gte", {"param": "min"})]}, {},
                     ["criteria[1].rules.any[1].value.param"], id="param-undefined"),
        pytest.param({"any": [GOOD, leaf("x", "gte", {"param": "min"})]}, {"min": "five"},
                     ["criteria[1].rules.any[1].value.param"], id="param-wrong-type"),
        pytest.param({"not": leaf("x", "matches", "[")}, {}, ["criteria[1].rules.not.value"],
                     id="regex"),
        pytest.param({"all": [{**GOOD, "weight": 1}]}, {}, ["criteria[1].rules.all[0].weight"],
                     id="unknown-field"),
        pytest.param({"any": []}, {}, ["criteria[1].rules.any"], id="empty-any"),
        pytest.param(nested_nots(9), {}, ["criteria[1].rules" + ".not" * 8], id="depth"),
        pytest.param(leaf("x", "in", {"param": "many"}), {"many": list(range(501))},
                     ["params.many", "criteria[1].rules.value.param"], id="param-list-too-long"),
    ],
)  # fmt: skip
def test_definition_rule_problem_paths(rules, params, paths):
    problems = definition_problems([criterion_spec("a"), criterion_spec("b", rules)], params)

    assert [path for path, _ in problems] == paths


def test_leaf_limit_is_per_set_across_criteria():
    criteria = [criterion_spec("a", many_leaves(150)), criterion_spec("b", many_leaves(51))]

    problems = definition_problems(criteria)

    assert problems == [("criteria[1].rules.any[50]", "a set holds at most 200 conditions")]


def test_two_hundred_leaves_across_criteria_compile():
    criteria = [criterion_spec("a", many_leaves(150)), criterion_spec("b", many_leaves(50))]

    definition = compile_definition(criteria, {"accept_at": 1})

    assert all(c.rules is not None for c in definition.criteria)


def test_rule_and_coherence_problems_are_reported_together():
    problems = definition_problems(
        [criterion_spec("a", leaf("x", "gte", "x")), criterion_spec("a")], accept_at=5
    )

    assert [path for path, _ in problems] == [
        "criteria[0].rules.value",
        "criteria[1].key",
        "policy.accept_at",
    ]


# --------------------------------------------------------------------------------------
# Policy integration: evaluate()
# --------------------------------------------------------------------------------------

NETWORK_RULES = {
    "any": [
        leaf("mutual_connections", "gte", {"param": "min_mutual_connections"}),
        leaf("industry", "in", {"param": "target_industries"}),
    ]
}


def network_definition(unknown: UnknownMode = UnknownMode.NOT_MET):
    return compile_definition(
        [
            criterion_spec("network", NETWORK_RULES),
            criterion_spec("senior", leaf("headline", "contains_any", ["ceo", "head of"])),
            criterion_spec("useful"),
        ],
        {"accept_at": 2, "unknown": unknown},
        {"min_mutual_connections": 5, "target_industries": ["Software", "SaaS"]},
    )


@pytest.mark.parametrize(
    ("attributes", "met", "reasons"),
    [
        pytest.param({"mutual_connections": 12, "industry": "Software"}, True,
                     ("mutual_connections is 12, at least 5 (min_mutual_connections)",
                      'industry is "Software", one of target_industries'), id="met-both"),
        pytest.param({"mutual_connections": 2, "industry": "SaaS"}, True,
                     ('industry is "SaaS", one of target_industries',), id="met-one"),
        pytest.param({"mutual_connections": 2, "industry": "Retail"}, False,
                     ("mutual_connections is 2, less than 5 (min_mutual_connections)",
                      'industry is "Retail", not one of target_industries'), id="not-met"),
        pytest.param({"mutual_connections": 2, "industry": None, "headline": "CEO"}, None, None,
                     id="unknown"),
    ],
)  # fmt: skip
def test_rules_decide_a_criterion_without_an_answer(attributes, met, reasons):
    result = evaluate(network_definition(), {}, attributes).criteria[0]

    assert result.key == "network"
    assert result.met is met
    if met is None:
        assert result.source is Source.NONE
        assert len(result.reasons) == 1
        assert "the rules cannot tell (industry is missing)" in result.reasons[0]
    else:
        assert result.source is Source.RULES
        assert result.reasons == reasons
        assert result.reasons == tuple(e.reason for e in result.evidence)
    assert all(e.attribute in attributes for e in result.evidence)


def test_an_explicit_null_answer_leaves_it_to_the_rules():
    result = evaluate(network_definition(), {"network": None}, {"industry": "saas"}).criteria[0]

    assert result.met is True
    assert result.source is Source.RULES


@pytest.mark.parametrize(
    ("answer", "attributes", "disagree"),
    [
        pytest.param(True, {"mutual_connections": 12}, None, id="yes-agrees"),
        pytest.param(False, {"mutual_connections": 1, "industry": "Retail"}, None,
                     id="no-agrees"),
        pytest.param(True, {"mutual_connections": 1, "industry": "Retail"},
                     "The rules disagree, they find it not met: mutual_connections is 1, "
                     'less than 5 (min_mutual_connections); industry is "Retail", not one of '
                     "target_industries.", id="yes-rules-say-no"),
        pytest.param(False, {"mutual_connections": 12},
                     "The rules disagree, they find it met: mutual_connections is 12, at least 5 "
                     "(min_mutual_connections).", id="no-rules-say-yes"),
        pytest.param(True, {"mutual_connections": 1}, None, id="yes-rules-unknown"),
        pytest.param(False, {}, None, id="no-rules-unknown"),
    ],
)  # fmt: skip
def test_an_explicit_answer_wins_over_the_rules(answer, attributes, disagree):
    result = evaluate(network_definition(), {"network": answer}, attributes).criteria[0]

    assert result.met is answer
    assert result.source is Source.ANSWER
    assert result.reasons[0] == f"Answered {'yes' if answer else 'no'} to: network?"
    if disagree is None:
        assert len(result.reasons) == 1
        assert not any("disagree" in reason for reason in result.reasons)
    else:
        assert result.reasons[1:] == (disagree,)


@pytest.mark.parametrize(
    ("answers", "attributes", "decision", "statuses"),
    [
        pytest.param({}, {"industry": "Software", "headline": "Head of Sales"}, Decision.ACCEPT,
                     [True, True, None], id="rules-meet-two"),
        pytest.param({}, {"industry": "Retail", "mutual_connections": 0, "headline": "VP"},
                     Decision.DECLINE, [False, False, None], id="rules-meet-none"),
        pytest.param({"useful": True}, {"headline": "CEOS"}, Decision.DECLINE,
                     [None, False, True], id="word-boundary-fails-senior"),
        pytest.param({"useful": True, "senior": False}, {"headline": "CEO", "industry": "SaaS"},
                     Decision.ACCEPT, [True, False, True], id="answer-overrides-rules"),
        pytest.param({"useful": True}, None, Decision.DECLINE, [None, None, True],
                     id="no-attributes"),
    ],
)  # fmt: skip
def test_rule_verdicts_feed_the_decision(answers, attributes, decision, statuses):
    evaluation = evaluate(network_definition(), answers, attributes)

    assert [r.met for r in evaluation.criteria] == statuses
    assert evaluation.decision is decision


def test_unknown_rules_verdict_can_make_a_review():
    definition = network_definition(UnknownMode.REVIEW)

    evaluation = evaluate(definition, {"useful": True}, {"headline": "VP", "industry": None})

    assert [r.met for r in evaluation.criteria] == [None, False, True]
    assert [r.source for r in evaluation.criteria] == [Source.NONE, Source.RULES, Source.ANSWER]
    assert evaluation.decision is Decision.REVIEW


def test_a_criterion_without_rules_has_no_evidence():
    result = evaluate(network_definition(), {"useful": True}, {"industry": "Software"})

    assert result.criteria[2].evidence == ()
    assert result.criteria[2].source is Source.ANSWER


# --------------------------------------------------------------------------------------
# Edge cases: wordless keywords and booleans among numbers
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "...", "—"])
def test_punctuation_only_keyword_does_not_match_a_wordless_text(text):
    assert verdict_of("contains_any", ["!!!"], text) is not True


def test_booleans_in_a_list_attribute_are_not_numbers():
    assert verdict_of("in", [1], True) is None  # the scalar case: a boolean is not judged
    assert verdict_of("in", [1], [True]) is False
