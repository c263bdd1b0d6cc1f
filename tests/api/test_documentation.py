"""The interactive documentation: served by the service itself, public, and nothing more."""

import re
from pathlib import PurePosixPath

import pytest
from fastapi.testclient import TestClient

MEDIA_TYPES = {
    ".js": {"text/javascript", "application/javascript"},
    ".css": {"text/css"},
    ".png": {"image/png"},
    ".json": {"application/json"},
}
# What each page loads besides itself: scripts, stylesheet, icon, the OpenAPI document.
LOADS = {"/docs": {".js", ".css", ".png", ".json"}, "/redoc": {".js", ".png", ".json"}}


def references(page: str) -> list[str]:
    """Every URL the page loads: its src and href attributes, and the OpenAPI document."""
    attributes = re.findall(r'\b(?:src|href|spec-url)="([^"]*)"', page)
    swagger_document = re.findall(r"\burl: '([^']*)'", page)
    return attributes + swagger_document


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_documentation_loads_nothing_from_another_host(client: TestClient, path: str) -> None:
    anonymous = TestClient(client.app, raise_server_exceptions=False)

    page = anonymous.get(path)

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert not re.search(r"https?:", page.text), "the page names another host"
    found = references(page.text)
    assert {PurePosixPath(url).suffix for url in found} == LOADS[path]
    for url in found:
        assert re.match(r"/[^/]", url), f"{url} is not a path on this service"
        asset = anonymous.get(url)
        assert asset.status_code == 200, url
        media_type = asset.headers["content-type"].split(";")[0]
        assert media_type in MEDIA_TYPES[PurePosixPath(url).suffix], (url, media_type)


def test_swagger_ui_asks_no_online_validator(client: TestClient) -> None:
    page = TestClient(client.app).get("/docs").text

    assert '"validatorUrl": null' in page


@pytest.mark.parametrize(
    "path",
    [
        "/docs/assets/%2e%2e/%2e%2e/keys",  # climbs out of the assets
        "/docs/assets/%2E%2E/swagger-ui.css",
        "/docs/assetsx",
        "/docs/",
        "/redoc/x",
    ],
)
def test_only_the_documentation_is_public(client: TestClient, path: str) -> None:
    anonymous = TestClient(client.app, raise_server_exceptions=False)

    response = anonymous.get(path)

    assert response.status_code == 401, response.text
