"""A set as a file over HTTP: GET in YAML or JSON, and the JSON Schema of a set's file."""

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from fastapi.testclient import TestClient

from app.criteria.seed import PIPU
from tests.factories import as_key, content_of, make_criteria_set

EXAMPLE = Path(__file__).parents[2] / "examples" / "pipu.yaml"
SERVER_FIELDS = {
    "version",
    "created_at",
    "content_hash",
    "coverage",
    "is_default",
    "shadow_version",
    "pending_cases",
    "archived_at",
}


def file_of(answer: dict[str, Any]) -> dict[str, Any]:
    """What the file of a set's JSON answer holds: all but the server's fields, and neither
    `privacy` nor `retention_days` at their defaults (a file names them only otherwise)."""
    defaults = {"privacy": "full", "retention_days": None}
    return {
        key: value
        for key, value in answer.items()
        if key not in SERVER_FIELDS and not (key in defaults and value == defaults[key])
    }


def header_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


def test_format_yaml_answers_the_file_with_its_version_and_hash(client: TestClient) -> None:
    current = client.get("/criteria/pipu")

    exported = client.get("/criteria/pipu", params={"format": "yaml"})

    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/yaml"
    assert exported.headers["etag"] == current.headers["etag"] == '"v1"'
    body = current.json()
    header = header_of(exported.text)
    assert header[0] == "# Reflexe criteria set 'pipu', version 1"
    assert header[1] == f"# content hash {body['content_hash']}"
    loaded = yaml.safe_load(exported.text)
    assert list(loaded) == ["slug", "name", "description", "locale", "criteria", "policy",
                            "params", "cases"]  # fmt: skip
    assert loaded == file_of(body)


@pytest.mark.parametrize(
    "accept",
    ["application/yaml", "application/json;q=0.5, application/yaml", "text/yaml"],
)
def test_accept_yaml_answers_the_file(client: TestClient, accept: str) -> None:
    by_accept = client.get("/criteria/pipu", headers={"Accept": accept})

    assert by_accept.status_code == 200, by_accept.text
    assert by_accept.headers["content-type"] == "application/yaml"
    assert by_accept.text == client.get("/criteria/pipu?format=yaml").text


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "application/yaml;q=0"])
def test_without_format_the_answer_is_the_set_as_before(
    client: TestClient, accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}

    answer = client.get("/criteria/pipu", headers=headers)

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["etag"] == '"v1"'
    assert SERVER_FIELDS <= answer.json().keys()


def test_format_json_answers_the_file_as_json(client: TestClient) -> None:
    exported = client.get("/criteria/pipu", params={"format": "json"})

    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/json"
    assert exported.headers["etag"] == '"v1"'
    assert exported.json() == file_of(client.get("/criteria/pipu").json())
    assert exported.json() == yaml.safe_load(client.get("/criteria/pipu?format=yaml").text)


def test_a_version_exports_its_own_content(client: TestClient) -> None:
    client.post("/criteria", json=make_criteria_set("triage"))
    second = make_criteria_set("triage", keys=("a", "b"))
    replaced = client.put("/criteria/triage", json=content_of(second), headers={"If-Match": "*"})
    assert replaced.status_code == 200, replaced.text

    first = client.get("/criteria/triage/versions/1?format=yaml")
    latest = client.get("/criteria/triage/versions/2", headers={"Accept": "application/yaml"})
    as_json = client.get("/criteria/triage/versions/1?format=json")

    assert first.headers["content-type"] == latest.headers["content-type"] == "application/yaml"
    version_1 = client.get("/criteria/triage/versions/1").json()
    assert yaml.safe_load(first.text) == as_json.json() == file_of(version_1)
    assert header_of(first.text)[:2] == [
        "# Reflexe criteria set 'triage', version 1",
        f"# content hash {version_1['content_hash']}",
    ]
    assert [c["key"] for c in yaml.safe_load(latest.text)["criteria"]] == ["a", "b"]
    assert "version 2" in header_of(latest.text)[0]


def test_an_exported_file_put_back_keeps_its_hash(client: TestClient) -> None:
    before = client.get("/criteria/pipu").json()
    exported = yaml.safe_load(client.get("/criteria/pipu?format=yaml").text)

    put = client.put("/criteria/pipu", json=exported, headers={"If-Match": '"v1"'})

    assert put.status_code == 200, put.text
    assert put.json()["version"] == 2
    assert put.json()["content_hash"] == before["content_hash"]


@pytest.mark.parametrize("path", ["/criteria/pipu", "/criteria/pipu/versions/1"])
@pytest.mark.parametrize("value", ["xml", "YAML", ""])
def test_a_bad_format_is_a_problem_naming_the_query_field(
    client: TestClient, path: str, value: str
) -> None:
    answer = client.get(path, params={"format": value})

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    [error] = answer.json()["errors"]
    assert (error["field"], error["location"]) == ("format", "query")
    assert error["message"] == "Input should be 'yaml' or 'json'"


@pytest.mark.parametrize("path", ["/criteria/nope?format=yaml", "/criteria/pipu/versions/9"])
def test_a_missing_set_or_version_is_a_404_problem_in_any_format(
    client: TestClient, path: str
) -> None:
    answer = client.get(path, headers={"Accept": "application/yaml"})

    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


def test_export_needs_a_key(client: TestClient) -> None:
    answer = client.get("/criteria/pipu?format=yaml", headers=as_key(None))

    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_openapi_document_names_the_file_forms(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    for path in ("/criteria/{slug}", "/criteria/{slug}/versions/{version}"):
        operation = paths[path]["get"]
        content = operation["responses"]["200"]["content"]
        assert list(content) == ["application/json", "application/yaml"], path
        assert content["application/yaml"]["schema"] == {
            "$ref": "#/components/schemas/CriteriaSetCreate"
        }
        assert {"$ref": "#/components/schemas/CriteriaSetCreate"} in content["application/json"][
            "schema"
        ]["anyOf"]
        [parameter] = [p for p in operation["parameters"] if p["name"] == "format"]
        assert parameter["in"] == "query"


# --- the JSON Schema of a set's file ------------------------------------------------


def schema_of(client: TestClient) -> Any:
    answer = client.get("/schemas/criteria-set.json", headers=as_key(None))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/schema+json"
    return answer.json()


def test_the_schema_is_served_without_a_key(client: TestClient) -> None:
    schema = schema_of(client)

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "/schemas/criteria-set.json"
    assert "slug" in schema["required"]
    assert "Condition" in json.dumps(schema["$defs"])
    head = client.head("/schemas/criteria-set.json", headers=as_key(None))
    assert head.status_code == 200


def test_the_seed_the_example_and_an_export_validate_against_the_schema(
    client: TestClient,
) -> None:
    validator = jsonschema_rs.validator_for(schema_of(client))
    exported = yaml.safe_load(client.get("/criteria/pipu?format=yaml").text)
    as_json = client.get("/criteria/pipu?format=json").json()
    seed = PIPU.model_dump(mode="json", exclude_unset=True)
    example = yaml.safe_load(EXAMPLE.read_text())
    answer = client.get("/criteria/pipu").json()  # server fields are allowed, and ignored

    for document in (exported, as_json, seed, example, answer):
        errors = [e.message for e in validator.iter_errors(document)]
        assert errors == [], errors


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda f: f.pop("slug"), "slug"),
        (lambda f: f.update(slug="Not A Slug"), "Not A Slug"),
        (lambda f: f["criteria"][0].update(weight=-1), "-1"),
        (lambda f: f.update(colour="blue"), "colour"),
        (lambda f: f["policy"].pop("accept_at"), "accept_at"),
    ],
)
def test_the_schema_refuses_what_the_api_refuses(
    client: TestClient, change: Any, fragment: str
) -> None:
    validator = jsonschema_rs.validator_for(schema_of(client))
    document = yaml.safe_load(EXAMPLE.read_text())
    change(document)

    errors = [e.message for e in validator.iter_errors(document)]

    assert errors, document
    assert any(fragment in message for message in errors), errors
    body = {key: value for key, value in document.items() if key != "slug"}
    if "slug" in document and document["slug"] == "pipu":
        answer = client.put("/criteria/pipu", json=body, headers={"If-Match": "*"})
        assert answer.status_code == 422, answer.text
