"""GET /evaluations and /evaluations/{id}: the decision log."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_criteria_set


def store(client: TestClient, ref: str, **answers: bool) -> dict[str, Any]:
    response = client.post("/evaluate", json={"subject": {"ref": ref}, "answers": answers})
    assert response.status_code == 201
    result: dict[str, Any] = response.json()
    return result


def all_pages(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = client.get("/evaluations", params=query).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_newest_first_with_cursor_pages(client: TestClient) -> None:
    stored = [store(client, f"p{i}", pertinence=True) for i in range(7)]

    first = client.get("/evaluations", params={"limit": 3}).json()
    everything = all_pages(client, limit=3)

    assert [e["id"] for e in first["items"]] == [e["id"] for e in stored[::-1][:3]]
    assert first["next_cursor"]
    assert everything == stored[::-1]


def test_pages_stay_stable_while_decisions_arrive(client: TestClient) -> None:
    older = [store(client, f"old{i}") for i in range(4)]
    first = client.get("/evaluations", params={"limit": 2}).json()

    store(client, "new")
    rest = client.get("/evaluations", params={"limit": 10, "cursor": first["next_cursor"]})

    assert [e["id"] for e in rest.json()["items"]] == [e["id"] for e in older[::-1][2:]]


def test_filters_by_decision_subject_and_set(client: TestClient) -> None:
    accepted = store(client, "alice", pertinence=True, utilite=True)
    declined = store(client, "bob", pertinence=False)
    client.post("/criteria", json=make_criteria_set("other"))
    other = client.post(
        "/evaluate", json={"criteria_set": "other", "answers": {"relevant": True}}
    ).json()

    def ids(**params: Any) -> list[str]:
        return [e["id"] for e in client.get("/evaluations", params=params).json()["items"]]

    assert ids(decision="accept") == [accepted["id"]]
    assert ids(decision="decline") == [other["id"], declined["id"]]
    assert ids(subject="bob") == [declined["id"]]
    assert ids(criteria_set="other") == [other["id"]]
    assert ids(criteria_set="pipu", decision="decline") == [declined["id"]]


def test_filters_by_time_window(client: TestClient) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    stored = store(client, "x")
    created = datetime.fromisoformat(stored["created_at"])

    def count(**params: Any) -> int:
        return len(client.get("/evaluations", params=params).json()["items"])

    assert count(since=before.isoformat()) == 1
    assert count(since=created.isoformat()) == 1
    assert count(until=created.isoformat()) == 0
    assert count(until=(created + timedelta(seconds=1)).isoformat()) == 1
    assert count(since=(created + timedelta(seconds=1)).isoformat()) == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"decision": "maybe"}, "decision"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"until": "2026"}, "until"),
        ({"subject": "a\x00"}, "subject"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "W10"}, "cursor"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2026-01-01T01:00:00+01:00"}, "until"),
    ],
    ids=[
        "limit-0",
        "limit-101",
        "decision",
        "since-text",
        "since-naive",
        "until-a-number-not-a-timestamp",
        "subject-with-nul",
        "cursor",
        "cursor-json",
        "until-before-since",
        "until-the-same-instant",
    ],
)
def test_bad_query_parameters_are_422(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get("/evaluations", params=params)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert (error["field"], error["location"]) == (field, "query")


def test_unknown_evaluation_is_404(client: TestClient) -> None:
    response = client.get(f"/evaluations/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response.json()["type"] == "urn:reflexe:problem:not-found"


def test_malformed_evaluation_id_is_422(client: TestClient) -> None:
    response = client.get("/evaluations/42")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "evaluation_id"
