"""Schema migrations with Alembic, safe when several processes start at once."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from app.db import begin_immediately

MIGRATIONS = Path(__file__).parent / "migrations"

# Any constant works: it names the lock that serialises migrations on PostgreSQL.
_PG_LOCK_ID = 0x5EF1E8E


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already.

    PostgreSQL: a transaction-scoped advisory lock lets one process migrate while the
    others wait, then find nothing left to do. SQLite: the migration runs inside
    `BEGIN IMMEDIATE`, which takes the database's write lock for the same effect.
    """
    config = alembic_config()
    with begin_immediately(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_ID})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
