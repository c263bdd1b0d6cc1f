"""Alembic environment: runs on the connection that `app.migrate.upgrade` passes in."""

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlmodel import SQLModel

import app.auth.models
import app.changes.models
import app.criteria.models
import app.evaluations.models
import app.idempotency.models
import app.reviews.models
import app.subjects.models
import app.webhooks.models  # noqa: F401  (register the tables)
from app.settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:  # the `alembic` command line, e.g. to autogenerate a revision
    engine = create_engine(get_settings().database_url)
    with engine.begin() as connection:
        run_with(connection)
