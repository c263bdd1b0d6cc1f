"""Before and around authentication: what a caller meets before any work is done for it."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.api.test_errors import assert_problem
from tests.factories import as_key, new_key

MALFORMED = {"content": b'{"answers": ', "headers": {"content-type": "application/json"}}


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("auditor", "POST", "/evaluate"),
        ("auditor", "POST", "/evaluate/batch"),
        ("evaluator", "POST", "/criteria"),
        ("evaluator", "PUT", "/criteria/pipu"),
        ("evaluator", "POST", "/keys"),
    ],
)
def test_the_wrong_role_is_403_before_the_body_is_parsed(
    client: TestClient, role: str, method: str, path: str
) -> None:
    key = new_key(client, role)

    response = client.request(
        method, path, headers=as_key(key) | MALFORMED["headers"], content=MALFORMED["content"]
    )

    assert_problem(response, 403)


@pytest.mark.parametrize(
    "params",
    [
        {"token": "{key}"},
        {"api_key": "{key}"},
        {"ACCESS_TOKEN": "{key}"},
        {"access_token": "{key}"},
        {"subject": "see {key} here"},
        {"{key}": "1"},
    ],
)
def test_a_key_under_any_query_parameter_is_refused(
    client: TestClient, admin_key: str, params: dict[str, str]
) -> None:
    query = {
        name.format(key=admin_key): value.format(key=admin_key) for name, value in params.items()
    }

    response = client.get("/evaluations", params=query)

    body = assert_problem(response, 401)
    assert "never in the URL" in str(body["detail"])


def test_a_query_value_that_is_not_a_key_is_not_refused(client: TestClient) -> None:
    response = client.get("/evaluations", params={"subject": "rfx_notakey"})

    assert response.status_code == 200


def failing_settings(settings: Settings, limit: str) -> Settings:
    return settings.model_copy(update={"auth_failure_limit": limit})


def test_failed_authentications_are_limited_per_address(
    client: TestClient, settings: Settings, admin_key: str
) -> None:
    app = create_app(failing_settings(settings, "5/minute"))
    attacker = TestClient(app, raise_server_exceptions=False, client=("203.0.113.7", 4000))
    neighbour = TestClient(app, raise_server_exceptions=False, client=("203.0.113.8", 4000))
    bad = as_key("rfx_0123456789ab_" + "x" * 43)

    with attacker, neighbour:
        # A key this process has verified keeps working from the blocked address.
        assert attacker.get("/criteria", headers=as_key(admin_key)).status_code == 200
        statuses = [attacker.get("/criteria", headers=bad).status_code for _ in range(8)]
        refused = attacker.get("/criteria", headers=bad)
        anonymous = attacker.get("/criteria", headers=as_key(None))
        known = attacker.get("/criteria", headers=as_key(admin_key))
        elsewhere = neighbour.get("/criteria", headers=bad)

    assert statuses == [401] * 5 + [429] * 3
    body = assert_problem(refused, 429)
    assert "failed authentications" in str(body["detail"])
    assert int(refused.headers["retry-after"]) >= 1
    assert anonymous.status_code == 429
    assert known.status_code == 200
    assert elsewhere.status_code == 401


def test_failed_authentication_limits_can_be_disabled(
    client: TestClient, settings: Settings
) -> None:
    app = create_app(failing_settings(settings, ""))
    bad = as_key("rfx_0123456789ab_" + "x" * 43)

    with TestClient(app, raise_server_exceptions=False) as anonymous:
        statuses = {anonymous.get("/criteria", headers=bad).status_code for _ in range(40)}

    assert statuses == {401}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/evaluations", 200), ("GET", "/nowhere", 404), ("POST", "/evaluate", 201)],
)
def test_every_answer_carries_the_security_headers(
    client: TestClient, method: str, path: str, status: int
) -> None:
    anonymous = TestClient(client.app, raise_server_exceptions=False)
    responses = [
        client.request(method, path, json={} if method == "POST" else None),
        anonymous.request(method, path),
    ]

    assert [r.status_code for r in responses] == [status, 401]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert (
            response.headers["content-security-policy"]
            == "default-src 'none'; frame-ancestors 'none'"
        )
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"


def limited(settings: Settings, rate_limit: str) -> Settings:
    return settings.model_copy(update={"rate_limit": rate_limit})


def test_a_batch_counts_as_its_items_against_the_rate_limit(
    client: TestClient, settings: Settings
) -> None:
    items = [{"answers": {"pertinence": True}}] * 4

    with TestClient(create_app(limited(settings, "10/minute")), headers=client.headers) as app:
        first = app.post("/evaluate/batch", json={"items": items})
        second = app.post("/evaluate/batch", json={"items": items})
        third = app.post("/evaluate/batch", json={"items": items})
        single = app.post("/evaluate", json={})

    assert [first.status_code, second.status_code] == [200, 200]
    assert_problem(third, 429)
    assert int(third.headers["retry-after"]) >= 1
    assert single.status_code == 201  # 4 + 4 + 1 + the one the refused batch spent: 10
    assert len(client.get("/evaluations").json()["items"]) == 9


def test_a_batch_larger_than_the_rate_limit_is_422(client: TestClient, settings: Settings) -> None:
    items = [{}] * 6

    with TestClient(create_app(limited(settings, "5/minute")), headers=client.headers) as app:
        response = app.post("/evaluate/batch", json={"items": items})

    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "items"
    assert "at most 5 items" in body["errors"][0]["message"]


def test_batches_beyond_the_process_limit_are_503_before_their_body_is_read(
    settings: Settings, admin_key: str
) -> None:
    app = create_app(settings.model_copy(update={"max_concurrent_batches": 1}))
    headers = {"authorization": f"Bearer {admin_key}", "content-type": "application/json"}
    release = asyncio.Event()
    sent: list[bytes] = []

    async def slow_body() -> AsyncIterator[bytes]:
        sent.append(b'{"items": [')
        yield sent[-1]
        await release.wait()
        sent.append(b"{}]}")
        yield sent[-1]

    async def run() -> tuple[httpx.Response, httpx.Response, httpx.Response, int]:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            first = asyncio.create_task(
                client.post("/evaluate/batch", content=slow_body(), headers=headers)
            )
            while not sent:
                await asyncio.sleep(0.01)
            chunks_before = len(sent)
            refused = await client.post("/evaluate/batch", json={"items": [{}]}, headers=headers)
            release.set()
            done = await first
            again = await client.post("/evaluate/batch", json={"items": [{}]}, headers=headers)
            return refused, done, again, chunks_before

    refused, done, again, chunks_before = asyncio.run(run())

    body = assert_problem(refused, 503)
    assert "1 batches are already running" in str(body["detail"])
    assert refused.headers["retry-after"] == "1"
    assert chunks_before == 1
    assert done.status_code == 200
    assert again.status_code == 200


def test_an_unauthenticated_streamed_body_is_not_read(client: TestClient) -> None:
    app = client.app
    read: list[int] = []

    def body() -> Any:
        for chunk in range(64):
            read.append(chunk)
            yield b"x" * 65536

    anonymous = TestClient(app, raise_server_exceptions=False)
    response = anonymous.post(
        "/evaluate/batch", content=body(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 401
    assert len(read) < 64
