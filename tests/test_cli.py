"""The `reflexe` command line."""

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from app.cli import cli

runner = CliRunner()


def test_migrate_creates_the_schema_and_seeds_pipu_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("REFLEXE_DATABASE_URL", url)
    from app.settings import get_settings

    get_settings.cache_clear()
    try:
        first = runner.invoke(cli, ["migrate"])
        second = runner.invoke(cli, ["migrate"])
    finally:
        get_settings.cache_clear()

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "database is up to date" in second.output
    with create_engine(url).connect() as connection:
        slugs = connection.execute(text("SELECT slug, is_default FROM criteria_set")).all()
    assert [tuple(row) for row in slugs] == [("pipu", True)]


def test_openapi_command_writes_the_document(tmp_path: Path) -> None:
    target = tmp_path / "out" / "openapi.json"

    result = runner.invoke(cli, ["openapi", "--output", str(target)])

    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["info"]["title"] == "Reflexe"


def test_no_arguments_prints_help() -> None:
    result = runner.invoke(cli, [])

    assert "serve" in result.output
    assert "migrate" in result.output
