"""Inputs that once broke the service: each is now a 4xx naming the field, on both backends."""

import base64
import gzip
import json
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_errors import assert_problem
from tests.factories import make_criteria_set, make_criterion
from tests.test_openapi import COMMITTED as OPENAPI

JSON_HEADERS = {"content-type": "application/json"}


def nested(depth: int) -> Any:
    """A value nested `depth` levels deep: {"a": {"a": ... 1}}."""
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def nested_json(depth: int) -> str:
    """The JSON text of `nested(depth)`, built without recursion."""
    return '{"a": ' * depth + "1" + "}" * depth


def cursor_of(raw: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def field_errors(body: dict[str, Any]) -> list[str]:
    return [error["field"] for error in body["errors"]]


@pytest.mark.parametrize(
    ("name", "value"),
    [("since", "0001-01-01T00:00:00+01:00"), ("until", "9999-12-31T23:59:59-01:00")],
)
def test_a_time_bound_outside_the_utc_range_is_422(
    client: TestClient, name: str, value: str
) -> None:
    body = assert_problem(client.get("/evaluations", params={name: value}), 422)

    assert body["errors"] == [
        {
            "field": name,
            "location": "query",
            "message": "out of range: it must fall between years 1 and 9999 in UTC",
        }
    ]


@pytest.mark.parametrize(
    "raw",
    [
        ["2026-01-01T00:00:00+00:00", 123],
        ["2026-01-01T00:00:00+00:00", ["a"]],
        ["0001-01-01T00:00:00+01:00", "019ac1c2-5f7e-7d43-9a57-2d1c8f0f6a11"],
        ["2026-01-01T00:00:00", "019ac1c2-5f7e-7d43-9a57-2d1c8f0f6a11"],
        [1, 2, 3],
        {"created_at": "2026-01-01T00:00:00+00:00"},
        None,
    ],
)
def test_a_cursor_of_the_wrong_shape_is_422(client: TestClient, raw: Any) -> None:
    body = assert_problem(client.get("/evaluations", params={"cursor": cursor_of(raw)}), 422)

    assert field_errors(body) == ["cursor"]


@pytest.mark.parametrize("depth", [32, 255, 500])
def test_attributes_nested_too_deep_are_422(client: TestClient, depth: int) -> None:
    content = '{"attributes": {"x": ' + nested_json(depth) + "}}"

    response = client.post("/evaluate", content=content, headers=JSON_HEADERS)

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "attributes.x" + ".a" * 31
    assert "nested deeper than 32 levels" in problem["errors"][0]["message"]
    assert client.get("/evaluations").json()["items"] == []


def test_attributes_nested_32_levels_are_accepted(client: TestClient) -> None:
    # The attributes object is the first level, x the second, and x holds 30 more.
    response = client.post("/evaluate", json={"attributes": {"x": nested(31)}})

    assert response.status_code == 201, response.text


def test_a_batch_item_nested_too_deep_fails_alone(client: TestClient) -> None:
    deep = '{"attributes": {"x": ' + nested_json(500) + "}}"
    content = '{"items": [{"answers": {"pertinence": true}}, ' + deep + ", {}]}"

    response = client.post("/evaluate/batch", content=content, headers=JSON_HEADERS)

    assert response.status_code == 200, response.text
    result = response.json()
    assert [item["status"] for item in result["items"]] == [201, 422, 201]
    assert result["items"][1]["problem"]["errors"][0]["field"].startswith("attributes.x.a.a")
    assert len(client.get("/evaluations").json()["items"]) == 2


def _operations_with_a_body() -> list[tuple[str, str]]:
    """Every operation of the committed OpenAPI document that takes a body, path values
    filled in (the 415 comes before any lookup)."""
    document = json.loads(OPENAPI.read_text())
    values = {
        "slug": "pipu",
        "evaluation_id": str(uuid.uuid4()),
        "subscription_id": str(uuid.uuid4()),
    }
    return [
        (method.upper(), re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]


@pytest.mark.parametrize(
    "headers",
    [{"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"}, {}],
    ids=["text", "form", "none"],
)
@pytest.mark.parametrize(("method", "path"), _operations_with_a_body())
def test_a_body_not_sent_as_json_is_415_and_stores_nothing(
    client: TestClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = client.request(method, path, content=b'{"answers": {}}', headers=headers)

    problem = assert_problem(response, 415)
    assert "Content-Type: application/json" in problem["detail"]
    assert client.get("/evaluations").json()["items"] == []
    assert client.get("/webhooks").json()["items"] == []


# A body nested beyond 512 levels is refused whole, before any parser: Python's recurses
# (a thousand levels exhaust it) and ijson's memory grows with the square of the depth.
@pytest.mark.parametrize("depth", [600, 1_000, 20_000])
@pytest.mark.parametrize(
    ("method", "path", "around"),
    [
        ("POST", "/evaluate", '{"attributes": {"x": %s}}'),
        ("POST", "/evaluate/batch", '{"items": [{"attributes": {"x": %s}}]}'),
        ("POST", "/criteria", '{"slug": "deep", "criteria": %s}'),
        ("POST", "/subjects", '{"ref": %s}'),
        ("POST", "/webhooks", '{"url": %s}'),
    ],
)
def test_a_body_nested_beyond_bounds_is_422_and_stores_nothing(
    client: TestClient, method: str, path: str, around: str, depth: int
) -> None:
    content = around % ("[" * depth + "]" * depth)

    response = client.request(method, path, content=content, headers=JSON_HEADERS)

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "(root)"
    assert "nested deeper than 512 levels" in problem["errors"][0]["message"]
    assert client.get("/evaluations").json()["items"] == []
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "content",
    [
        '{"items": [' + "[" * 100_000 + "]" * 100_000 + "]}",  # quadratic memory for ijson
        '{"items": [' + '{"a":[' * 30_000 + "1" + "]}" * 30_000 + "]}",
        '{"items": [' + "[" * 1_000_000,  # never closed
    ],
)
def test_a_batch_nested_without_bounds_is_refused_at_once(client: TestClient, content: str) -> None:
    response = client.post("/evaluate/batch", content=content, headers=JSON_HEADERS)

    problem = assert_problem(response, 422)
    assert "nested deeper than 512 levels" in problem["errors"][0]["message"]


def test_brackets_within_texts_are_not_nesting(client: TestClient) -> None:
    text = '[{\\"' + "[" * 2_000 + '\\"}'
    response = client.post("/evaluate", json={"attributes": {"headline": text[:2000]}})

    assert response.status_code == 201, response.text


# An integer longer than a parser reads is one clear 422, never a 500: beyond 64 bits in a
# batch (its parser, yajl, reads no more), beyond 4,300 digits anywhere (Python's limit).
@pytest.mark.parametrize(
    ("path", "around", "integer", "message"),
    [
        ("/evaluate", '{"attributes": {"extra_count": %s}}', "9" * 5_000, "4,300 digits"),
        ("/evaluate", '{"version": %s}', "1" * 4_301, "4,300 digits"),
        ("/evaluate/batch", '{"items": [{"attributes": {"n": %s}}]}', "9" * 5_000, "64 bits"),
        ("/evaluate/batch", '{"items": [{"attributes": {"n": %s}}]}', "1" + "0" * 30, "64 bits"),
        ("/evaluate/batch", '{"items": [{"version": %s}]}', "9223372036854775808", "64 bits"),
        ("/evaluate/batch", '{"items": [{"version": %s}]}', "-9223372036854775808", "64 bits"),
    ],
)
def test_an_integer_longer_than_its_parser_reads_is_a_422_saying_so(
    client: TestClient, path: str, around: str, integer: str, message: str
) -> None:
    response = client.post(path, content=around % integer, headers=JSON_HEADERS)

    body = assert_problem(response, 422)
    [error] = body["errors"]
    assert error["field"] == "(root)"
    assert message in error["message"]
    assert client.get("/evaluations").json()["items"] == []


@pytest.mark.parametrize("number", ["9223372036854775807", "-9223372036854775807", "1e30"])
def test_the_largest_integers_and_large_decimals_are_read(client: TestClient, number: str) -> None:
    attributes = '{"attributes": {"extra_count": ' + number + "}}"

    one = client.post("/evaluate", content=attributes, headers=JSON_HEADERS)
    batch = client.post(
        "/evaluate/batch", content=f'{{"items": [{attributes}]}}', headers=JSON_HEADERS
    )

    assert one.status_code == 201, one.text
    assert batch.status_code == 200, batch.text
    assert batch.json()["items"][0]["status"] == 201, batch.text


def test_a_single_evaluation_reads_integers_of_any_sane_length(client: TestClient) -> None:
    content = '{"attributes": {"extra_count": 1' + "0" * 30 + "}}"

    response = client.post("/evaluate", content=content, headers=JSON_HEADERS)

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"items": [', "premature EOF"),
        ('{"items": [{"answers": }]}', "unallowed token"),
        ('{"items": []} and more', "trailing garbage"),
    ],
)
def test_a_malformed_batch_body_says_what_is_wrong(
    client: TestClient, content: str, reason: str
) -> None:
    response = client.post("/evaluate/batch", content=content, headers=JSON_HEADERS)

    body = assert_problem(response, 400)
    assert reason in body["detail"]
    assert "NaN" not in body["detail"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_attributes_are_422(client: TestClient, constant: str) -> None:
    content = '{"attributes": {"score": ' + constant + ', "mutual_connections": 3}}'

    response = client.post("/evaluate", content=content, headers=JSON_HEADERS)

    body = assert_problem(response, 422)
    assert field_errors(body) == ["attributes.score"]
    assert "finite number" in body["errors"][0]["message"]
    assert client.get("/evaluations").json()["items"] == []


def test_non_finite_numbers_make_a_batch_body_malformed(client: TestClient) -> None:
    # A batch body is parsed as strict JSON, a piece at a time: NaN is not JSON.
    content = '{"items": [{"attributes": {"tags": [1, NaN]}}, {"answers": {"utilite": true}}]}'

    response = client.post("/evaluate/batch", content=content, headers=JSON_HEADERS)

    body = assert_problem(response, 400)
    assert "NaN" in str(body["detail"])
    assert client.get("/evaluations").json()["items"] == []


@pytest.mark.parametrize(
    ("where", "expected_field"),
    [
        ('"params": {"threshold": NaN}', "params.threshold"),
        ('"params": {"levels": [1, Infinity]}', "params.levels"),
        ('"policy": {"accept_at": Infinity}', "policy.accept_at"),
    ],
)
def test_non_finite_numbers_in_a_criteria_set_are_422(
    client: TestClient, where: str, expected_field: str
) -> None:
    body = make_criteria_set("nan")
    body.pop("policy")
    content = json.dumps(body)[:-1] + ", " + where + "}"
    if "policy" not in where:
        content = content[:-1] + ', "policy": {"accept_at": 1}}'

    response = client.post("/criteria", content=content, headers=JSON_HEADERS)

    problem = assert_problem(response, 422)
    assert all(field.startswith(expected_field) for field in field_errors(problem))
    assert client.get("/criteria/nan").status_code == 404


def test_non_finite_numbers_in_a_rule_are_422(client: TestClient) -> None:
    body = make_criteria_set(
        "nanrule", criteria=[make_criterion("warm", rules={"attribute": "x", "operator": "gte"})]
    )
    content = json.dumps(body).replace('"operator": "gte"', '"operator": "gte", "value": NaN')

    response = client.post("/criteria", content=content, headers=JSON_HEADERS)

    problem = assert_problem(response, 422)
    assert field_errors(problem) == ["criteria[0].rules.value"]


def test_a_rule_tree_nested_too_deep_is_422(client: TestClient) -> None:
    rules: Any = {"attribute": "x", "operator": "exists"}
    for _ in range(400):
        rules = {"not": rules}
    body = make_criteria_set("deep", criteria=[make_criterion("warm", rules=rules)])

    response = client.post("/criteria", content=json.dumps(body), headers=JSON_HEADERS)

    problem = assert_problem(response, 422)
    assert field_errors(problem)[0].startswith("criteria[0].rules.not.not")


def test_an_inline_draft_nested_too_deep_is_422(client: TestClient) -> None:
    draft = make_criteria_set("draft", criteria=[make_criterion("warm", rules=nested(300))])
    draft.pop("slug")
    body = {"dry_run": True, "criteria": draft}

    response = client.post("/evaluate", content=json.dumps(body), headers=JSON_HEADERS)

    problem = assert_problem(response, 422)
    assert field_errors(problem)[0].startswith("criteria.criteria[0].rules.a.a")


@pytest.mark.parametrize(
    ("attributes", "field", "message"),
    [
        ('{"x": "\\ud800"}', "attributes.x", "valid Unicode"),
        ('{"x": ["ok", {"y": "a\\udc00b"}]}', "attributes.x[1].y", "valid Unicode"),
        ('{"x": {"\\ud800": 1}}', "attributes.x.\\ud800", "valid Unicode"),
        ('{"\\ud800": 1}', "attributes", "unicode string"),  # pydantic's own check
    ],
)
def test_a_lone_surrogate_in_attributes_is_422(
    client: TestClient, attributes: str, field: str, message: str
) -> None:
    content = '{"attributes": ' + attributes + "}"

    response = client.post("/evaluate", content=content, headers=JSON_HEADERS)

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == field
    assert message in problem["errors"][0]["message"]
    assert client.get("/evaluations").json()["items"] == []


# A set's content is hashed as RFC 8785 JSON, which holds integers of I-JSON's range alone:
# a wider one, wherever in the content, is a 422 naming it, before anything is stored.
WIDE = 2**53


def _with_rule_value(value: int, slug: str = "wide") -> dict[str, Any]:
    rule = {"attribute": "followers", "operator": "gte", "value": value}
    return make_criteria_set(slug, criteria=[make_criterion("reach", rules=rule)], accept_at=1)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (_with_rule_value(WIDE), "criteria[0].rules.value"),
        (_with_rule_value(-WIDE), "criteria[0].rules.value"),
        ({**_with_rule_value(5), "params": {"floor": 10**30}}, "params.floor"),
        (
            {
                **_with_rule_value(5),
                "cases": [
                    {
                        "name": "big",
                        "attributes": {"followers": WIDE},
                        "expect": {"decision": "accept"},
                    }
                ],
            },
            "cases[0].attributes.followers",
        ),
    ],
    ids=["rule", "negative-rule", "param", "case"],
)
def test_an_integer_beyond_2_53_in_a_set_is_422_and_stores_nothing(
    client: TestClient, content: dict[str, Any], field: str
) -> None:
    draft = {key: value for key, value in content.items() if key != "slug"}
    pipu = client.get("/criteria/pipu")
    answers = [
        client.post("/criteria", json=content),
        client.put("/criteria/pipu", json=draft, headers={"If-Match": pipu.headers["etag"]}),
        client.put("/criteria/pipu/shadow", json={"criteria": draft}),
        client.post("/criteria/pipu/impact", json={"criteria": draft}),
    ]

    for response, prefix in zip(answers, ["", "", "", "criteria."], strict=True):
        problem = assert_problem(response, 422)
        assert [error["field"] for error in problem["errors"]] == [prefix + field], problem
        assert "2^53" in problem["errors"][0]["message"]
    assert client.get("/criteria/wide").status_code == 404
    assert [v["version"] for v in client.get("/criteria/pipu/versions").json()["items"]] == [1]
    assert client.get("/criteria/pipu/shadow").status_code == 404


def test_the_widest_exact_integer_in_a_set_is_accepted(client: TestClient) -> None:
    created = client.post("/criteria", json=_with_rule_value(WIDE - 1))

    assert created.status_code == 201, created.text
    assert created.json()["criteria"][0]["rules"]["value"] == WIDE - 1
    assert client.get("/criteria/wide/versions").status_code == 200


def test_a_decision_with_a_wide_integer_cannot_become_a_case(client: TestClient) -> None:
    decided = client.post("/evaluate", json={"attributes": {"followers": 2**60}})

    made = client.post(f"/evaluations/{decided.json()['id']}/case", json={"name": "wide"})

    assert decided.status_code == 201, decided.text
    assert_problem(made, 409)
    assert client.get("/criteria/pipu").json()["pending_cases"] == []


@pytest.mark.parametrize(
    "text",
    ["\\ud800", "a\\udc00b", "\\ud800\\ud800\\udc00", "\\\\\\udbff"],
    ids=["high", "low", "high-then-pair", "after-an-escaped-backslash"],
)
def test_a_lone_surrogate_in_a_batch_is_422_and_stores_nothing(
    client: TestClient, text: str
) -> None:
    # yajl would read it as "?": two people's refs would become one.
    content = '{"items": [{"subject": {"ref": "x' + text + '"}}, {"answers": {}}]}'

    response = client.post("/evaluate/batch", content=content, headers=JSON_HEADERS)

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "(root)"
    assert "lone surrogate" in problem["errors"][0]["message"]
    assert client.get("/evaluations").json()["items"] == []


def test_surrogate_pairs_and_escaped_backslashes_in_a_batch_are_read_as_written(
    client: TestClient,
) -> None:
    content = '{"items": [{"subject": {"ref": "x\\ud83d\\ude00 \\\\ud800"}}]}'

    response = client.post("/evaluate/batch", content=content, headers=JSON_HEADERS)

    assert response.status_code == 200, response.text
    [stored] = client.get("/evaluations").json()["items"]
    assert stored["subject"]["ref"] == "x\U0001f600 \\ud800"


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate, gzip"])
@pytest.mark.parametrize("path", ["/evaluate", "/evaluate/batch", "/criteria"])
def test_a_body_in_a_content_coding_is_415_naming_identity(
    client: TestClient, path: str, coding: str
) -> None:
    body = {"items": [{"answers": {}}]} if path.endswith("batch") else {"answers": {}}
    headers = {**JSON_HEADERS, "content-encoding": coding}

    response = client.post(path, content=gzip.compress(json.dumps(body).encode()), headers=headers)

    problem = assert_problem(response, 415)
    assert "Content-Encoding" in problem["detail"]
    assert response.headers["accept-encoding"] == "identity"
    assert client.get("/evaluations").json()["items"] == []


@pytest.mark.parametrize(
    "query",
    [
        "limit=1&limit=2",
        "decision=accept&decision=decline",
        "since=2026-01-01T00:00:00Z&since=2027-01-01T00:00:00Z",
    ],
)
def test_a_query_parameter_given_twice_is_422_naming_it(client: TestClient, query: str) -> None:
    client.post("/evaluate", json={"answers": {}})

    response = client.get(f"/evaluations?{query}")

    problem = assert_problem(response, 422)
    [error] = problem["errors"]
    assert (error["field"], error["location"]) == (query.split("=")[0], "query")
    assert error["message"] == "given 2 times: give it once"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-32-be"])
def test_a_batch_body_in_any_encoding_json_allows_is_read(
    client: TestClient, encoding: str
) -> None:
    text = json.dumps({"items": [{"attributes": {"headline": "Directrice générale"}}]})

    response = client.post("/evaluate/batch", content=text.encode(encoding), headers=JSON_HEADERS)

    assert response.status_code == 200, response.text
    [stored] = client.get("/evaluations").json()["items"]
    assert client.get(f"/evaluations/{stored['id']}/inputs").json()["attributes"] == {
        "headline": "Directrice générale"
    }
