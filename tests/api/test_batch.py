"""POST /evaluate/batch: many decisions, one result each, stored in one transaction."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.conftest import local_client
from tests.factories import make_criteria_set


def batch(client: TestClient, items: list[Any]) -> dict[str, Any]:
    response = client.post("/evaluate/batch", json={"items": items})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_item_gets_its_own_result_in_order(client: TestClient) -> None:
    assert client.post("/criteria", json=make_criteria_set("gone")).status_code == 201
    etag = client.get("/criteria/gone").headers["etag"]
    assert client.delete("/criteria/gone", headers={"If-Match": etag}).status_code == 204

    body = batch(
        client,
        [
            {"subject": {"ref": "a"}, "answers": {"pertinence": True, "utilite": True}},
            {"answers": {"pertinence": "maybe"}},
            {"attributes": {"mutual_connections": 40, "followers": 5000}},
            {"criteria_set": "missing"},
            {"criteria_set": "gone"},
            {"answers": {"nope": True}},
            {"answers": {"pertinence": True}, "dry_run": True},
            "not an object",
        ],
    )

    assert [item["index"] for item in body["items"]] == list(range(8))
    assert [item["status"] for item in body["items"]] == [201, 422, 201, 404, 409, 422, 200, 422]
    assert (body["stored"], body["failed"]) == (2, 5)
    assert body["items"][0]["evaluation"]["decision"] == "accept"
    assert body["items"][1]["problem"]["errors"][0]["field"] == "answers.pertinence"
    assert body["items"][5]["problem"]["errors"][0]["field"] == "answers.nope"
    assert body["items"][6]["evaluation"]["id"] is None
    stored = [body["items"][i]["evaluation"] for i in (0, 2)]
    for evaluation in stored:
        assert client.get(f"/evaluations/{evaluation['id']}").json() == evaluation
    listed = client.get("/evaluations").json()["items"]
    assert sorted(e["id"] for e in listed) == sorted(e["id"] for e in stored)


def test_a_compact_answer_gives_ids_decisions_and_summaries_and_stores_the_whole_decision(
    client: TestClient,
) -> None:
    items = [
        {"subject": {"ref": "a"}, "answers": {"pertinence": True, "utilite": True}},
        {"answers": {"pertinence": "maybe"}},
        {"answers": {"pertinence": True, "interaction": True}, "dry_run": True},
        {"answers": {"pertinence": False, "interaction": False}},
    ]
    full_items = [dict(item, dry_run=True) for item in items]
    response = client.post("/evaluate/batch", json={"items": items, "answer": "compact"})
    assert response.status_code == 200, response.text
    body = response.json()

    assert (body["stored"], body["failed"]) == (2, 1)
    first, refused, dry, declined = body["items"]
    assert set(first) == {"index", "status", "id", "decision", "summary"}
    assert (first["index"], first["status"], first["decision"]) == (0, 201, "accept")
    assert refused["status"] == 422
    assert refused["problem"]["errors"][0]["field"] == "answers.pertinence"
    assert (dry["status"], dry["id"], dry["decision"]) == (200, None, "accept")
    assert (declined["status"], declined["decision"]) == (201, "decline")
    # The whole decision is stored and read back, as a full answer would have given it.
    full = batch(client, full_items)["items"]
    for compact, item in ((first, full[0]), (declined, full[3])):
        stored = client.get(f"/evaluations/{compact['id']}").json()
        assert stored["id"] == compact["id"]
        assert stored["decision"] == compact["decision"]
        assert stored["criteria"] == item["evaluation"]["criteria"]
        assert stored["summary"] == item["evaluation"]["summary"] == compact["summary"]
    assert dry["summary"] == full[2]["evaluation"]["summary"]


@pytest.mark.parametrize("answer", ["short", "", None, 1, ["compact"]])
def test_the_answer_option_is_checked(client: TestClient, answer: Any) -> None:
    response = client.post("/evaluate/batch", json={"items": [{}], "answer": answer})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "answer"
    assert client.get("/evaluations").json()["items"] == []


def test_an_item_the_database_cannot_store_is_refused_alone(client: TestClient) -> None:
    # PostgreSQL stores no U+0000; such an item used to fail the whole batch with a 503.
    body = batch(client, [{"subject": {"name": "a\x00"}}, {"subject": {"name": "b"}}])

    assert [item["status"] for item in body["items"]] == [422, 201]
    assert body["items"][0]["problem"]["errors"][0]["field"] == "subject.name"
    assert [e["subject"]["name"] for e in client.get("/evaluations").json()["items"]] == ["b"]


def test_a_full_batch_of_a_thousand_is_stored(client: TestClient) -> None:
    items = [
        {"subject": {"ref": f"p{i}"}, "answers": {"pertinence": i % 2 == 0}} for i in range(1000)
    ]

    body = batch(client, items)

    assert body["stored"] == 1000
    assert len({item["evaluation"]["id"] for item in body["items"]}) == 1000
    first_page = client.get("/evaluations", params={"limit": 100}).json()
    assert len(first_page["items"]) == 100
    assert first_page["next_cursor"]


@pytest.mark.parametrize(
    ("items", "field"),
    [([], "items"), ([{}] * 1001, "items"), (None, "items")],
    ids=["empty", "too-many", "null"],
)
def test_batch_size_is_bounded(client: TestClient, items: Any, field: str) -> None:
    response = client.post("/evaluate/batch", json={"items": items})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_a_batch_over_its_body_limit_is_413(tmp_path: object) -> None:
    settings = Settings(
        dev_mode=True, database_url=f"sqlite:///{tmp_path}/b.db", max_batch_body_bytes=2048
    )
    items = [{"subject": {"ref": "x" * 100}} for _ in range(30)]

    with local_client(create_app(settings)) as client:
        response = client.post("/evaluate/batch", json={"items": items})
        small = client.post("/evaluate/batch", json={"items": items[:2]})

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert small.status_code == 200
