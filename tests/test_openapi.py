"""The committed OpenAPI document is the one the app serves."""

import json
from pathlib import Path

from app.cli import render_openapi

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
