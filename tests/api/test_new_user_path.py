"""The snags a newcomer met: restoring a set, GET-edit-PUT, misspelled filters, inputs."""

import pytest
from fastapi.testclient import TestClient

from tests.api.test_errors import assert_problem
from tests.factories import as_key, make_criteria_set, new_key

ATTRIBUTES = {"headline": "Head of Sales at Acme " + "x" * 300, "mutual_connections": 12}


def etag_of(client: TestClient, slug: str) -> str:
    return client.get(f"/criteria/{slug}").headers["etag"]


def test_an_archived_set_can_be_restored(client: TestClient) -> None:
    assert client.post("/criteria", json=make_criteria_set("gone")).status_code == 201
    archived = client.delete("/criteria/gone", headers={"If-Match": etag_of(client, "gone")})
    refused = client.post("/evaluate", json={"criteria_set": "gone"})

    restored = client.post("/criteria/gone/restore")
    again = client.post("/criteria/gone/restore")
    evaluated = client.post("/evaluate", json={"criteria_set": "gone"})

    assert archived.status_code == 204
    assert refused.status_code == 409
    assert restored.status_code == 200
    assert restored.json()["archived_at"] is None
    assert restored.headers["etag"] == '"v1"'
    assert again.status_code == 200
    assert evaluated.status_code == 201
    listed = client.get("/criteria").json()["items"]
    assert "gone" in {item["slug"] for item in listed}


def test_restoring_an_unknown_set_is_404(client: TestClient) -> None:
    assert_problem(client.post("/criteria/nowhere/restore"), 404)


def test_a_set_read_edited_and_put_back_is_the_next_version(client: TestClient) -> None:
    read = client.get("/criteria/pipu")
    body = read.json()
    body["policy"]["accept_at"] = 3

    replaced = client.put("/criteria/pipu", json=body, headers={"If-Match": read.headers["etag"]})

    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2
    assert replaced.json()["policy"]["accept_at"] == 3
    assert replaced.json()["created_at"] != body["created_at"]
    assert replaced.json()["is_default"] is True


def test_server_managed_fields_sent_back_are_ignored(client: TestClient) -> None:
    read = client.get("/criteria/pipu")
    body = read.json() | {"version": 41, "is_default": False, "archived_at": None}

    replaced = client.put("/criteria/pipu", json=body, headers={"If-Match": read.headers["etag"]})

    assert replaced.status_code == 200
    assert (replaced.json()["version"], replaced.json()["is_default"]) == (2, True)


def test_another_slug_in_a_put_is_422(client: TestClient) -> None:
    read = client.get("/criteria/pipu")
    body = read.json() | {"slug": "other"}

    response = client.put("/criteria/pipu", json=body, headers={"If-Match": read.headers["etag"]})

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "slug"
    assert client.get("/criteria/pipu").json()["version"] == 1


def test_unknown_fields_in_a_put_are_still_refused(client: TestClient) -> None:
    read = client.get("/criteria/pipu")
    body = read.json() | {"colour": "blue"}

    response = client.put("/criteria/pipu", json=body, headers={"If-Match": read.headers["etag"]})

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "colour"


@pytest.mark.parametrize(
    ("path", "params", "unknown"),
    [
        ("/evaluations", {"decison": "accept"}, ["decison"]),
        ("/evaluations", {"decision": "accept", "limt": "2", "x": "1"}, ["limt", "x"]),
        ("/criteria", {"archived": "true"}, ["archived"]),
        ("/criteria/pipu", {"version": "1"}, ["version"]),
        ("/keys", {"role": "admin"}, ["role"]),
    ],
)
def test_unknown_query_parameters_are_422_naming_them(
    client: TestClient, path: str, params: dict[str, str], unknown: list[str]
) -> None:
    problem = assert_problem(client.get(path, params=params), 422)

    assert [error["field"] for error in problem["errors"]] == unknown
    assert {error["location"] for error in problem["errors"]} == {"query"}
    assert "unknown query parameter" in problem["errors"][0]["message"]


def test_known_query_parameters_still_work(client: TestClient) -> None:
    response = client.get("/evaluations", params={"decision": "accept", "limit": "2"})

    assert response.status_code == 200


def test_a_decisions_inputs_are_read_back_whole(client: TestClient) -> None:
    made = client.post(
        "/evaluate",
        json={
            "subject": {"ref": "https://www.linkedin.com/in/a", "name": "A"},
            "answers": {"pertinence": True, "utilite": None},
            "attributes": ATTRIBUTES | {"extra": {"nested": [1, 2]}},
        },
    ).json()

    inputs = client.get(f"/evaluations/{made['id']}/inputs")

    assert inputs.status_code == 200
    assert inputs.json() == {
        "id": made["id"],
        "subject": {"ref": "https://www.linkedin.com/in/a", "name": "A"},
        "answers": {"pertinence": True, "utilite": None},
        "attributes": ATTRIBUTES | {"extra": {"nested": [1, 2]}},
        "privacy": "full",
    }
    # The answer quoted the long headline shortened; the inputs keep all of it.
    evidence = made["criteria"][0]["evidence"]
    assert any(e["actual_shortened"] for e in evidence)


def test_who_may_read_a_decisions_inputs(client: TestClient) -> None:
    maker, other = new_key(client, "evaluator"), new_key(client, "evaluator")
    auditor = new_key(client, "auditor")
    made = client.post("/evaluate", json={"attributes": ATTRIBUTES}, headers=as_key(maker))
    path = f"/evaluations/{made.json()['id']}/inputs"

    statuses = {
        name: client.get(path, headers=as_key(key)).status_code
        for name, key in [("maker", maker), ("other", other), ("auditor", auditor)]
    }

    assert statuses == {"maker": 200, "other": 404, "auditor": 200}
    assert client.get(path).status_code == 200  # admin
    assert_problem(client.get("/evaluations/019ac1c2-5f7e-7d43-9a57-2d1c8f0f6a11/inputs"), 404)
