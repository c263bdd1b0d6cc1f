"""A real PostgreSQL outage: 503s while it lasts, recovery without a restart, nothing lost."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.main import create_app
from app.settings import Settings
from tests.conftest import SECRET_KEY, create_admin_key
from tests.db.servers import PostgresCluster, private_postgres
from tests.factories import make_criteria_set

POOL_TIMEOUT = 1.0
CONNECT_TIMEOUT = 2.0  # what the app derives from POOL_TIMEOUT: libpq's minimum
# A failing request may wait for a pooled connection, then fail to connect.
SLOWEST_REFUSAL = POOL_TIMEOUT + 1.0
SLOWEST_TIMEOUT = POOL_TIMEOUT + CONNECT_TIMEOUT + 1.0
HANG = 30.0  # past this a request is reported as hung instead of blocking the run
DECISION = {"answers": {"pertinence": True, "interaction": True}}


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with private_postgres() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def outage_settings(cluster: PostgresCluster) -> Settings:
    # A pool of two: a connection leaked during the outage would exhaust it afterwards.
    return Settings(
        database_url=cluster.url,
        db_pool_size=2,
        db_max_overflow=0,
        db_pool_timeout=POOL_TIMEOUT,
        secret_key=SECRET_KEY,
        rate_limit="",
    )


@pytest.fixture(scope="module")
def outage_key(outage_settings: Settings) -> str:
    """An admin key in the private cluster: requests go through the real key check."""
    return create_admin_key(outage_settings, "outage")


@pytest.fixture
def outage_client(outage_settings: Settings, outage_key: str) -> Iterator[TestClient]:
    app = create_app(outage_settings)
    headers = {"Authorization": f"Bearer {outage_key}"}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as client:
        yield client


def send(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[httpx.Response, float]:
    """Every request of these tests, with how long it took (headers such as auth go here)."""
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        response = pool.submit(client.request, method, path, json=body).result(timeout=HANG)
    except FutureTimeout:
        pytest.fail(f"{method} {path} hung for {HANG:.0f} s")
    finally:
        pool.shutdown(wait=False)
    return response, time.monotonic() - started


def checked_requests(slug: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """A stored decision, a read of the log, a criteria write, and readiness."""
    return [
        ("POST", "/evaluate", DECISION),
        ("GET", "/evaluations", None),
        ("POST", "/criteria", make_criteria_set(slug)),
        ("GET", "/readyz", None),
    ]


def assert_unavailable(response: httpx.Response, took: float, limit: float) -> None:
    request = f"{response.request.method} {response.request.url.path}"
    assert response.status_code == 503, f"{request}: {response.text}"
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["status"] == 503
    assert took < limit, f"{request} took {took:.2f} s"


def assert_recovered(client: TestClient, slug: str) -> set[str]:
    """The same requests succeed at the first try; returns the id of the decision stored."""
    stored = set()
    for method, path, body in checked_requests(slug):
        response, _ = send(client, method, path, body)
        expected = 201 if method == "POST" else 200
        assert response.status_code == expected, f"{method} {path}: {response.text}"
        if path == "/evaluate":
            stored.add(response.json()["id"])
    return stored


def disconnect_clients(cluster: PostgresCluster) -> None:
    admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        )
    admin.dispose()


def stored_ids(client: TestClient) -> set[str]:
    response, _ = send(client, "GET", "/evaluations?limit=100")
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def test_a_database_outage_is_503s_then_heals_without_a_restart(
    outage_client: TestClient, cluster: PostgresCluster
) -> None:
    acknowledged = set()
    for _ in range(5):
        response, _ = send(outage_client, "POST", "/evaluate", DECISION)
        assert response.status_code == 201, response.text
        acknowledged.add(response.json()["id"])
    response, _ = send(outage_client, "POST", "/criteria", make_criteria_set("before"))
    assert response.status_code == 201, response.text

    with cluster.stopped():
        # Twice round, more requests than the pool holds: each failure gives its connection back.
        for method, path, body in checked_requests("down") * 2:
            response, took = send(outage_client, method, path, body)
            assert_unavailable(response, took, SLOWEST_REFUSAL)

    acknowledged |= assert_recovered(outage_client, "down")
    assert stored_ids(outage_client) == acknowledged
    response, _ = send(outage_client, "GET", "/criteria")
    assert {"before", "down"} <= {item["slug"] for item in response.json()["items"]}


def test_a_restart_between_requests_goes_unnoticed(
    outage_client: TestClient, cluster: PostgresCluster
) -> None:
    """Pooled connections to the old server are replaced before use, not failed on."""
    before = stored_ids(outage_client)  # the pool now holds connections

    with cluster.stopped():
        pass

    stored = assert_recovered(outage_client, "restarted")
    assert stored_ids(outage_client) == before | stored


def test_a_server_that_does_not_answer_is_a_503_within_the_timeouts(
    outage_client: TestClient, cluster: PostgresCluster
) -> None:
    """Connections that are accepted but never answered must not hold requests."""
    before = stored_ids(outage_client)
    disconnect_clients(cluster)  # so every request needs a new connection

    with cluster.paused(), ThreadPoolExecutor(max_workers=4) as pool:
        # Together: the pool's two connections time out connecting, the others waiting.
        futures = [pool.submit(send, outage_client, *args) for args in checked_requests("hung")]
        for future in futures:
            assert_unavailable(*future.result(), SLOWEST_TIMEOUT)

    stored = assert_recovered(outage_client, "hung")
    assert stored_ids(outage_client) == before | stored
