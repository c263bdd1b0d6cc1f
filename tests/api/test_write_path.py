"""The write path: grouped commits, nothing acknowledged before its commit, failures told."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.main import create_app
from app.runtime import runtime_of
from app.settings import Settings
from tests.factories import content_of

PARALLEL = 24


def post_many(client: TestClient, count: int, **body: Any) -> list[Any]:
    def post(i: int) -> Any:
        return client.post("/evaluate", json={"subject": {"ref": f"p{i}"}, **body})

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(post, range(count)))


def stored_count(client: TestClient) -> int:
    engine: Engine = runtime_of(client.app).engine  # type: ignore[arg-type]
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM evaluation")).scalar_one())


def test_concurrent_decisions_are_all_stored_before_they_are_acknowledged(
    client: TestClient,
) -> None:
    responses = post_many(client, 120, answers={"pertinence": True})

    assert {r.status_code for r in responses} == {201}
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 120
    assert stored_count(client) == 120
    for response in responses[:10]:
        assert client.get(response.headers["location"]).json() == response.json()


@pytest.fixture
def failing_inserts(client: TestClient, backend: str) -> Iterator[None]:
    """Make every insert into the decision log fail, as a full disk would."""
    engine: Engine = runtime_of(client.app).engine  # type: ignore[arg-type]
    with engine.begin() as connection:
        if backend == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON evaluation "
                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON evaluation "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
    yield
    with engine.begin() as connection:
        connection.execute(
            text("DROP TRIGGER refuse" + ("" if backend == "sqlite" else " ON evaluation"))
        )
        if backend != "sqlite":
            connection.execute(text("DROP FUNCTION refuse()"))


@pytest.mark.usefixtures("failing_inserts")
def test_a_failed_commit_is_an_error_for_every_request_of_the_group(client: TestClient) -> None:
    responses = post_many(client, 48, answers={"pertinence": True})
    batch = client.post("/evaluate/batch", json={"items": [{}, {}, {"answers": {"x": 1}}]})

    assert {r.status_code for r in responses} == {503}
    assert all(r.headers["retry-after"] for r in responses)
    assert responses[0].headers["content-type"] == "application/problem+json"
    assert batch.status_code == 503
    assert stored_count(client) == 0


def test_the_service_recovers_once_the_database_accepts_writes_again(client: TestClient) -> None:
    engine: Engine = runtime_of(client.app).engine  # type: ignore[arg-type]
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE evaluation RENAME TO evaluation_away"))
    try:
        failed = client.post("/evaluate", json={})
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE evaluation_away RENAME TO evaluation"))

    recovered = client.post("/evaluate", json={})

    assert failed.status_code == 503
    assert recovered.status_code == 201
    assert stored_count(client) == 1


def test_a_set_replaced_by_another_worker_is_used_at_once(
    client: TestClient, settings: Settings
) -> None:
    other = create_app(settings.model_copy(update={"migrate_on_start": False}))
    with TestClient(other, headers=client.headers) as second_worker:
        before = second_worker.post("/evaluate", json={"answers": {"pertinence": True}})
        current = client.get("/criteria/pipu")
        content = content_of(current.json())
        for key in ("version", "created_at", "is_default", "archived_at"):
            content.pop(key)
        content["policy"]["accept_at"] = 1
        replaced = client.put(
            "/criteria/pipu", json=content, headers={"If-Match": current.headers["etag"]}
        )
        after = second_worker.post("/evaluate", json={"answers": {"pertinence": True}})
        dry = second_worker.post("/evaluate", json={"answers": {}, "dry_run": True})

    assert replaced.status_code == 200
    assert (before.json()["criteria_set"]["version"], before.json()["decision"]) == (1, "decline")
    assert (after.json()["criteria_set"]["version"], after.json()["decision"]) == (2, "accept")
    assert dry.json()["criteria_set"]["version"] == 2


def test_a_set_archived_by_another_worker_refuses_at_once(
    client: TestClient, settings: Settings
) -> None:
    client.post(
        "/criteria",
        json={
            "slug": "brief",
            "name": "Brief",
            "criteria": [{"key": "ok", "label": "OK", "question": "OK?"}],
            "policy": {"accept_at": 1},
        },
    )
    other = create_app(settings.model_copy(update={"migrate_on_start": False}))
    with TestClient(other, headers=client.headers) as second_worker:
        before = second_worker.post("/evaluate", json={"criteria_set": "brief"})
        etag = client.get("/criteria/brief").headers["etag"]
        assert client.delete("/criteria/brief", headers={"If-Match": etag}).status_code == 204
        after = second_worker.post("/evaluate", json={"criteria_set": "brief"})

    assert before.status_code == 201
    assert after.status_code == 409
    assert stored_count(client) == 1
