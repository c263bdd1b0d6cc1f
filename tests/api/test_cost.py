"""Bounded cost: limits checked before any work, small answers, and a loop that stays free."""

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.runtime import runtime_of
from app.settings import Settings
from tests.api.test_errors import assert_problem
from tests.factories import make_criteria_set, make_criterion

KEYWORDS = [f"keyword{i:03d}" for i in range(500)]


def keyword_leaf(attribute: str = "headline") -> dict[str, Any]:
    return {"attribute": attribute, "operator": "contains_any", "value": {"param": "keywords"}}


def widest_set(slug: str = "widest") -> dict[str, Any]:
    """A set at the documented limits: 50 criteria x 4 keyword leaves on a 500-keyword param."""
    criteria = [
        make_criterion(f"c{i:02d}", rules={"any": [keyword_leaf() for _ in range(4)]})
        for i in range(50)
    ]
    body = make_criteria_set(slug, criteria=criteria, accept_at=1)
    body["params"] = {"keywords": KEYWORDS}
    return body


def regex_set(slug: str, leaves: int, pattern: str = "^[a-z]+ ?x") -> dict[str, Any]:
    rules = {"any": [{"attribute": "bio", "operator": "matches", "value": pattern}] * leaves}
    return make_criteria_set(slug, criteria=[make_criterion("shape", rules=rules)], accept_at=1)


def test_a_long_text_is_quoted_shortened_and_the_answer_stays_small(client: TestClient) -> None:
    assert client.post("/criteria", json=widest_set()).status_code == 201
    headline = " ".join(["keyword007 growth"] + ["lorem"] * 700)[:4000]
    request = {"criteria_set": "widest", "attributes": {"headline": headline}}

    response = client.post("/evaluate", json=request)

    assert response.status_code == 201, response.text
    assert len(response.content) < 256 * 1024
    assert len(response.content) < 40 * len(json.dumps(request))
    evidence = response.json()["criteria"][0]["evidence"][0]
    assert evidence["actual"] == headline[:100] + "…"
    assert evidence["actual_shortened"] is True
    assert evidence["result"] is True
    stored = client.get(f"/evaluations/{response.json()['id']}")
    assert stored.content == response.content


def test_a_regular_expression_with_a_huge_program_is_422(client: TestClient) -> None:
    response = client.post("/criteria", json=regex_set("slow", 1, "(.{0,100}){0,9}x"))

    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "criteria[0].rules.any[0].value"
    assert "RE2 program size" in body["errors"][0]["message"]


def test_a_long_text_that_rules_read_is_422_naming_it(client: TestClient) -> None:
    assert client.post("/criteria", json=regex_set("shape", 1)).status_code == 201

    response = client.post(
        "/evaluate", json={"criteria_set": "shape", "attributes": {"bio": "b" * 5001}}
    )

    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "attributes.bio"
    assert "at most 5,000 characters" in body["errors"][0]["message"]


def test_an_evaluation_over_its_budget_is_422_before_any_rule_runs(client: TestClient) -> None:
    # Each leaf reads 5,000 characters with a regular expression: 100,000 units; 11 of
    # them pass the default budget of 1,000,000.
    assert client.post("/criteria", json=regex_set("costly", 11)).status_code == 201
    assert client.post("/criteria", json=regex_set("affordable", 10)).status_code == 201
    bio = {"bio": "b" * 5000}

    over = client.post("/evaluate", json={"criteria_set": "costly", "attributes": bio})
    within = client.post("/evaluate", json={"criteria_set": "affordable", "attributes": bio})

    body = assert_problem(over, 422)
    assert body["errors"][0]["field"] == "attributes"
    assert "1,100,000 units" in body["errors"][0]["message"]
    assert "1,000,000 per evaluation" in body["errors"][0]["message"]
    assert within.status_code == 201
    assert len(client.get("/evaluations").json()["items"]) == 1


def test_an_inline_draft_over_budget_is_422_without_compiling(client: TestClient) -> None:
    draft = widest_set()
    draft.pop("slug")
    # 200 leaves, each listing 500 keywords: 200 x (1,000 + 50,000) units to compile.
    response = client.post(
        "/evaluate", json={"dry_run": True, "criteria": draft, "attributes": {"headline": "x"}}
    )

    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "criteria"
    assert "10,200,000 units" in body["errors"][0]["message"]


def test_a_batch_over_the_request_budget_is_413_and_stores_nothing(
    client: TestClient, settings: Settings
) -> None:
    assert client.post("/criteria", json=regex_set("shape", 1)).status_code == 201
    items = [{"criteria_set": "shape", "attributes": {"bio": "b" * 5000}}] * 11
    tight = settings.model_copy(update={"max_request_cost": 1_000_000})

    with TestClient(create_app(tight), headers=client.headers) as app:
        over = app.post("/evaluate/batch", json={"items": items})
        within = app.post("/evaluate/batch", json={"items": items[:10]})

    body = assert_problem(over, 413)
    assert "1,000,000 units per request" in str(body["detail"])
    assert within.status_code == 200
    assert within.json()["stored"] == 10
    assert len(client.get("/evaluations").json()["items"]) == 10


def test_an_item_over_the_evaluation_budget_fails_alone(client: TestClient) -> None:
    assert client.post("/criteria", json=regex_set("costly", 11)).status_code == 201
    costly = {"criteria_set": "costly", "attributes": {"bio": "b" * 5000}}

    response = client.post("/evaluate/batch", json={"items": [costly, {}]})

    result = response.json()
    assert [item["status"] for item in result["items"]] == [422, 201]
    assert result["items"][0]["problem"]["errors"][0]["field"] == "attributes"


def test_a_draft_repeated_in_a_batch_is_compiled_and_counted_once(client: TestClient) -> None:
    criteria = [make_criterion("warm", rules=keyword_leaf())]
    draft = make_criteria_set("d", criteria=criteria, accept_at=1)
    draft.pop("slug")
    draft["params"] = {"keywords": KEYWORDS}  # 51,000 units to compile
    item = {"dry_run": True, "criteria": draft, "attributes": {"headline": "keyword001"}}
    tight = {"max_request_cost": 100_000}

    with TestClient(
        create_app(runtime_of(client.app).settings.model_copy(update=tight)),  # type: ignore[arg-type]
        headers=client.headers,
    ) as app:
        response = app.post("/evaluate/batch", json={"items": [item] * 50})

    assert response.status_code == 200, response.text
    assert [item["status"] for item in response.json()["items"]] == [200] * 50


def test_the_loop_answers_health_checks_while_a_costly_batch_runs(
    settings: Settings, admin_key: str
) -> None:
    """Costly work runs in a worker thread: /healthz is answered before the batch is done."""
    app = create_app(settings.model_copy(update={"max_request_cost": 500_000_000}))
    headers = {"authorization": f"Bearer {admin_key}"}
    # Within the program size, but slow for RE2 (milliseconds on 5,000 characters).
    slow = [
        {"attribute": "bio", "operator": "matches", "value": "(.{0,20}){0,9}" + end}
        for end in "stuvwxyz!"
    ]
    criteria = [make_criterion("shape", rules={"any": slow})]
    draft = make_criteria_set("d", criteria=criteria, accept_at=1)
    draft.pop("slug")
    # Distinct texts: the engine keeps the evidence of values it has seen.
    items = [
        {"dry_run": True, "criteria": draft, "attributes": {"bio": f"{n:03}" + "ab" * 2498}}
        for n in range(400)
    ]

    async def run() -> tuple[bool, int, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://t", timeout=120) as client,
        ):
            batch = asyncio.create_task(
                client.post("/evaluate/batch", json={"items": items}, headers=headers)
            )
            await asyncio.sleep(0.05)  # the batch is under way
            health = await client.get("/healthz")
            return not batch.done(), health.status_code, await batch

    batch_was_running, health, batch = asyncio.run(run())

    assert health == 200
    assert batch.status_code == 200, batch.text
    assert [item["status"] for item in batch.json()["items"]] == [200] * 400
    assert batch_was_running


@pytest.mark.parametrize("limit", ["max_evaluation_cost", "max_request_cost"])
def test_budgets_below_ten_thousand_units_are_refused(limit: str) -> None:
    with pytest.raises(ValueError, match="greater than or equal to 10000"):
        Settings(**{limit: 9_999})  # type: ignore[arg-type]
