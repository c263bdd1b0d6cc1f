"""Idempotency-Key on POST /evaluate and /evaluate/batch."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.runtime import runtime_of
from tests.factories import new_key

BODY = {"subject": {"ref": "https://example.org/in/ada"}, "answers": {"pertinence": True}}


def post(client: TestClient, key: str, body: Any = BODY, path: str = "/evaluate") -> Any:
    return client.post(path, json=body, headers={"Idempotency-Key": key})


def stored(client: TestClient) -> int:
    engine: Engine = runtime_of(client.app).engine  # type: ignore[arg-type]
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM evaluation")).scalar_one())


def test_a_retry_returns_the_same_answer_and_stores_once(client: TestClient) -> None:
    first = post(client, "k-1")
    again = post(client, "k-1")

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert stored(client) == 1


def test_twenty_parallel_identical_requests_get_one_answer_and_store_one_decision(
    client: TestClient,
) -> None:
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda _: post(client, "same"), range(20)))

    assert [r.status_code for r in responses] == [201] * 20
    assert len({r.content for r in responses}) == 1
    assert len({r.headers["location"] for r in responses}) == 1
    assert stored(client) == 1


def test_the_same_key_with_another_body_is_422(client: TestClient) -> None:
    post(client, "k-2")

    response = post(client, "k-2", {"answers": {"pertinence": False}})

    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "Idempotency-Key",
        "location": "header",
        "message": "already used with a different request body",
    }
    assert stored(client) == 1


def test_a_failed_request_frees_its_key(client: TestClient) -> None:
    failed = post(client, "k-3", {"criteria_set": "missing"})
    retried = post(client, "k-3", {"criteria_set": "missing"})

    assert failed.status_code == retried.status_code == 404


def test_dry_runs_and_batches_replay_too(client: TestClient) -> None:
    dry = {"answers": {"pertinence": True}, "dry_run": True}
    batch = {"items": [BODY, {"answers": {"nope": True}}]}

    first_dry, again_dry = post(client, "d", dry), post(client, "d", dry)
    first_batch = post(client, "b", batch, "/evaluate/batch")
    again_batch = post(client, "b", batch, "/evaluate/batch")

    assert first_dry.status_code == again_dry.status_code == 200
    assert again_dry.content == first_dry.content
    assert first_batch.status_code == again_batch.status_code == 200
    assert again_batch.content == first_batch.content
    assert stored(client) == 1


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_bad_keys_are_422(client: TestClient, key: str) -> None:
    response = post(client, key)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert stored(client) == 0


def test_keys_expire_after_a_day(client: TestClient) -> None:
    post(client, "old")
    engine: Engine = runtime_of(client.app).engine  # type: ignore[arg-type]
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE idempotency_key SET created_at = :when"),
            {"when": "2000-01-01 00:00:00.000000"},
        )

    again = post(client, "old")

    assert again.status_code == 201
    assert stored(client) == 2


def test_keys_belong_to_the_calling_api_key(client: TestClient) -> None:
    headers = [
        {"Authorization": f"Bearer {new_key(client, 'evaluator')}", "Idempotency-Key": "shared"}
        for _ in range(2)
    ]
    other_body = {**BODY, "answers": {"utilite": True}}

    first = client.post("/evaluate", json=BODY, headers=headers[0])
    second = client.post("/evaluate", json=other_body, headers=headers[1])
    first_again = client.post("/evaluate", json=BODY, headers=headers[0])
    second_again = client.post("/evaluate", json=other_body, headers=headers[1])

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert first_again.content == first.content
    assert second_again.content == second.content
    assert stored(client) == 2
