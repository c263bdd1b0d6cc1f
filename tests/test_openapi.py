"""The committed OpenAPI document is the one the app serves."""

import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response

from app.cli import render_openapi
from tests.factories import content_of, make_criteria_set

COMMITTED = Path(__file__).parents[1] / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    assert COMMITTED.read_text() == render_openapi(), (
        "openapi/openapi.json is stale: run `reflexe openapi` and commit the result"
    )


def test_every_operation_documents_its_errors_as_problems() -> None:
    document = json.loads(render_openapi())

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
            if path not in ("/healthz",):
                assert errors, f"{method.upper()} {path} documents no error response"
            for status, response in errors.items():
                assert list(response["content"]) == ["application/problem+json"], (
                    f"{method.upper()} {path} {status}"
                )


def test_evaluate_and_criteria_carry_examples() -> None:
    paths = json.loads(render_openapi())["paths"]

    for path, method in [("/evaluate", "post"), ("/criteria", "post"), ("/criteria/{slug}", "put")]:
        content = paths[path][method]["requestBody"]["content"]["application/json"]
        assert content["examples"], f"{method.upper()} {path} has no request example"


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(render_openapi())
    return loaded


def resolve(expression: Any, response: Response) -> Any:
    """The value of an OpenAPI link's runtime expression in `response` (the forms we use)."""
    if not isinstance(expression, str) or not expression.startswith("$response."):
        return expression
    if expression.startswith("$response.header."):
        return response.headers[expression.removeprefix("$response.header.")]
    value = response.json()
    for key in expression.removeprefix("$response.body#/").split("/"):
        value = value[key]
    return value


def follow(
    client: TestClient,
    response: Response,
    source: str,
    name: str,
    body: dict[str, Any] | None = None,
) -> Response:
    """Send the request that link `name` of `source` ("POST /criteria 201") describes.

    The link's values come from `response`; its request body is merged into `body`.
    """
    paths = document()["paths"]
    method, path, status = source.split()
    link = paths[path][method.lower()]["responses"][status]["links"][name]
    [(target_method, target_path)] = [
        (target_method, target_path)
        for target_path, operations in paths.items()
        for target_method, operation in operations.items()
        if operation["operationId"] == link["operationId"]
    ]
    where: dict[str, dict[str, Any]] = {"path": {}, "header": {}}
    for key, expression in link.get("parameters", {}).items():
        location, name = key.split(".", 1)
        where[location][name] = resolve(expression, response)
    linked = {key: resolve(value, response) for key, value in link.get("requestBody", {}).items()}
    return client.request(
        target_method,
        target_path.format(**where["path"]),
        headers=where["header"],
        json={**(body or {}), **linked} if body or linked else None,
    )


def test_links_lead_from_a_new_set_to_its_decision(client: TestClient) -> None:
    created = client.post("/criteria", json=make_criteria_set("linked"))

    evaluated = follow(client, created, "POST /criteria 201", "EvaluateWithCriteriaSet")
    assert evaluated.status_code == 201, evaluated.text
    assert evaluated.json()["criteria_set"] == {"slug": "linked", "version": 1}
    read = follow(client, evaluated, "POST /evaluate 201", "GetEvaluation")
    assert (read.status_code, read.json()) == (200, evaluated.json())


def test_links_carry_the_etag_from_one_change_to_the_next(client: TestClient) -> None:
    created = client.post("/criteria", json=make_criteria_set("linked"))
    content = content_of(make_criteria_set("linked", keys=("a", "b")))

    replaced = follow(client, created, "POST /criteria 201", "ReplaceCriteriaSet", content)
    assert (replaced.status_code, replaced.json()["version"]) == (200, 2), replaced.text
    read = follow(client, replaced, "PUT /criteria/{slug} 200", "GetCriteriaVersion")
    assert (read.status_code, read.json()["version"]) == (200, 2)
    current = follow(client, replaced, "PUT /criteria/{slug} 200", "GetCriteriaSet")
    archived = follow(client, current, "GET /criteria/{slug} 200", "ArchiveCriteriaSet")
    assert archived.status_code == 204
    stale = follow(client, created, "POST /criteria 201", "ArchiveCriteriaSet")
    assert stale.status_code == 412


def test_links_lead_from_a_decision_to_its_verdicts(client: TestClient) -> None:
    evaluated = client.post("/evaluate", json={"answers": {"pertinence": True}})
    verdict = {"decision": "accept", "reason": "A likely client."}

    given = follow(client, evaluated, "POST /evaluate 201", "PutVerdict", verdict)
    assert given.status_code == 201, given.text
    replaced = follow(client, given, "PUT /evaluations/{evaluation_id}/verdict 201",
                      "ReplaceVerdict", {**verdict, "decision": "decline"})  # fmt: skip
    assert (replaced.status_code, replaced.json()["sequence"]) == (200, 2), replaced.text
    stale = follow(client, given, "PUT /evaluations/{evaluation_id}/verdict 201",
                   "ReplaceVerdict", verdict)  # fmt: skip
    assert stale.status_code == 412
    read = follow(client, evaluated, "POST /evaluate 201", "GetEvaluation")
    current = follow(client, read, "GET /evaluations/{evaluation_id} 200", "GetVerdict")
    assert current.json() == replaced.json() == read.json()["verdict"]
    history = follow(client, current, "GET /evaluations/{evaluation_id}/verdict 200",
                     "ListVerdicts")  # fmt: skip
    assert [v["sequence"] for v in history.json()["items"]] == [1, 2]
