"""Fixtures of the database-level tests: an engine on the migrated test database."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from app.db import create_db_engine
from app.migrate import prepare_database
from app.settings import Settings
from tests.conftest import empty_database


@pytest.fixture
def engine(database_url: str, admin_key: str) -> Iterator[Engine]:
    """An engine on the migrated, seeded test database, emptied afterwards."""
    settings = Settings(database_url=database_url)
    prepare_database(settings)
    engine = create_db_engine(settings)
    yield engine
    empty_database(engine, admin_key)
    engine.dispose()
