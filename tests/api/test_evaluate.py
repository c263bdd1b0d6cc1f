"""POST /evaluate: decisions from answers, their explanation, and what gets stored."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_criteria_set, make_criterion

PIPU_KEYS = ["pertinence", "interaction", "prescription", "utilite"]


def evaluate(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/evaluate", json=body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def test_accept_with_two_of_four_stores_the_decision(client: TestClient) -> None:
    response = client.post(
        "/evaluate",
        json={
            "subject": {"ref": "https://example.org/in/ada", "name": "Ada"},
            "answers": {"pertinence": True, "utilite": True},
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/evaluations/{body['id']}"
    assert body["decision"] == "accept"
    assert body["criteria_set"] == {"slug": "pipu", "version": 1}
    assert body["subject"] == {"ref": "https://example.org/in/ada", "name": "Ada"}
    assert (body["met"], body["score"], body["needed"]) == (2, 2, 2)
    assert [c["key"] for c in body["criteria"]] == PIPU_KEYS
    assert [c["met"] for c in body["criteria"]] == [True, None, None, True]
    assert [c["source"] for c in body["criteria"]] == ["answer", "none", "none", "answer"]
    assert body["criteria"][0]["reasons"] == ["Answered yes to: Ce profil est-il pertinent ?"]
    assert body["criteria"][1]["reasons"] == [
        "No answer given and the rules cannot tell (mutual_connections is missing; "
        "has_message is missing; engaged_with_my_posts is missing; met_in_person is missing); "
        "counts as not met."
    ]
    assert body["summary"] == "Accept: 2 of 4 criteria met (Pertinence, Utilité); 2 needed."
    assert body["to_change"] == ["losing any one of Pertinence, Utilité would make it decline"]
    assert client.get(f"/evaluations/{body['id']}").json() == body


def test_decline_says_what_would_flip_it(client: TestClient) -> None:
    body = evaluate(client, answers={"pertinence": True, "interaction": False, "utilite": None})

    assert body["decision"] == "decline"
    assert body["criteria"][1]["met"] is False
    assert body["criteria"][3]["reasons"] == [
        "Answered unknown and the rules cannot tell (company is missing; location is missing); "
        "counts as not met."
    ]
    assert body["summary"] == "Decline: 1 of 4 criteria met (Pertinence); 2 needed."
    assert body["to_change"] == [
        "one more of Interaction, Prescription, Utilité would make it accept"
    ]


def test_dry_run_decides_without_storing(client: TestClient) -> None:
    response = client.post("/evaluate", json={"answers": {"pertinence": True}, "dry_run": True})

    assert response.status_code == 200
    assert response.json()["id"] is None
    assert "location" not in response.headers
    assert client.get("/evaluations").json()["items"] == []


def test_review_band_and_weights_of_a_custom_set(client: TestClient) -> None:
    criteria = [
        make_criterion("industry", weight=2),
        make_criterion("hiring", weight=3, required=True),
        make_criterion("note", weight=1),
    ]
    set_body = make_criteria_set("recruiter", criteria=criteria, mode="score", accept_at=4)
    set_body["policy"]["review_at"] = 3
    assert client.post("/criteria", json=set_body).status_code == 201

    review = evaluate(client, criteria_set="recruiter", answers={"hiring": True, "industry": False})
    accept = evaluate(client, criteria_set="recruiter", answers={"hiring": True, "note": True})
    declined = evaluate(
        client, criteria_set="recruiter", answers={"hiring": False, "industry": True, "note": True}
    )

    assert (review["decision"], review["score"], review["met"]) == ("review", 3, 1)
    assert accept["decision"] == "accept"
    assert accept["score"] == 4
    assert declined["decision"] == "decline"
    assert "required Hiring not met" in declined["summary"]


def test_unknown_review_mode_turns_an_open_decision_into_review(client: TestClient) -> None:
    set_body = make_criteria_set("careful", unknown="review")
    assert client.post("/criteria", json=set_body).status_code == 201

    open_case = evaluate(client, criteria_set="careful", answers={"relevant": True})
    settled = evaluate(client, criteria_set="careful", answers={"relevant": True, "active": True})

    assert open_case["decision"] == "review"
    assert "an answer to Active, Useful could settle it" in open_case["to_change"]
    assert settled["decision"] == "accept"


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"nope": True}, "answers.nope"),
        ({"pertinence": "yes"}, "answers.pertinence"),
        ({"pertinence": 1}, "answers.pertinence"),
        ({"pertinence": [True]}, "answers.pertinence"),
    ],
    ids=["unknown-key", "string", "integer", "list"],
)
def test_bad_answers_are_422_naming_the_key(
    client: TestClient, answers: dict[str, Any], field: str
) -> None:
    response = client.post("/evaluate", json={"answers": answers})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert client.get("/evaluations").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"criteria_set": "missing"}, 404, None),
        ({"version": 9}, 404, None),
        ({"version": 0}, 422, "version"),
        ({"version": 2**63}, 422, "version"),
        ({"answers": {}, "extra": 1}, 422, "extra"),
        ({"subject": {"ref": ""}}, 422, "subject.ref"),
        ({"subject": {"ref": "x" * 2049}}, 422, "subject.ref"),
        ({"subject": {"url": "x"}}, 422, "subject.url"),
        ({"criteria_set": "Not A Slug"}, 422, "criteria_set"),
        ({"attributes": [1, 2]}, 422, "attributes"),
        ({"attributes": {"headline": "a\x00"}}, 422, "attributes.headline"),
        ({"attributes": {"extra": {"k\x00": 1}}}, 422, "attributes.extra.k\x00"),
        ({"subject": {"name": "\x00"}}, 422, "subject.name"),
        ({"dry_run": "maybe"}, 422, "dry_run"),
    ],
    ids=[
        "unknown-set",
        "unknown-version",
        "version-zero",
        "version-beyond-any-integer-column",
        "unknown-field",
        "empty-ref",
        "long-ref",
        "subject-extra",
        "bad-slug",
        "attributes-not-object",
        "nul-in-an-attribute",
        "nul-in-an-attribute-key",
        "nul-in-the-subject",
        "dry-run-not-bool",
    ],
)
def test_bad_requests_are_problems(
    client: TestClient, body: dict[str, Any], status: int, field: str | None
) -> None:
    response = client.post("/evaluate", json=body)

    assert response.status_code == status
    problem = response.json()
    assert problem["status"] == status
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]]


def test_attributes_are_stored_with_the_decision(client: TestClient) -> None:
    stored = evaluate(
        client,
        answers={"pertinence": True},
        attributes={"headline": "Head of Growth", "mutual_connections": 12},
    )

    assert client.get(f"/evaluations/{stored['id']}").json() == stored


def test_evaluation_without_a_set_uses_the_current_default(client: TestClient) -> None:
    etag = client.get("/criteria/pipu").headers["etag"]
    assert client.post("/criteria", json=make_criteria_set("other")).status_code == 201
    assert client.post("/criteria/other/default").status_code == 200
    assert client.delete("/criteria/pipu", headers={"If-Match": etag}).status_code == 204

    response = client.post("/evaluate", json={"answers": {}})

    assert response.json()["criteria_set"]["slug"] == "other"


def test_the_answer_has_exactly_the_documented_fields(client: TestClient) -> None:
    from app.evaluations.models import CriterionOutcome, EvaluationPublic, EvidencePublic

    body = {
        "subject": {"ref": "r"},
        "answers": {"pertinence": True},
        "attributes": {"headline": "Head of Sales", "mutual_connections": 12},
    }

    made = client.post("/evaluate", json=body)
    read = client.get(f"/evaluations/{made.json()['id']}")
    listed = client.get("/evaluations", params={"limit": 1})

    answer = made.json()
    assert list(answer) == list(EvaluationPublic.model_fields)
    for criterion in answer["criteria"]:
        assert list(criterion) == list(CriterionOutcome.model_fields)
        for evidence in criterion["evidence"]:
            assert list(evidence) == list(EvidencePublic.model_fields)
    EvaluationPublic.model_validate_json(made.content)
    assert read.content == made.content  # the stored answer, byte for byte
    assert listed.json()["items"] == [answer]
