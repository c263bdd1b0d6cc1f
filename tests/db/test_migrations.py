"""Migrations and seeding are safe when several processes start at once."""

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.migrate import head_revision
from tests.db.servers import fresh_postgres

PROCESSES = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/race.db"
    return fresh_postgres("reflexe_migration_race")


def test_concurrent_migrations_leave_one_schema_and_one_seed(fresh_url: str) -> None:
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "app", "migrate"],
            env={"REFLEXE_DATABASE_URL": fresh_url, "PATH": ""},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(PROCESSES)
    ]
    outputs = [run.communicate(timeout=120)[0].decode() for run in runs]

    assert [run.returncode for run in runs] == [0] * PROCESSES, outputs
    engine = create_engine(fresh_url)
    with engine.connect() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        sets = connection.execute(text("SELECT slug, current_version FROM criteria_set")).all()
        versions = connection.execute(text("SELECT count(*) FROM criteria_version")).scalar()
    engine.dispose()
    assert revision == head_revision()
    assert [tuple(row) for row in sets] == [("pipu", 1)]
    assert versions == 1
