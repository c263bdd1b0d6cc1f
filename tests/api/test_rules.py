"""Evaluating raw profile attributes through criterion rules, over HTTP."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import content_of, make_criteria_set, make_criterion

TYPICAL = {
    "headline": "Directrice Générale chez Acme — growth & digital",
    "industry": "Software Development",
    "mutual_connections": 12,
    "followers": 300,
    "location": "Lyon, Auvergne-Rhône-Alpes",
}


def by_key(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {criterion["key"]: criterion for criterion in body["criteria"]}


def test_attributes_only_give_a_reasoned_decision(client: TestClient) -> None:
    response = client.post("/evaluate", json={"attributes": TYPICAL})

    assert response.status_code == 201
    body = response.json()
    criteria = by_key(body)
    assert body["decision"] == "accept"
    assert {c["source"] for c in criteria.values()} == {"rules"}
    assert criteria["interaction"]["reasons"] == [
        "mutual_connections is 12, at least 5 (min_mutual_connections)"
    ]
    assert criteria["pertinence"]["reasons"][0] == (
        'industry is "Software Development", one of target_industries'
    )
    assert criteria["prescription"]["evidence"] == [
        {
            "attribute": "headline",
            "operator": "contains_any",
            "expected": criteria["prescription"]["evidence"][0]["expected"],
            "param": "decision_maker_titles",
            "actual": TYPICAL["headline"],
            "actual_shortened": False,
            "result": True,
            "reason": f'headline is "{TYPICAL["headline"]}", which contains "directrice"',
        }
    ]
    assert client.get(f"/evaluations/{body['id']}").json() == body


def test_a_profile_the_rules_reject_is_declined_with_reasons(client: TestClient) -> None:
    profile = {
        "headline": "Student",
        "industry": "Retail",
        "mutual_connections": 0,
        "has_message": False,
        "engaged_with_my_posts": False,
        "met_in_person": False,
        "followers": 20,
        "current_title": "Intern",
        "company": "Shop",
        "location": "Marseille",
    }

    body = client.post("/evaluate", json={"attributes": profile}).json()

    assert body["decision"] == "decline"
    assert [c["met"] for c in body["criteria"]] == [False, False, False, False]
    assert (
        "followers is 20, less than 1000 (min_followers)" in by_key(body)["prescription"]["reasons"]
    )


def test_an_answer_wins_over_the_rules_and_the_disagreement_is_told(client: TestClient) -> None:
    body = client.post(
        "/evaluate", json={"answers": {"interaction": False}, "attributes": TYPICAL}
    ).json()

    interaction = by_key(body)["interaction"]
    assert (interaction["met"], interaction["source"]) == (False, "answer")
    assert interaction["reasons"][1] == (
        "The rules disagree, they find it met: "
        "mutual_connections is 12, at least 5 (min_mutual_connections)."
    )


def test_unknown_attributes_leave_the_criterion_unknown(client: TestClient) -> None:
    body = client.post("/evaluate", json={"attributes": {"followers": 10}}).json()

    prescription = by_key(body)["prescription"]
    assert (prescription["met"], prescription["source"]) == (None, "none")
    assert [e["result"] for e in prescription["evidence"]] == [None, None]


def test_custom_rules_read_nested_attributes_and_other_attributes(client: TestClient) -> None:
    criteria = [
        make_criterion(
            "senior",
            rules={"attribute": "experience.years", "operator": "gte", "value": {"param": "years"}},
        ),
        make_criterion(
            "speaks_french",
            rules={"attribute": "languages", "operator": "contains_any", "value": ["Français"]},
        ),
    ]
    body = make_criteria_set("custom", criteria=criteria)
    body["params"] = {"years": 10}
    assert client.post("/criteria", json=body).status_code == 201

    result = client.post(
        "/evaluate",
        json={
            "criteria_set": "custom",
            "attributes": {"experience": {"years": 12}, "languages": ["francais", "English"]},
        },
    ).json()

    assert result["decision"] == "accept"
    assert result["criteria"][0]["reasons"] == ["experience.years is 12, at least 10 (years)"]


def test_retuning_params_changes_decisions_without_touching_rules(client: TestClient) -> None:
    current = client.get("/criteria/pipu")
    content = content_of(current.json())
    for key in ("slug", "version", "created_at", "is_default", "archived_at"):
        content.pop(key, None)
    content["params"]["min_mutual_connections"] = 20
    replaced = client.put(
        "/criteria/pipu", json=content, headers={"If-Match": current.headers["etag"]}
    )
    assert replaced.status_code == 200

    body = client.post("/evaluate", json={"attributes": {"mutual_connections": 12}}).json()
    pinned = client.post(
        "/evaluate", json={"version": 1, "attributes": {"mutual_connections": 12}}
    ).json()

    assert by_key(body)["interaction"]["met"] is None
    assert by_key(pinned)["interaction"]["met"] is True


@pytest.mark.parametrize(
    ("rules", "field", "message"),
    [
        (
            {"any": [{"attribute": "x", "operator": "near", "value": 1}]},
            "criteria[1].rules.any[0].operator",
            "unknown operator 'near'",
        ),
        (
            {"any": [{"attribute": "x", "operator": "gte", "value": "five"}]},
            "criteria[1].rules.any[0].value",
            "gte compares numbers, not a text",
        ),
        (
            {"all": [{"attribute": "x", "operator": "in", "value": {"param": "nope"}}]},
            "criteria[1].rules.all[0].value.param",
            "the set has no param 'nope'",
        ),
        (
            {"attribute": "x", "operator": "matches", "value": "(unclosed"},
            "criteria[1].rules.value",
            "invalid regular expression",
        ),
        (
            {"not": {"attribute": "x", "operator": "eq", "value": 1, "weight": 2}},
            "criteria[1].rules.not.weight",
            "unknown field",
        ),
        ({"any": []}, "criteria[1].rules.any", "non-empty list"),
        (
            {"attribute": "x", "operator": "contains_any", "value": ["k"] * 501},
            "criteria[1].rules.value",
            "at most 500 entries",
        ),
    ],
    ids=["operator", "type", "param", "regex", "leaf-field", "empty-group", "keywords"],
)
def test_a_bad_rule_is_a_422_pointing_at_the_node(
    client: TestClient, rules: dict[str, Any], field: str, message: str
) -> None:
    criteria = [make_criterion("fine"), make_criterion("broken", rules=rules)]

    response = client.post(
        "/criteria", json=make_criteria_set("bad", criteria=criteria, accept_at=1)
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert message in error["message"]
    assert client.get("/criteria/bad").status_code == 404


def test_a_tree_over_the_depth_limit_is_refused(client: TestClient) -> None:
    rules: dict[str, Any] = {"attribute": "x", "operator": "exists"}
    for _ in range(8):
        rules = {"not": rules}

    response = client.post(
        "/criteria",
        json=make_criteria_set("deep", criteria=[make_criterion("a", rules=rules)], accept_at=1),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "criteria[0].rules" + ".not" * 8


def test_bad_params_are_422_naming_the_param(client: TestClient) -> None:
    body = make_criteria_set("params")
    body["params"] = {"keywords": ["x"] * 501}

    response = client.post("/criteria", json=body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "params.keywords"


@pytest.mark.parametrize("value", [[False], ["ceo", True], [1, 2.5, False]])
def test_a_boolean_in_a_param_list_is_422_not_a_number(client: TestClient, value: Any) -> None:
    body = make_criteria_set("params")
    body["params"] = {"keywords": value}

    response = client.post("/criteria", json=body)

    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "params.keywords",
        "location": "body",
        "message": "a list may hold only texts and numbers",
    }


def test_an_inline_draft_is_tried_without_being_stored(client: TestClient) -> None:
    draft = content_of(
        make_criteria_set(
            "draft",
            criteria=[
                make_criterion(
                    "warm", rules={"attribute": "has_message", "operator": "eq", "value": True}
                )
            ],
            accept_at=1,
        )
    )

    response = client.post(
        "/evaluate",
        json={"criteria": draft, "attributes": {"has_message": True}, "dry_run": True},
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["criteria_set"], body["decision"]) == (None, None, "accept")
    assert client.get("/evaluations").json()["items"] == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"dry_run": False}, "dry_run"), ({"dry_run": True, "criteria_set": "pipu"}, "criteria")],
    ids=["not-dry-run", "with-a-set"],
)
def test_inline_drafts_need_a_dry_run_and_no_set(
    client: TestClient, extra: dict[str, Any], field: str
) -> None:
    draft = content_of(make_criteria_set())

    response = client.post("/evaluate", json={"criteria": draft, **extra})

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_an_inline_draft_is_validated_like_a_saved_set(client: TestClient) -> None:
    draft = content_of(
        make_criteria_set(
            criteria=[make_criterion("a", rules={"attribute": "x", "operator": "gt", "value": []})],
            accept_at=1,
        )
    )

    response = client.post("/evaluate", json={"criteria": draft, "dry_run": True})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "criteria.criteria[0].rules.value"


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"mutual_connections": -1}, "attributes.mutual_connections"),
        ({"has_message": "perhaps"}, "attributes.has_message"),
        ({"skills": "python"}, "attributes.skills"),
        ({f"extra_{i}": i for i in range(101)}, "attributes"),
    ],
    ids=["negative-count", "not-bool", "skills-not-list", "too-many"],
)
def test_documented_attributes_are_validated(
    client: TestClient, attributes: dict[str, Any], field: str
) -> None:
    response = client.post("/evaluate", json={"attributes": attributes})

    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
