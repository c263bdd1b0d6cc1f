"""/criteria: list, create, read, replace (versions), archive, default set, version history."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from tests.factories import content_of, make_criteria_set, make_criterion

PROBLEM = "application/problem+json"
ARCHIVED = "urn:reflexe:problem:criteria-set-archived"
CONFLICT = "urn:reflexe:problem:conflict"
NOT_FOUND = "urn:reflexe:problem:not-found"
VALIDATION = "urn:reflexe:problem:validation"
PRECONDITION_REQUIRED = "urn:reflexe:problem:precondition-required"
PRECONDITION_FAILED = "urn:reflexe:problem:precondition-failed"

PIPU_QUESTIONS = [
    "Ce profil est-il pertinent ?",
    "Est-il susceptible d'interagir sur mes publications futures ?",
    "Pourrait-il devenir prescripteur ou me recommander ?",
    "M'est-il utile à court ou long terme ?",
]


# --- helpers ------------------------------------------------------------------


def assert_problem(response: Response, status: int, problem_type: str | None = None) -> Any:
    """The response is a problem document for `status` (and of `problem_type` if given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= body.keys()
    assert body["instance"] == response.request.url.path
    if problem_type is not None:
        assert body["type"] == problem_type
    return body


def assert_invalid(response: Response, *fields: str, location: str = "body") -> Any:
    """A 422 problem that names every one of `fields` at `location`."""
    body = assert_problem(response, 422, VALIDATION)
    named = {(error["field"], error["location"]) for error in body["errors"]}
    for field in fields:
        assert (field, location) in named, body["errors"]
    assert all(error["message"] for error in body["errors"])
    return body


def create(client: TestClient, slug: str = "triage", **kwargs: Any) -> dict[str, Any]:
    """Create a set with `make_criteria_set(slug, **kwargs)`; return the created set."""
    response = client.post("/criteria", json=make_criteria_set(slug, **kwargs))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def etag_of(client: TestClient, slug: str) -> str:
    response = client.get(f"/criteria/{slug}")
    assert response.status_code == 200, response.text
    return response.headers["etag"]


def put(
    client: TestClient, slug: str, body: dict[str, Any], if_match: str | None = None
) -> Response:
    headers = {} if if_match is None else {"If-Match": if_match}
    return client.put(f"/criteria/{slug}", json=body, headers=headers)


def replace(client: TestClient, slug: str, body: dict[str, Any]) -> dict[str, Any]:
    """PUT `body` with the current ETag; return the new version."""
    response = put(client, slug, body, etag_of(client, slug))
    assert response.status_code == 200, response.text
    replaced: dict[str, Any] = response.json()
    return replaced


def delete(client: TestClient, slug: str, if_match: str | None = None) -> Response:
    headers = {} if if_match is None else {"If-Match": if_match}
    return client.delete(f"/criteria/{slug}", headers=headers)


def archive(client: TestClient, slug: str) -> None:
    response = delete(client, slug, etag_of(client, slug))
    assert response.status_code == 204, response.text


def slugs(client: TestClient, **params: Any) -> list[str]:
    response = client.get("/criteria", params=params)
    assert response.status_code == 200, response.text
    return [item["slug"] for item in response.json()["items"]]


def second_version(slug: str = "triage") -> dict[str, Any]:
    """A PUT body whose content differs from `make_criteria_set(slug)`."""
    body = content_of(make_criteria_set(slug, keys=("senior", "local"), accept_at=1))
    body["name"] = "Triage, second take"
    return body


def when(timestamp: str) -> datetime:
    """An ISO 8601 timestamp from a response, with its zone."""
    parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None
    return parsed


def versions_of(client: TestClient, slug: str) -> list[dict[str, Any]]:
    response = client.get(f"/criteria/{slug}/versions")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- GET /criteria --------------------------------------------------------------


def test_list_has_the_seeded_pipu_set(client: TestClient) -> None:
    response = client.get("/criteria")

    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["slug"] for item in items] == ["pipu"]
    pipu = items[0]
    assert pipu["is_default"] is True
    assert pipu["version"] == 1
    assert pipu["archived_at"] is None
    assert pipu["name"] == "PIPU"
    assert pipu["locale"] == "fr"
    assert [c["key"] for c in pipu["criteria"]] == [
        "pertinence",
        "interaction",
        "prescription",
        "utilite",
    ]
    assert [c["question"] for c in pipu["criteria"]] == PIPU_QUESTIONS
    assert pipu["policy"]["mode"] == "count"
    assert pipu["policy"]["accept_at"] == 2


def test_list_is_sorted_by_slug_and_shows_current_versions(client: TestClient) -> None:
    create(client, "zeta")
    create(client, "alpha")
    replace(client, "zeta", second_version("zeta"))

    items = client.get("/criteria").json()["items"]

    assert [item["slug"] for item in items] == ["alpha", "pipu", "zeta"]
    assert [item["version"] for item in items] == [1, 1, 2]
    assert items[2]["name"] == "Triage, second take"
    assert [item["is_default"] for item in items] == [False, True, False]


def test_list_include_archived(client: TestClient) -> None:
    create(client, "old")
    create(client, "kept")
    archive(client, "old")

    assert slugs(client) == ["kept", "pipu"]
    assert slugs(client, include_archived="false") == ["kept", "pipu"]
    assert slugs(client, include_archived="true") == ["kept", "old", "pipu"]
    items = client.get("/criteria", params={"include_archived": True}).json()["items"]
    archived_at = {item["slug"]: item["archived_at"] for item in items}
    assert archived_at["old"] is not None
    assert archived_at["kept"] is None
    assert archived_at["pipu"] is None


def test_list_rejects_a_non_boolean_include_archived(client: TestClient) -> None:
    response = client.get("/criteria", params={"include_archived": "maybe"})

    assert_invalid(response, "include_archived", location="query")


# --- POST /criteria -------------------------------------------------------------


def test_create_returns_the_set_with_location_and_etag(client: TestClient) -> None:
    body = make_criteria_set("triage")
    body["criteria"][0]["label"] = "  Relevant  "

    response = client.post("/criteria", json=body)

    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/criteria/triage"
    assert response.headers["etag"] == '"v1"'
    created = response.json()
    assert created["slug"] == "triage"
    assert created["version"] == 1
    assert created["is_default"] is False
    assert created["archived_at"] is None
    assert created["created_at"]
    assert created["name"] == "Triage set"
    assert created["description"] == "A set built by the tests."
    assert created["locale"] == "en"
    assert created["criteria"] == [
        {
            "key": key,
            "label": label,
            "question": f"Is it {key}?",
            "description": None,
            "weight": 1.0,
            "required": False,
            "rules": None,
        }
        for key, label in [("relevant", "Relevant"), ("active", "Active"), ("useful", "Useful")]
    ]
    assert created["policy"] == {
        "mode": "count",
        "accept_at": 2,
        "review_at": None,
        "unknown": "not_met",
    }
    assert created["params"] == {}


def test_created_set_reads_back_as_posted(client: TestClient) -> None:
    criteria = [
        make_criterion("industry", weight=2.5, required=True, description="Same industry."),
        make_criterion("hiring", weight=3),
    ]
    body = make_criteria_set(
        "recruiter", criteria=criteria, mode="score", accept_at=5, review_at=2, unknown="review"
    )
    created = client.post("/criteria", json=body).json()

    fetched = client.get("/criteria/recruiter")

    assert fetched.status_code == 200
    assert fetched.headers["etag"] == '"v1"'
    assert fetched.json() == created
    assert created["criteria"][0]["weight"] == 2.5
    assert created["criteria"][0]["required"] is True
    assert created["criteria"][0]["description"] == "Same industry."
    assert created["policy"] == {
        "mode": "score",
        "accept_at": 5,
        "review_at": 2,
        "unknown": "review",
    }
    assert slugs(client) == ["pipu", "recruiter"]


def test_create_accepts_the_limits(client: TestClient) -> None:
    keys = tuple(f"c{i}" for i in range(50))
    body = make_criteria_set("a" * 64, keys=keys, accept_at=50)
    body["name"] = "n" * 120
    body["criteria"][0]["label"] = "l" * 120
    body["criteria"][0]["question"] = "q" * 500

    response = client.post("/criteria", json=body)

    assert response.status_code == 201, response.text
    assert len(response.json()["criteria"]) == 50


def test_create_duplicate_slug_is_409_and_keeps_the_original(client: TestClient) -> None:
    create(client, "triage")
    again = make_criteria_set("triage", keys=("other",), accept_at=1)

    body = assert_problem(client.post("/criteria", json=again), 409, CONFLICT)

    assert "triage" in body["detail"]
    kept = client.get("/criteria/triage").json()
    assert kept["version"] == 1
    assert [c["key"] for c in kept["criteria"]] == ["relevant", "active", "useful"]
    assert len(versions_of(client, "triage")) == 1


def test_create_with_the_seeded_slug_is_409(client: TestClient) -> None:
    assert_problem(client.post("/criteria", json=make_criteria_set("pipu")), 409, CONFLICT)

    assert client.get("/criteria/pipu").json()["name"] == "PIPU"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets `path` (dotted, with list indexes) of a create body."""

    def mutate(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return mutate


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda body: body.pop(key)


def _criteria(count: int) -> Callable[[dict[str, Any]], None]:
    return _set("criteria", [make_criterion(f"c{i}") for i in range(count)])


def _score(accept_at: float) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        body["criteria"] = [make_criterion("a", weight=2), make_criterion("b", weight=3)]
        body["policy"] = {"mode": "score", "accept_at": accept_at}

    return mutate


INVALID_CREATES = {
    "no criteria": (_criteria(0), ["criteria"]),
    "51 criteria": (_criteria(51), ["criteria"]),
    "duplicate keys": (
        _set("criteria", [make_criterion("a"), make_criterion("a"), make_criterion("b")]),
        ["criteria[1].key"],
    ),
    "accept_at above the count": (_set("policy.accept_at", 4), ["policy.accept_at"]),
    "accept_at above the total weight": (_score(5.5), ["policy.accept_at"]),
    "accept_at zero": (_set("policy.accept_at", 0), ["policy.accept_at"]),
    "review_at equal to accept_at": (_set("policy.review_at", 2), ["policy.review_at"]),
    "review_at above accept_at": (_set("policy.review_at", 3), ["policy.review_at"]),
    "uppercase slug": (_set("slug", "Triage"), ["slug"]),
    "slug with a space": (_set("slug", "bad slug"), ["slug"]),
    "slug with a double dash": (_set("slug", "bad--slug"), ["slug"]),
    "slug starting with a dash": (_set("slug", "-bad"), ["slug"]),
    "empty slug": (_set("slug", ""), ["slug"]),
    "slug too long": (_set("slug", "a" * 65), ["slug"]),
    "name too long": (_set("name", "n" * 121), ["name"]),
    "blank name": (_set("name", "   "), ["name"]),
    "label too long": (_set("criteria.0.label", "l" * 121), ["criteria[0].label"]),
    "question too long": (_set("criteria.2.question", "q" * 501), ["criteria[2].question"]),
    "empty question": (_set("criteria.1.question", ""), ["criteria[1].question"]),
    "description too long": (_set("description", "d" * 2001), ["description"]),
    "bad criterion key": (_set("criteria.1.key", "Not A Key"), ["criteria[1].key"]),
    "zero weight": (_set("criteria.0.weight", 0), ["criteria[0].weight"]),
    "negative weight": (_set("criteria.1.weight", -1), ["criteria[1].weight"]),
    "unknown mode": (_set("policy.mode", "median"), ["policy.mode"]),
    "unknown unknown-mode": (_set("policy.unknown", "maybe"), ["policy.unknown"]),
    "bad locale": (_set("locale", "English"), ["locale"]),
    "required not a boolean": (_set("criteria.0.required", "sometimes"), ["criteria[0].required"]),
    "missing policy": (_drop("policy"), ["policy"]),
    "missing name": (_drop("name"), ["name"]),
    "missing slug": (_drop("slug"), ["slug"]),
    "unknown top-level field": (_set("colour", "blue"), ["colour"]),
    "unknown criterion field": (_set("criteria.0.colour", "blue"), ["criteria[0].colour"]),
    "unknown policy field": (_set("policy.threshold", 3), ["policy.threshold"]),
    # PostgreSQL stores no U+0000: refused on every backend, before anything is written.
    "NUL in the name": (_set("name", "Tri\x00age"), ["name"]),
    "NUL in a question": (_set("criteria.1.question", "Is it\x00?"), ["criteria[1].question"]),
    "NUL in a param": (_set("params", {"words": ["ok", "n\x00"]}), ["params.words[1]"]),
    "NUL in a rule": (
        _set("criteria.0.rules", {"attribute": "headline", "operator": "eq", "value": "\x00"}),
        ["criteria[0].rules.value"],
    ),
    "several problems at once": (
        lambda body: (
            _set("criteria", [make_criterion("a"), make_criterion("a")])(body),
            _set("policy", {"accept_at": 2, "review_at": 2})(body),
        ),
        ["criteria[1].key", "policy.review_at"],
    ),
}


@pytest.mark.parametrize(
    ("mutate", "fields"), list(INVALID_CREATES.values()), ids=list(INVALID_CREATES)
)
def test_invalid_create_is_422_naming_the_field_and_stores_nothing(
    client: TestClient, mutate: Callable[[dict[str, Any]], None], fields: list[str]
) -> None:
    body = make_criteria_set("triage")
    mutate(body)

    assert_invalid(client.post("/criteria", json=body), *fields)

    assert slugs(client, include_archived=True) == ["pipu"]
    assert_problem(client.get("/criteria/triage"), 404, NOT_FOUND)


def test_create_with_a_non_object_body_is_422(client: TestClient) -> None:
    assert_problem(client.post("/criteria", json=["triage"]), 422, VALIDATION)

    assert slugs(client, include_archived=True) == ["pipu"]


# --- GET /criteria/{slug} -------------------------------------------------------


def test_get_returns_the_current_version_with_its_etag(client: TestClient) -> None:
    response = client.get("/criteria/pipu")

    assert response.status_code == 200
    assert response.headers["etag"] == '"v1"'
    body = response.json()
    assert body["slug"] == "pipu"
    assert body["version"] == 1
    assert body["is_default"] is True
    assert body["criteria"][0]["question"] == "Ce profil est-il pertinent ?"


def test_get_unknown_slug_is_404(client: TestClient) -> None:
    body = assert_problem(client.get("/criteria/nope"), 404, NOT_FOUND)

    assert "nope" in body["detail"]


@pytest.mark.parametrize("slug", ["Bad Slug!", "UPPER", "a" * 65, "trailing-"])
def test_get_malformed_slug_is_422(client: TestClient, slug: str) -> None:
    assert_invalid(client.get(f"/criteria/{slug}"), "slug", location="path")


# --- PUT /criteria/{slug} -------------------------------------------------------


def test_put_without_if_match_is_428(client: TestClient) -> None:
    create(client)

    assert_problem(put(client, "triage", second_version()), 428, PRECONDITION_REQUIRED)

    assert client.get("/criteria/triage").json()["version"] == 1
    assert len(versions_of(client, "triage")) == 1


def test_put_with_the_current_etag_creates_version_2(client: TestClient) -> None:
    created = create(client)

    response = put(client, "triage", second_version(), '"v1"')

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"v2"'
    replaced = response.json()
    assert replaced["slug"] == "triage"
    assert replaced["version"] == 2
    assert replaced["name"] == "Triage, second take"
    assert [c["key"] for c in replaced["criteria"]] == ["senior", "local"]
    assert replaced["policy"]["accept_at"] == 1
    assert replaced["is_default"] is False
    assert when(replaced["created_at"]) >= when(created["created_at"])
    fetched = client.get("/criteria/triage")
    assert fetched.headers["etag"] == '"v2"'
    assert fetched.json() == replaced


def test_put_with_a_stale_etag_is_412(client: TestClient) -> None:
    create(client)
    assert put(client, "triage", second_version(), '"v1"').status_code == 200

    third = content_of(make_criteria_set("triage", keys=("third",), accept_at=1))
    body = assert_problem(put(client, "triage", third, '"v1"'), 412, PRECONDITION_FAILED)

    assert '"v2"' in body["detail"]
    current = client.get("/criteria/triage").json()
    assert current["version"] == 2
    assert [c["key"] for c in current["criteria"]] == ["senior", "local"]
    assert [v["version"] for v in versions_of(client, "triage")] == [1, 2]


@pytest.mark.parametrize("if_match", ['"v2"', "v1", 'W/"v1"', '"v10"', "", '*, "v2"', '"v2", *'])
def test_put_with_a_wrong_etag_is_412(client: TestClient, if_match: str) -> None:
    create(client)

    assert_problem(put(client, "triage", second_version(), if_match), 412, PRECONDITION_FAILED)

    assert etag_of(client, "triage") == '"v1"'


def test_a_list_that_names_the_current_etag_beside_a_star_matches(client: TestClient) -> None:
    create(client)

    response = put(client, "triage", second_version(), '*, "v1"')

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"v2"'


def test_put_with_if_match_star_works(client: TestClient) -> None:
    create(client)
    replace(client, "triage", second_version())

    response = put(client, "triage", content_of(make_criteria_set("triage")), "*")

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"v3"'
    assert response.json()["version"] == 3


def test_put_with_a_list_of_etags_matching_one(client: TestClient) -> None:
    create(client)

    response = put(client, "triage", second_version(), '"v7", "v1"')

    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_set("policy.accept_at", 3), "policy.accept_at"),
        (_set("criteria", []), "criteria"),
        (_set("slug", "another"), "slug"),
        (_set("criteria.1.key", "senior"), "criteria[1].key"),
    ],
    ids=["unreachable accept_at", "no criteria", "another slug in body", "duplicate key"],
)
def test_invalid_put_is_422_and_creates_no_version(
    client: TestClient, mutate: Callable[[dict[str, Any]], None], field: str
) -> None:
    create(client)
    body = second_version()
    mutate(body)

    assert_invalid(put(client, "triage", body, '"v1"'), field)

    assert etag_of(client, "triage") == '"v1"'
    assert [v["version"] for v in versions_of(client, "triage")] == [1]
    assert put(client, "triage", second_version(), '"v1"').status_code == 200


def test_put_unknown_slug_is_404(client: TestClient) -> None:
    assert_problem(put(client, "nope", second_version("nope"), "*"), 404, NOT_FOUND)
    assert_problem(put(client, "nope", second_version("nope"), '"v1"'), 404, NOT_FOUND)

    assert_problem(client.get("/criteria/nope"), 404, NOT_FOUND)


def test_put_malformed_slug_is_422(client: TestClient) -> None:
    assert_invalid(put(client, "Bad Slug!", second_version(), "*"), "slug", location="path")


def test_put_keeps_the_default_flag(client: TestClient) -> None:
    body = content_of(make_criteria_set("pipu", keys=("one", "two"), accept_at=1))

    replaced = put(client, "pipu", body, '"v1"').json()

    assert replaced["version"] == 2
    assert replaced["is_default"] is True
    evaluation = client.post("/evaluate", json={"answers": {"one": True}})
    assert evaluation.status_code == 201, evaluation.text
    assert evaluation.json()["criteria_set"] == {"slug": "pipu", "version": 2}


# --- DELETE /criteria/{slug} ----------------------------------------------------


def test_delete_without_if_match_is_428(client: TestClient) -> None:
    create(client)

    assert_problem(delete(client, "triage"), 428, PRECONDITION_REQUIRED)

    assert client.get("/criteria/triage").json()["archived_at"] is None
    assert slugs(client) == ["pipu", "triage"]


def test_delete_with_a_stale_etag_is_412(client: TestClient) -> None:
    create(client)
    replace(client, "triage", second_version())

    assert_problem(delete(client, "triage", '"v1"'), 412, PRECONDITION_FAILED)

    assert client.get("/criteria/triage").json()["archived_at"] is None
    assert slugs(client) == ["pipu", "triage"]


def test_delete_archives_the_set(client: TestClient) -> None:
    create(client)

    response = delete(client, "triage", '"v1"')

    assert response.status_code == 204
    assert response.content == b""
    assert slugs(client) == ["pipu"]
    listed = client.get("/criteria", params={"include_archived": "true"}).json()["items"]
    archived = next(item for item in listed if item["slug"] == "triage")
    assert archived["archived_at"] is not None
    fetched = client.get("/criteria/triage")
    assert fetched.status_code == 200
    assert fetched.headers["etag"] == '"v1"'
    assert fetched.json()["archived_at"] == archived["archived_at"]
    assert fetched.json()["version"] == 1


def test_delete_with_if_match_star_archives(client: TestClient) -> None:
    create(client)

    assert delete(client, "triage", "*").status_code == 204

    assert client.get("/criteria/triage").json()["archived_at"] is not None


def test_archived_set_cannot_evaluate(client: TestClient) -> None:
    create(client)
    archive(client, "triage")

    response = client.post("/evaluate", json={"criteria_set": "triage", "answers": {}})

    body = assert_problem(response, 409, ARCHIVED)
    assert "triage" in body["detail"]
    assert client.get("/evaluations").json()["items"] == []
    pinned = client.post("/evaluate", json={"criteria_set": "triage", "version": 1})
    assert_problem(pinned, 409, ARCHIVED)


def test_archived_set_cannot_be_replaced(client: TestClient) -> None:
    create(client)
    archive(client, "triage")

    assert_problem(put(client, "triage", second_version(), '"v1"'), 409, ARCHIVED)
    assert_problem(put(client, "triage", second_version(), "*"), 409, ARCHIVED)

    assert [v["version"] for v in versions_of(client, "triage")] == [1]


def test_archiving_twice_is_409(client: TestClient) -> None:
    create(client)
    archive(client, "triage")

    assert_problem(delete(client, "triage", '"v1"'), 409, ARCHIVED)


def test_default_set_cannot_be_deleted(client: TestClient) -> None:
    body = assert_problem(delete(client, "pipu", '"v1"'), 409, CONFLICT)

    assert "default" in body["detail"]
    pipu = client.get("/criteria/pipu").json()
    assert pipu["archived_at"] is None
    assert pipu["is_default"] is True
    assert slugs(client) == ["pipu"]


def test_delete_unknown_slug_is_404(client: TestClient) -> None:
    assert_problem(delete(client, "nope", "*"), 404, NOT_FOUND)
    assert_problem(delete(client, "nope"), 404, NOT_FOUND)


def test_delete_malformed_slug_is_422(client: TestClient) -> None:
    assert_invalid(delete(client, "Bad Slug!", "*"), "slug", location="path")


def test_evaluation_made_before_archiving_still_resolves(client: TestClient) -> None:
    create(client)
    made = client.post("/evaluate", json={"criteria_set": "triage", "answers": {"active": True}})
    assert made.status_code == 201, made.text
    evaluation = made.json()

    archive(client, "triage")

    fetched = client.get(f"/evaluations/{evaluation['id']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == evaluation
    assert fetched.json()["criteria_set"] == {"slug": "triage", "version": 1}
    version = client.get("/criteria/triage/versions/1")
    assert version.status_code == 200, version.text
    assert [c["key"] for c in version.json()["criteria"]] == ["relevant", "active", "useful"]
    listed = client.get("/evaluations", params={"criteria_set": "triage"}).json()["items"]
    assert [item["id"] for item in listed] == [evaluation["id"]]


# --- POST /criteria/{slug}/default ----------------------------------------------


def test_make_default_moves_the_default(client: TestClient) -> None:
    create(client)

    response = client.post("/criteria/triage/default")

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"v1"'
    assert response.json()["slug"] == "triage"
    assert response.json()["is_default"] is True
    items = client.get("/criteria", params={"include_archived": True}).json()["items"]
    assert [item["slug"] for item in items if item["is_default"]] == ["triage"]
    assert client.get("/criteria/pipu").json()["is_default"] is False


def test_evaluate_without_a_set_uses_the_new_default(client: TestClient) -> None:
    create(client)
    replace(client, "triage", second_version())
    assert client.post("/criteria/triage/default").status_code == 200

    response = client.post("/evaluate", json={"answers": {"senior": True}})

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["criteria_set"] == {"slug": "triage", "version": 2}
    assert [c["key"] for c in body["criteria"]] == ["senior", "local"]
    assert body["decision"] == "accept"


def test_make_default_twice_keeps_one_default(client: TestClient) -> None:
    create(client)
    create(client, "other")

    assert client.post("/criteria/triage/default").status_code == 200
    assert client.post("/criteria/triage/default").status_code == 200
    assert client.post("/criteria/other/default").status_code == 200

    items = client.get("/criteria").json()["items"]
    assert [item["slug"] for item in items if item["is_default"]] == ["other"]


def test_former_default_can_be_archived_and_new_default_cannot(client: TestClient) -> None:
    create(client)
    assert client.post("/criteria/triage/default").status_code == 200

    assert_problem(delete(client, "triage", '"v1"'), 409, CONFLICT)
    assert delete(client, "pipu", '"v1"').status_code == 204

    assert slugs(client) == ["triage"]


def test_archived_set_cannot_be_made_default(client: TestClient) -> None:
    create(client)
    archive(client, "triage")

    assert_problem(client.post("/criteria/triage/default"), 409, ARCHIVED)

    items = client.get("/criteria", params={"include_archived": True}).json()["items"]
    assert [item["slug"] for item in items if item["is_default"]] == ["pipu"]
    evaluation = client.post("/evaluate", json={"answers": {}})
    assert evaluation.json()["criteria_set"]["slug"] == "pipu"


def test_make_default_unknown_slug_is_404(client: TestClient) -> None:
    assert_problem(client.post("/criteria/nope/default"), 404, NOT_FOUND)

    assert client.get("/criteria/pipu").json()["is_default"] is True


def test_make_default_malformed_slug_is_422(client: TestClient) -> None:
    assert_invalid(client.post("/criteria/Bad Slug!/default"), "slug", location="path")


# --- versions -------------------------------------------------------------------


def test_versions_of_the_seeded_set(client: TestClient) -> None:
    items = versions_of(client, "pipu")

    assert [item["version"] for item in items] == [1]
    assert items[0]["slug"] == "pipu"
    assert [c["question"] for c in items[0]["criteria"]] == PIPU_QUESTIONS
    assert "is_default" not in items[0]


def test_versions_list_oldest_first_with_their_content(client: TestClient) -> None:
    create(client)
    replace(client, "triage", second_version())
    replace(client, "triage", content_of(make_criteria_set("triage", keys=("x",), accept_at=1)))

    items = versions_of(client, "triage")

    assert [item["version"] for item in items] == [1, 2, 3]
    assert [item["slug"] for item in items] == ["triage"] * 3
    assert [[c["key"] for c in item["criteria"]] for item in items] == [
        ["relevant", "active", "useful"],
        ["senior", "local"],
        ["x"],
    ]
    assert items[0]["name"] == "Triage set"
    assert items[1]["name"] == "Triage, second take"
    assert items[0]["policy"]["accept_at"] == 2
    assert items[1]["policy"]["accept_at"] == 1
    assert (
        when(items[0]["created_at"]) <= when(items[1]["created_at"]) <= when(items[2]["created_at"])
    )


def test_get_one_version(client: TestClient) -> None:
    create(client)
    replace(client, "triage", second_version())
    listed = versions_of(client, "triage")

    first = client.get("/criteria/triage/versions/1")
    second = client.get("/criteria/triage/versions/2")

    assert first.status_code == 200
    assert second.status_code == 200
    assert first.json() == listed[0]
    assert second.json() == listed[1]
    assert first.json()["version"] == 1
    assert first.json()["criteria"] != second.json()["criteria"]


def test_missing_version_is_404(client: TestClient) -> None:
    create(client)

    body = assert_problem(client.get("/criteria/triage/versions/2"), 404, NOT_FOUND)

    assert "2" in body["detail"]


def test_versions_of_unknown_slug_are_404(client: TestClient) -> None:
    assert_problem(client.get("/criteria/nope/versions"), 404, NOT_FOUND)
    assert_problem(client.get("/criteria/nope/versions/1"), 404, NOT_FOUND)


@pytest.mark.parametrize("version", ["0", "-1", "one", "1000001"])
def test_bad_version_number_is_422(client: TestClient, version: str) -> None:
    response = client.get(f"/criteria/pipu/versions/{version}")

    assert_invalid(response, "version", location="path")


def test_versions_of_malformed_slug_are_422(client: TestClient) -> None:
    assert_invalid(client.get("/criteria/Bad Slug!/versions"), "slug", location="path")
    assert_invalid(client.get("/criteria/Bad Slug!/versions/1"), "slug", location="path")


# --- evaluating with a pinned version ---------------------------------------------


def test_evaluate_pinned_to_an_old_version_uses_its_criteria(client: TestClient) -> None:
    create(client)
    replace(client, "triage", second_version())

    pinned = client.post(
        "/evaluate",
        json={"criteria_set": "triage", "version": 1, "answers": {"relevant": True}},
    )
    current = client.post("/evaluate", json={"criteria_set": "triage", "answers": {"senior": True}})

    assert pinned.status_code == 201, pinned.text
    body = pinned.json()
    assert body["criteria_set"] == {"slug": "triage", "version": 1}
    assert [c["key"] for c in body["criteria"]] == ["relevant", "active", "useful"]
    assert body["needed"] == 2
    assert body["decision"] == "decline"
    assert current.status_code == 201, current.text
    assert current.json()["criteria_set"] == {"slug": "triage", "version": 2}
    assert current.json()["decision"] == "accept"


def test_evaluate_with_an_old_key_on_the_current_version_is_422(client: TestClient) -> None:
    create(client)
    replace(client, "triage", second_version())

    response = client.post(
        "/evaluate", json={"criteria_set": "triage", "answers": {"relevant": True}}
    )

    assert_invalid(response, "answers.relevant")


def test_evaluate_pinned_to_a_missing_version_is_404(client: TestClient) -> None:
    create(client)

    response = client.post("/evaluate", json={"criteria_set": "triage", "version": 2})

    assert_problem(response, 404, NOT_FOUND)
