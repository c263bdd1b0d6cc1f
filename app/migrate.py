"""Schema migrations with Alembic, safe when several processes start at once."""

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from app.criteria import service as criteria_service
from app.db import begin_immediately, create_db_engine
from app.privacy import Privacy
from app.settings import Settings

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


@dataclass(frozen=True)
class Upgrade:
    """What `upgrade` did: the schema's revision before and after (None: no schema)."""

    before: str | None
    after: str | None

    @property
    def has_migrated(self) -> bool:
        return self.before != self.after


def upgrade(engine: Engine) -> Upgrade:
    """Bring the schema to the newest revision; a no-op when it is there already.

    PostgreSQL: a transaction-scoped advisory lock lets one process migrate while the
    others wait, then find nothing left to do. SQLite: the migration runs inside
    `BEGIN IMMEDIATE`, which takes the database's write lock for the same effect.
    """
    config = alembic_config()
    with begin_immediately(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_ID})")
        before = current_revision(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return Upgrade(before=before, after=current_revision(connection))


@dataclass(frozen=True)
class PreparedDatabase:
    """What prepare_database did: the migration, and the default set if it created it."""

    upgrade: Upgrade
    seeded_set: str | None


def prepare_database(settings: Settings) -> PreparedDatabase:
    """Migrate the schema and seed the default criteria set, once per database."""
    engine = create_db_engine(settings)
    try:
        upgraded = upgrade(engine)
        with Session(engine) as session:
            seeded = criteria_service.ensure_default_set(session, Privacy(settings.privacy_default))
    finally:
        engine.dispose()
    return PreparedDatabase(upgrade=upgraded, seeded_set=seeded.slug if seeded else None)
