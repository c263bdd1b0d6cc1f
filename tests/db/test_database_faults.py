"""Database faults: a full pool and dropped connections are 503s that heal by themselves."""

import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from app.main import create_app
from app.runtime import runtime_of
from app.settings import Settings
from tests.conftest import local_client
from tests.db.servers import fresh_postgres, running_server


@pytest.fixture(scope="module")
def postgres_url() -> str:
    return fresh_postgres("reflexe_faults")


@pytest.fixture
def small_pool_client(postgres_url: str) -> Iterator[TestClient]:
    settings = Settings(
        dev_mode=True,
        database_url=postgres_url,
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout=0.5,
    )
    with local_client(create_app(settings)) as client:
        yield client


def test_an_exhausted_pool_is_a_503_within_the_pool_timeout(small_pool_client: TestClient) -> None:
    engine: Engine = runtime_of(small_pool_client.app).engine  # type: ignore[arg-type]
    held = engine.connect()  # the only connection of the pool
    try:
        started = time.monotonic()
        response = small_pool_client.get("/evaluations")
        waited = time.monotonic() - started
    finally:
        held.close()

    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert waited < 3
    assert small_pool_client.get("/evaluations").status_code == 200


def test_connections_killed_by_the_server_are_replaced(
    small_pool_client: TestClient, postgres_url: str
) -> None:
    assert small_pool_client.post("/evaluate", json={}).status_code == 201
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    admin.dispose()

    statuses = [small_pool_client.post("/evaluate", json={}).status_code for _ in range(3)]
    listed = small_pool_client.get("/evaluations")

    assert statuses[-1] == 201
    assert set(statuses) <= {201, 503}
    assert listed.status_code == 200
    assert small_pool_client.get("/readyz").status_code == 200


def test_every_read_gets_an_answer_while_connections_are_killed(postgres_url: str) -> None:
    """A connection killed under a read is a 503 or a 200, never a dropped connection."""
    with running_server(postgres_url) as base:
        for _ in range(20):
            assert httpx.post(f"{base}/evaluate", json={}).status_code == 201
        stop = threading.Event()
        statuses: Counter[int | str] = Counter()

        def kill_backends() -> None:
            admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
            while not stop.is_set():
                with admin.connect() as connection:
                    connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    )
                time.sleep(0.01)
            admin.dispose()

        def read() -> None:
            with httpx.Client(base_url=base) as client:
                while not stop.is_set():
                    try:
                        statuses[client.get("/evaluations", params={"limit": 20}).status_code] += 1
                    except httpx.TransportError as exc:
                        statuses[exc.__class__.__name__] += 1

        threads = [threading.Thread(target=kill_backends)]
        threads += [threading.Thread(target=read) for _ in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(4)
        stop.set()
        for thread in threads:
            thread.join()

    assert set(statuses) <= {200, 503}, statuses
    assert statuses[200] > 0
