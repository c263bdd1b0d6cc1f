"""Fixtures: an app per test on SQLite or PostgreSQL, each test starting from a clean database."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session

from app.auth import service as auth_service
from app.auth.models import ApiKeyCreate, Role
from app.main import create_app
from app.migrate import prepare_database
from app.runtime import runtime_of
from app.settings import Settings

POSTGRES_URL = os.environ.get(
    "REFLEXE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TABLES = (
    "removal",
    "lease",
    "webhook_attempt",
    "webhook_delivery",
    "webhook_event",
    "webhook_subscription",
    "impact_job",
    "criteria_pending_case",
    "review_queue",
    "verdict_leaf",
    "verdict_criterion",
    "verdict",
    "idempotency_key",
    "evaluation",
    "criteria_version",
    "criteria_set",
)
SECRET_KEY = "a-test-secret-that-is-long-enough-for-hmac"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One database per backend for the whole run, starting empty."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'reflexe.db'}"
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return POSTGRES_URL


@pytest.fixture(scope="session")
def admin_key(database_url: str) -> str:
    """An admin API key that every test's database keeps; the client fixture sends it."""
    return create_admin_key(Settings(database_url=database_url, secret_key=SECRET_KEY), "tests")


def create_admin_key(settings: Settings, name: str) -> str:
    """Migrate the database of `settings` and create an admin key in it, as the CLI would."""
    prepare_database(settings)
    engine = create_engine(settings.database_url)
    with Session(engine) as session:
        created = auth_service.create_key(
            session, SECRET_KEY.encode(), ApiKeyCreate(name=name, role=Role.admin)
        )
    engine.dispose()
    return created.key


@pytest.fixture
def settings(database_url: str, admin_key: str) -> Settings:
    """The tests' settings: a secret for API keys, no rate limit unless a test sets one."""
    return Settings(
        database_url=database_url,
        max_body_bytes=64 * 1024,
        secret_key=SECRET_KEY,
        rate_limit="",
    )


@pytest.fixture
def client(settings: Settings, admin_key: str) -> Iterator[TestClient]:
    """The app, started (migrated and seeded), called with the admin key; emptied after."""
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {admin_key}"}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as test_client:
        yield test_client
    # Once the app has stopped: its delivery worker may still be settling a batch.
    empty_database(runtime_of(app).engine, admin_key)


@contextmanager
def serving(settings: Settings, admin_key: str, **tuned: Any) -> Iterator[TestClient]:
    """The app with some settings changed, called with the admin key; emptied after."""
    app = create_app(settings.model_copy(update=tuned))
    headers = {"Authorization": f"Bearer {admin_key}"}
    try:
        with TestClient(app, raise_server_exceptions=False, headers=headers) as test_client:
            yield test_client
    finally:
        # Once the app has stopped: its delivery worker may still be settling a batch.
        empty_database(runtime_of(app).engine, admin_key)


def local_client(app: FastAPI) -> TestClient:
    """A client calling from loopback without a key: the developer of development mode."""
    return TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000))


def empty_database(engine: Engine, admin_key: str) -> None:
    """Delete every row but the admin key, so the next test starts from a clean database."""
    keep = auth_service.key_id_of(admin_key)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text("DELETE FROM api_key WHERE id != :keep"), {"keep": keep})
        connection.execute(text("UPDATE api_key SET revoked_at = NULL"))


@pytest.fixture
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))
