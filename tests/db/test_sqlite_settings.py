"""How the service sets up SQLite: write-ahead log, and commits durable by default."""

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from app.db import create_db_engine
from app.settings import Settings

# PRAGMA synchronous reads back as a number: 1 is NORMAL, 2 is FULL.
MODES = {"NORMAL": 1, "FULL": 2}


def pragmas(settings: Settings) -> tuple[str, int]:
    engine = create_db_engine(settings)
    with engine.connect() as connection:
        journal = connection.execute(text("PRAGMA journal_mode")).scalar_one()
        synchronous = connection.execute(text("PRAGMA synchronous")).scalar_one()
    engine.dispose()
    return journal, synchronous


def test_commits_survive_a_power_cut_by_default(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/r.db")
    assert pragmas(settings) == ("wal", MODES["FULL"])


@pytest.mark.parametrize("mode", ["NORMAL", "FULL"])
def test_the_sync_mode_is_a_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("REFLEXE_SQLITE_SYNCHRONOUS", mode)
    settings = Settings(database_url=f"sqlite:///{tmp_path}/r.db")
    assert pragmas(settings) == ("wal", MODES[mode])


@pytest.mark.parametrize("mode", ["OFF", "EXTRA", "full; DROP TABLE evaluation", ""])
def test_other_sync_modes_are_refused(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("REFLEXE_SQLITE_SYNCHRONOUS", mode)
    with pytest.raises(ValidationError, match="sqlite_synchronous"):
        Settings()
