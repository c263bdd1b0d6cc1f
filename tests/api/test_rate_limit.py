"""Per-key rate limits: a spent limit is a 429 with Retry-After, for that key only."""

import uuid

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.factories import as_key, new_key

REDIS = "async+redis://127.0.0.1:6379"


def limited(settings: Settings, limit: str, storage: str = "async+memory://") -> Settings:
    return settings.model_copy(update={"rate_limit": limit, "rate_limit_storage": storage})


def test_a_spent_limit_is_429_with_retry_after(client: TestClient, settings: Settings) -> None:
    key = new_key(client, "evaluator")

    with TestClient(create_app(limited(settings, "3/minute")), headers=as_key(key)) as app:
        statuses = [app.get("/criteria").status_code for _ in range(3)]
        refused = app.post("/evaluate", json={"answers": {}})

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["type"] == "urn:reflexe:problem:rate-limited"
    assert "3 per 1 minute" in refused.json()["detail"]


def test_each_key_has_its_own_budget(client: TestClient, settings: Settings) -> None:
    first, second = new_key(client, "auditor"), new_key(client, "auditor")

    with TestClient(create_app(limited(settings, "2/minute"))) as app:
        spent = [app.get("/criteria", headers=as_key(first)).status_code for _ in range(3)]
        other = app.get("/criteria", headers=as_key(second))

    assert spent == [200, 200, 429]
    assert other.status_code == 200


def test_several_limits_apply_together(client: TestClient, settings: Settings) -> None:
    key = new_key(client, "auditor")

    with TestClient(
        create_app(limited(settings, "100/minute;2/second")), headers=as_key(key)
    ) as app:
        statuses = [app.get("/criteria").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_unauthenticated_requests_are_refused_before_counting(
    client: TestClient, settings: Settings
) -> None:
    with TestClient(create_app(limited(settings, "1/minute"))) as app:
        statuses = [app.get("/criteria").status_code for _ in range(3)]

    assert statuses == [401, 401, 401]


@pytest.mark.parametrize("storage", ["memory://", "async+memory://"])
def test_a_process_counts_alone_in_memory(
    client: TestClient, settings: Settings, storage: str
) -> None:
    key = new_key(client, "auditor")

    with TestClient(create_app(limited(settings, "2/minute", storage)), headers=as_key(key)) as app:
        statuses = [app.get("/criteria").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_replicas_share_a_limit_through_redis(client: TestClient, settings: Settings) -> None:
    key = new_key(client, "auditor")  # a new key: a budget of its own in Redis
    shared = limited(settings, "3/minute", REDIS)

    with (
        TestClient(create_app(shared), headers=as_key(key)) as one,
        TestClient(create_app(shared), headers=as_key(key)) as two,
    ):
        statuses = [replica.get("/criteria").status_code for replica in (one, two, one, two)]

    assert statuses == [200, 200, 200, 429]


def test_an_unreachable_counter_store_does_not_refuse_requests(
    client: TestClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    down = limited(settings, "1/minute", "async+redis://127.0.0.1:1")

    with TestClient(create_app(down), headers=client.headers) as app:
        statuses = [app.get("/criteria").status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert any("rate limit not applied" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("update", "problem"),
    [
        ({"rate_limit": "lots"}, "couldn't parse rate limit"),
        ({"rate_limit_storage": "redis://127.0.0.1:6379"}, "async storage"),
        ({"rate_limit_storage": f"async+nope://{uuid.uuid4()}"}, "unknown storage scheme"),
    ],
)
def test_bad_rate_limit_settings_are_refused(update: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Settings(**update)  # type: ignore[arg-type]
