"""Liveness and readiness."""

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.conftest import local_client


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_when_migrated(client: TestClient) -> None:
    assert client.get("/readyz").json() == {"status": "ready"}


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_head_answers_as_get_without_a_body(client: TestClient, path: str) -> None:
    anonymous = TestClient(client.app, raise_server_exceptions=False)

    got = anonymous.get(path)
    head = anonymous.head(path)

    assert head.status_code == got.status_code == 200
    assert head.content == b""
    for header in ("content-type", "content-length", "cache-control"):
        assert head.headers[header] == got.headers[header]


def test_readyz_503_when_the_schema_is_not_migrated(tmp_path: object) -> None:
    settings = Settings(
        dev_mode=True, database_url=f"sqlite:///{tmp_path}/empty.db", migrate_on_start=False
    )

    with local_client(create_app(settings)) as client:
        response = client.get("/readyz")
        head = client.head("/readyz")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert "reflexe migrate" in response.json()["detail"]
    assert (head.status_code, head.headers["retry-after"], head.content) == (503, "5", b"")


def test_readyz_503_when_the_database_is_unreachable() -> None:
    settings = Settings(
        dev_mode=True,
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/none",
        migrate_on_start=False,
        db_pool_timeout=1,
    )

    with local_client(create_app(settings)) as client:
        response = client.get("/readyz")
        live = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["detail"] == "The database is unreachable."
    assert live.status_code == 200


def test_reads_answer_503_when_the_database_is_unreachable() -> None:
    settings = Settings(
        dev_mode=True,
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/none",
        migrate_on_start=False,
        db_pool_timeout=1,
    )

    with local_client(create_app(settings)) as client:
        listed = client.get("/evaluations")
        criteria = client.get("/criteria/pipu")
        evaluated = client.post("/evaluate", json={})

    for response in (listed, criteria, evaluated):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["detail"] == "The database is unavailable; retry shortly."
