"""The migrations build exactly the schema the models declare, on both databases."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import app.auth.models
import app.changes.models
import app.criteria.models
import app.evaluations.models
import app.idempotency.models
import app.reviews.models
import app.subjects.models
import app.webhooks.models  # noqa: F401  (every table, as app/migrations/env.py registers them)
from app.migrate import prepare_database
from app.settings import Settings
from tests.db.servers import fresh_postgres


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migrated_schema_matches_the_models(backend: str, tmp_path: Path) -> None:
    url = (
        f"sqlite:///{tmp_path}/schema.db"
        if backend == "sqlite"
        else fresh_postgres("reflexe_schema")
    )
    prepare_database(Settings(database_url=url))
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()

    assert differences == []
