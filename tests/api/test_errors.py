"""Every error is an RFC 9457 problem document, whatever the client sent."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def assert_problem(response: object, status: int) -> dict[str, object]:
    assert getattr(response, "status_code", None) == status
    headers = getattr(response, "headers", {})
    assert headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


def test_unknown_route_is_404(client: TestClient) -> None:
    body = assert_problem(client.get("/nowhere"), 404)

    assert body["instance"] == "/nowhere"


def test_wrong_method_is_405_with_allow(client: TestClient) -> None:
    response = client.patch("/evaluate", json={})

    assert_problem(response, 405)
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    "path", ["/criteria/pipu", "/criteria", "/evaluations", "/stats", "/reviews", "/openapi.json"]
)
def test_head_answers_as_get_without_the_body(client: TestClient, path: str) -> None:
    got = client.get(path)
    head = client.head(path)

    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers.get("etag") == got.headers.get("etag")


def test_head_on_a_route_without_get_is_405(client: TestClient) -> None:
    response = client.head("/evaluate")

    assert response.status_code == 405
    assert response.content == b""
    assert response.headers["allow"] == "POST"


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/evaluate", content=b'{"answers": ', headers={"content-type": "application/json"}
    )

    body = assert_problem(response, 400)
    assert body["type"] == "urn:reflexe:problem:malformed-json"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/evaluate"),
        ("POST", "/evaluate/batch"),
        ("POST", "/criteria"),
        ("POST", "/keys"),
        ("PUT", "/evaluations/01a21575-af78-76c7-9d61-81b91b010867/verdict"),
    ],
)
@pytest.mark.parametrize("body", [b"\x80", b'{"answers": "\xc4"}', b"\xff\xfe{\x00"])
def test_a_body_that_is_not_text_is_400(
    client: TestClient, method: str, path: str, body: bytes
) -> None:
    response = client.request(
        method, path, content=body, headers={"content-type": "application/json"}
    )

    problem = assert_problem(response, 400)
    assert problem["type"] == "urn:reflexe:problem:malformed-json"


def test_missing_body_is_422(client: TestClient) -> None:
    body = assert_problem(client.post("/criteria"), 422)

    assert body["errors"] == [{"field": "(root)", "location": "body", "message": "Field required"}]


def test_declared_body_over_the_limit_is_413(client: TestClient) -> None:
    padding = "x" * (64 * 1024)

    response = client.post("/evaluate", json={"attributes": {"note": padding}})

    body = assert_problem(response, 413)
    assert "65536 bytes" in str(body["detail"])
    assert client.get("/evaluations").json()["items"] == []


def test_streamed_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"attributes": {"note": "'
        for _ in range(70):
            yield b"x" * 1024
        yield b'"}}'

    response = client.post(
        "/evaluate", content=chunks(), headers={"content-type": "application/json"}
    )

    assert_problem(response, 413)


def test_streamed_body_under_the_limit_is_read(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"answers": {"pertinence": true,'
        yield b' "utilite": true}}'

    response = client.post(
        "/evaluate", content=chunks(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 201
    assert response.json()["decision"] == "accept"


@pytest.mark.parametrize("value", [b"abc", b"-1"])
def test_invalid_content_length_is_refused(
    client: TestClient, admin_key: str, value: bytes
) -> None:
    # The test client recomputes Content-Length, so call the app at the ASGI level.
    import asyncio

    messages: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/evaluate",
        "raw_path": b"/evaluate",
        "query_string": b"",
        "headers": [
            (b"content-length", value),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {admin_key}".encode()),
        ],
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("testclient", 1),
        "root_path": "",
    }
    asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]

    assert messages[0]["status"] == 413


def test_unexpected_errors_are_500_problems_without_traceback(client: TestClient) -> None:
    def explode() -> None:
        raise RuntimeError("secret internals")

    client.app.add_api_route("/boom", explode)  # type: ignore[attr-defined]

    response = client.get("/boom")

    body = assert_problem(response, 500)
    assert "secret" not in response.text
    assert body["detail"] == "An unexpected error occurred."


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/criteria", "GET, HEAD, POST"),
        ("/criteria/pipu", "DELETE, GET, HEAD, PUT"),
        ("/evaluate", "POST"),
        ("/healthz", "GET, HEAD"),
        ("/docs", "GET, HEAD"),
    ],
)
def test_405_lists_every_method_of_the_path(client: TestClient, path: str, allow: str) -> None:
    response = client.request("PATCH", path)

    assert_problem(response, 405)
    assert response.headers["allow"] == allow
