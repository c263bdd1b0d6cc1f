"""Fuzzing criteria definitions: any input is a 422 or a set that evaluates without error."""

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine.rules import OPERATORS

JSON_SCALARS = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=12)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
ATTRIBUTES = st.sampled_from(["headline", "industry", "mutual_connections", "skills", "a.b", "x"])
TEXT = st.text(alphabet="abcéE -", min_size=1, max_size=8)
PARAMS = {"kw": ["ceo", "head of"], "n": 5, "bad": ["x", 2.5]}
TYPED_VALUES = {
    "eq": JSON_SCALARS,
    "ne": JSON_SCALARS,
    "lt": st.integers(-5, 5),
    "lte": st.integers(-5, 5),
    "gt": st.integers(-5, 5),
    "gte": st.integers(-5, 5) | st.just({"param": "n"}),
    "in": st.lists(TEXT | st.integers(0, 5), max_size=3),
    "not_in": st.lists(TEXT | st.integers(0, 5), max_size=3),
    "contains_any": st.lists(TEXT, min_size=1, max_size=3) | st.just({"param": "kw"}),
    "contains_all": st.lists(TEXT, min_size=1, max_size=3),
    "matches": st.sampled_from(["a+", "^x", "(", "[a-z]+$", "(?i)ceo"]),
    "exists": st.booleans(),
}


def typed_leaf() -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(sorted(TYPED_VALUES)).flatmap(
        lambda op: st.fixed_dictionaries(
            {"attribute": ATTRIBUTES, "operator": st.just(op), "value": TYPED_VALUES[op]}
        )
    )


def any_leaf() -> st.SearchStrategy[Any]:
    garbage = st.fixed_dictionaries(
        {"attribute": ATTRIBUTES | JSON, "operator": st.sampled_from([*OPERATORS, "near"])},
        optional={"value": JSON | st.just({"param": "bad"}), "why": JSON},
    )
    # Mostly well-typed leaves, so that many trees are valid and get evaluated.
    return st.one_of(*[typed_leaf()] * 8, garbage, JSON)


RULES = st.recursive(
    any_leaf(),
    lambda children: st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(children, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(children, max_size=3)),
        st.builds(lambda item: {"not": item}, children),
    ),
    max_leaves=10,
)
CRITERION = st.fixed_dictionaries(
    {"label": TEXT, "question": TEXT},
    optional={
        "weight": st.floats(0.1, 5),
        "required": st.booleans(),
        "rules": RULES,
    },
)


@st.composite
def definitions(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON.filter(lambda value: value is not None))  # now and then, anything
    criteria = draw(st.lists(CRITERION, min_size=1, max_size=4))
    for index, criterion in enumerate(criteria):
        criterion["key"] = draw(st.sampled_from([f"k{index}"] * 8 + ["dup", "Bad Key"]))
    return {
        "name": draw(TEXT),
        "criteria": criteria,
        "policy": {
            "mode": draw(st.sampled_from(["count"] * 4 + ["score"] * 4 + ["other"])),
            "accept_at": draw(st.integers(1, len(criteria)) | st.integers(-1, len(criteria) + 1)),
            "review_at": draw(st.none() | st.none() | st.integers(0, len(criteria))),
            "unknown": draw(st.sampled_from(["not_met", "review"])),
        },
        "params": draw(
            st.one_of(*[st.just(PARAMS)] * 4, st.dictionaries(st.sampled_from(["kw", "n"]), JSON))
        ),
    }


PROFILE = st.fixed_dictionaries(
    {},
    optional={
        "headline": st.text(max_size=20),
        "industry": TEXT,
        "mutual_connections": st.integers(0, 10),
        "skills": st.lists(TEXT, max_size=3),
        "a": JSON,
        "x": JSON,
    },
)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(definition=definitions(), profile=PROFILE)
def test_any_definition_is_refused_or_evaluates(
    client: TestClient, definition: Any, profile: Any
) -> None:
    response = client.post(
        "/evaluate", json={"criteria": definition, "attributes": profile, "dry_run": True}
    )

    assert response.status_code in (200, 422), response.text
    body = response.json()
    if response.status_code == 200:
        assert body["decision"] in ("accept", "review", "decline")
        assert [c["key"] for c in body["criteria"]] == [c["key"] for c in definition["criteria"]]
    else:
        assert body["errors"], body
