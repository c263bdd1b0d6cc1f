"""Caching and cross-origin headers."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.conftest import local_client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/evaluate"),
        ("post", "/evaluate/batch"),
        ("get", "/evaluations"),
        ("get", "/nowhere"),
    ],
)
def test_responses_are_not_stored_by_caches(client: TestClient, method: str, path: str) -> None:
    body = {"items": [{}]} if path.endswith("batch") else {}
    response = client.request(method, path, json=body if method == "post" else None)

    assert response.headers["cache-control"] == "no-store"


def test_no_cors_headers_unless_configured(client: TestClient) -> None:
    response = client.options(
        "/evaluate",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )

    assert "access-control-allow-origin" not in response.headers


def test_configured_origins_may_call_from_a_browser(tmp_path: Path) -> None:
    settings = Settings(
        dev_mode=True,
        database_url=f"sqlite:///{tmp_path}/cors.db",
        cors_origins=["https://admin.example"],
    )
    with local_client(create_app(settings)) as client:
        allowed = client.options(
            "/criteria",
            headers={"Origin": "https://admin.example", "Access-Control-Request-Method": "PUT"},
        )
        other = client.get("/criteria", headers={"Origin": "https://evil.example"})

    assert allowed.headers["access-control-allow-origin"] == "https://admin.example"
    assert "access-control-allow-origin" not in other.headers
