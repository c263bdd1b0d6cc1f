"""The `reflexe` command line."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from app.auth import service as auth_service
from app.cli import cli
from app.migrate import alembic_config, head_revision
from tests.conftest import SECRET_KEY
from tests.db.servers import free_port

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

    head = head_revision()
    assert first.exit_code == 0, first.output
    assert first.stdout == (
        f"database migrated to the newest revision ({head}); "
        "created the default criteria set 'pipu'\n"
    )
    assert second.exit_code == 0, second.output
    assert second.stdout == f"database already up to date (revision {head})\n"
    with create_engine(url).connect() as connection:
        slugs = connection.execute(text("SELECT slug, is_default FROM criteria_set")).all()
    assert [tuple(row) for row in slugs] == [("pipu", True)]


def test_migrate_says_from_which_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    config = alembic_config()
    [base] = ScriptDirectory.from_config(config).get_bases()
    with create_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, base)
    monkeypatch.setenv("REFLEXE_DATABASE_URL", url)
    from app.settings import get_settings

    get_settings.cache_clear()
    try:
        result = runner.invoke(cli, ["migrate"])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"database migrated from revision {base} to the newest ({head_revision()})"
    )


def test_openapi_command_writes_the_document(tmp_path: Path) -> None:
    target = tmp_path / "out" / "openapi.json"

    result = runner.invoke(cli, ["openapi", "--output", str(target)])

    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["info"]["title"] == "Reflexe"


def test_no_arguments_prints_help() -> None:
    result = runner.invoke(cli, [])

    assert "serve" in result.output
    assert "migrate" in result.output


COMMANDS = [[], ["serve"], ["migrate"], ["openapi"], ["keys"], ["keys", "create"]]
COMMANDS += [["keys", "list"], ["keys", "revoke"], ["export"], ["check"], ["test"], ["push"]]
COMMANDS += [["pull"], ["diff"], ["deliver"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "reflexe")
def test_h_is_help(command: list[str]) -> None:
    short = runner.invoke(cli, [*command, "-h"])
    long = runner.invoke(cli, [*command, "--help"])

    assert short.exit_code == 0, short.output
    assert short.output.startswith("Usage: ")
    assert short.output == long.output
    assert "-h, --help" in short.output


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "reflexe")
def test_help_shows_no_value_for_a_flag(command: list[str]) -> None:
    output = runner.invoke(cli, [*command, "--help"]).output

    assert "bool" not in output.lower()
    if command == ["serve"]:
        assert re.search(r"^  --dev {2,}Local development mode", output, re.MULTILINE), output
        assert re.search(r"^  --port <int> {2,}Port", output, re.MULTILINE), output


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite database and a secret key for the commands; the database URL."""
    from app.settings import get_settings

    url = f"sqlite:///{tmp_path}/keys.db"
    monkeypatch.setenv("REFLEXE_DATABASE_URL", url)
    monkeypatch.setenv("REFLEXE_SECRET_KEY", SECRET_KEY)
    # `serve` sets these for uvicorn's workers; set here, monkeypatch restores them after.
    monkeypatch.setenv("REFLEXE_DEV_MODE", "false")
    monkeypatch.setenv("REFLEXE_MIGRATE_ON_START", "true")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_keys_create_prints_the_key_once_and_stores_its_hash(cli_env: str) -> None:
    created = runner.invoke(cli, ["keys", "create", "--role", "evaluator", "--name", "crm"])

    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert auth_service.key_id_of(key) is not None
    assert "shown once" in created.stderr
    assert "database migrated to the newest revision" in created.stderr  # a fresh database
    with create_engine(cli_env).connect() as connection:
        row = connection.execute(text("SELECT id, name, role, hash FROM api_key")).one()
    assert (row.id, row.name, row.role) == (key[4:16], "crm", "evaluator")
    assert auth_service.matches(SECRET_KEY.encode(), key, row.hash)


def test_keys_list_and_revoke(cli_env: str) -> None:
    key = runner.invoke(cli, ["keys", "create", "--role", "admin", "--name", "ops"]).stdout
    key_id = key.strip()[4:16]

    listed = runner.invoke(cli, ["keys", "list"])
    revoked = runner.invoke(cli, ["keys", "revoke", key_id])
    after = runner.invoke(cli, ["keys", "list"])
    unknown = runner.invoke(cli, ["keys", "revoke", "0123456789ab"])

    assert listed.exit_code == 0
    row = next(line for line in listed.stdout.splitlines() if line.startswith(key_id))
    assert row.split()[1] == "admin"
    assert row.endswith("ops")
    assert key.strip() not in listed.stdout
    assert revoked.exit_code == 0, revoked.output  # the last admin key too, from the CLI
    assert f"revoked key {key_id}" in revoked.stdout
    line = next(line for line in after.stdout.splitlines() if line.startswith(key_id))
    assert line.split()[4] != "-"  # a revocation date
    assert unknown.exit_code == 1
    assert "No API key '0123456789ab'" in unknown.stderr


def test_keys_create_needs_a_secret_key(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import get_settings

    monkeypatch.delenv("REFLEXE_SECRET_KEY")
    get_settings.cache_clear()

    result = runner.invoke(cli, ["keys", "create", "--role", "admin", "--name", "ops"])

    assert result.exit_code == 1
    assert "REFLEXE_SECRET_KEY is not set" in result.stderr


def test_keys_create_needs_a_secret_key_in_development_mode_too(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A key hashed without the real secret would be listed as active and refused forever.
    from app.settings import get_settings

    monkeypatch.delenv("REFLEXE_SECRET_KEY")
    monkeypatch.setenv("REFLEXE_DEV_MODE", "true")
    get_settings.cache_clear()

    result = runner.invoke(cli, ["keys", "create", "--role", "admin", "--name", "ops"])
    listed = runner.invoke(cli, ["keys", "list"])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: REFLEXE_SECRET_KEY is not set")
    assert "ops" not in listed.stdout


@pytest.mark.parametrize(
    ("role", "name", "message"),
    [("root", "x", "'root' is not one of"), ("admin", "", "invalid key")],
)
def test_keys_create_validates_its_options(
    cli_env: str, role: str, name: str, message: str
) -> None:
    result = runner.invoke(cli, ["keys", "create", "--role", role, "--name", name])

    assert result.exit_code != 0
    assert message in result.output


def test_serve_refuses_dev_mode_beyond_loopback(cli_env: str) -> None:
    result = runner.invoke(cli, ["serve", "--dev", "--host", "0.0.0.0"])

    assert result.exit_code == 1
    assert "development mode serves only on loopback" in result.stderr


def test_serve_refuses_to_start_without_any_key(cli_env: str) -> None:
    result = runner.invoke(cli, ["serve", "--port", "1"])

    assert result.exit_code == 1
    assert "No API key is configured" in result.stderr


BAD_SETTINGS = [
    ("REFLEXE_SECRET_KEY", "short", "REFLEXE_SECRET_KEY: must hold at least 32 characters"),
    ("REFLEXE_RATE_LIMIT", "nonsense", "REFLEXE_RATE_LIMIT: couldn't parse rate limit string"),
    ("REFLEXE_PORT", "x", "REFLEXE_PORT: input should be a valid integer"),
    ("REFLEXE_CORS_ORIGINS", "https://a.example", "REFLEXE_CORS_ORIGINS: must be JSON"),
]


@pytest.mark.parametrize(
    "command",
    [
        ["serve"],
        ["migrate"],
        ["keys", "create", "--role", "admin", "--name", "ops"],
        ["keys", "list"],
        ["keys", "revoke", "0123456789ab"],
        ["openapi", "--output", "{tmp}/openapi.json"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
@pytest.mark.parametrize(
    ("variable", "value", "message"), BAD_SETTINGS, ids=[bad[0] for bad in BAD_SETTINGS]
)
def test_a_bad_setting_is_one_line_naming_its_variable(
    cli_env: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: list[str],
    variable: str,
    value: str,
    message: str,
) -> None:
    from app.settings import get_settings

    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()

    result = runner.invoke(cli, [part.format(tmp=tmp_path) for part in command])

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {message}")
    assert result.stdout == ""
    if variable == "REFLEXE_SECRET_KEY":
        assert value not in line


def test_each_bad_setting_has_its_line(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import get_settings

    monkeypatch.setenv("REFLEXE_PORT", "0")
    monkeypatch.setenv("REFLEXE_LOG_LEVEL", "loud")
    get_settings.cache_clear()

    result = runner.invoke(cli, ["migrate"])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: REFLEXE_PORT: input should be greater than or equal to 1",
        "error: REFLEXE_LOG_LEVEL: input should be 'critical', 'error', 'warning', 'info' or "
        "'debug'",
    ]


@pytest.mark.parametrize("command", [["migrate"], ["purge", "--dry-run"], ["keys", "list"]])
@pytest.mark.parametrize(
    ("database", "reason"),
    [
        ("bogus://somewhere/db", "Can't load plugin: sqlalchemy.dialects:bogus"),
        ("sqlite:///{tmp}/not-a-database", "file is not a database"),
        ("postgresql+psycopg://reflexe:hunter2@127.0.0.1:{port}/reflexe", "Connection refused"),
        ("mysql://reflexe:hunter2@127.0.0.1/reflexe", "its driver is not installed"),
    ],
    ids=["unknown dialect", "not sqlite", "no server", "no driver"],
)
def test_a_database_that_cannot_be_used_is_one_line_without_its_url(
    cli_env: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: list[str],
    database: str,
    reason: str,
) -> None:
    from app.settings import get_settings

    (tmp_path / "not-a-database").write_text("hello, not SQLite\n" * 100)
    url = database.format(tmp=tmp_path, port=free_port())
    monkeypatch.setenv("REFLEXE_DATABASE_URL", url)
    get_settings.cache_clear()

    result = runner.invoke(cli, command)

    assert result.exit_code == 1, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: the database REFLEXE_DATABASE_URL names cannot be used: ")
    assert reason in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


@pytest.mark.parametrize("command", ["show", "erase"])
@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("\udcff\udcfeundecodable", "a subject's ref must be valid UTF-8"),
        ("before\x00after", "a subject's ref must not contain the character U+0000"),
        ("", "a subject's ref has 1 to 2048 characters"),
    ],
    ids=["not utf-8", "nul", "empty"],
)
def test_a_ref_the_api_would_refuse_is_refused_before_the_database_is_touched(
    cli_env: str, command: str, ref: str, message: str
) -> None:
    result = runner.invoke(cli, ["subjects", command, ref])

    assert result.exit_code == 1, result.output
    assert result.stderr == f"error: {message}\n"
    assert not Path(cli_env.removeprefix("sqlite:///")).exists()


def test_an_optional_variable_set_to_nothing_is_unset(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.settings import get_settings

    for variable in ("REFLEXE_RETENTION_DAYS", "REFLEXE_METRICS_TOKEN", "REFLEXE_PUBLIC_URL"):
        monkeypatch.setenv(variable, "")
    get_settings.cache_clear()

    migrated = runner.invoke(cli, ["migrate"])
    result = runner.invoke(cli, ["purge", "--dry-run"])

    assert migrated.exit_code == 0, migrated.output
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["decisions"] == 0
    settings = get_settings()
    assert (settings.retention_days, settings.metrics_token, settings.public_url) == (None,) * 3


@pytest.mark.parametrize(
    "command",
    [
        ["subjects", "show", "https://example.org/in/ada"],
        ["subjects", "erase", "https://example.org/in/ada"],
        ["purge"],
        ["purge", "--dry-run"],
        ["keys", "list"],
        ["keys", "revoke", "0123456789ab"],
    ],
)
def test_a_command_on_what_is_stored_needs_the_database_to_exist(
    cli_env: str, command: list[str]
) -> None:
    path = Path(cli_env.removeprefix("sqlite:///"))

    result = runner.invoke(cli, command)

    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"error: no database at {path} (REFLEXE_DATABASE_URL): check the path, or create the "
        "database with `reflexe migrate`\n"
    )
    assert not path.exists()
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    again = runner.invoke(cli, command)
    unknown_key = command[:2] == ["keys", "revoke"]
    assert again.exit_code == (1 if unknown_key else 0), again.output
    assert "no database" not in again.stderr
