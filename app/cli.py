"""The `reflexe` command line: serve, migrate, manage API keys, export the OpenAPI document,
work on criteria sets as files (export, check, test, push, pull, diff), evaluate a file
of invitations (evaluate), and answer a person's access and erasure requests (subjects show,
subjects erase) and purge what is past its retention (purge) on the local database.

Exit codes of the file commands: 0 done, 1 an invalid file or an error from the server
(`evaluate`: a row in error), 2 failing test cases, 3 a server that cannot be reached.
"""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import uvicorn
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlmodel import Session
from typer.core import TyperGroup

from app import filecommands, setcommands
from app.auth import service as auth_service
from app.auth.models import ApiKeyCreate, Role
from app.criteria import service as criteria_service
from app.db import begin_immediately, create_db_engine
from app.errors import ReflexeError
from app.jsonvalues import NUL_MESSAGE
from app.migrate import PreparedDatabase, prepare_database
from app.monitoring.logs import log_config
from app.monitoring.multiproc import metrics_directory
from app.privacy import SubjectKeys
from app.setcommands import FormatOption, SlugArgument, VersionOption
from app.setfiles import FileFormat, export_text
from app.settings import InvalidSettings, Settings, get_settings
from app.subjects import retention
from app.subjects import service as subjects_service
from app.subjects.models import RemovalSource


class Commands(TyperGroup):
    """The command group: a bad setting, or a database that cannot be used, ends any
    command with a line per problem and exit code 1, not a traceback."""

    def invoke(self, ctx: Any) -> Any:  # Any: the Context class moved with Typer's versions
        try:
            return super().invoke(ctx)
        except InvalidSettings as exc:
            for problem in exc.problems:
                typer.echo(f"error: {problem}", err=True)
            raise typer.Exit(code=1) from None
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] == "app":
                raise  # a defect of this package, not of the settings
            # A URL whose dialect's driver is not installed (mysql:// needs MySQLdb).
            typer.echo(
                "error: the database REFLEXE_DATABASE_URL names cannot be used: its driver "
                f"is not installed ({exc})",
                err=True,
            )
            raise typer.Exit(code=1) from None
        except (ArgumentError, DBAPIError) as exc:
            # A URL no dialect reads, a server that refuses, a file that is not SQLite's.
            # The URL itself is not repeated: it may hold a password.
            reason = str(exc.orig if isinstance(exc, DBAPIError) else exc).strip()
            typer.echo(
                f"error: the database REFLEXE_DATABASE_URL names cannot be used: {reason}",
                err=True,
            )
            raise typer.Exit(code=1) from None


# `-h` too, on every command. Plain help (rich_markup_mode=None) rather than Rich's, whose
# table gives every option a type, flags included (`--dev <bool>`, as if it took a value).
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

cli = typer.Typer(
    cls=Commands,
    help="Reflexe: decide on connection invitations.",
    no_args_is_help=True,
    context_settings=HELP_OPTIONS,
    rich_markup_mode=None,
)


def _group(help: str) -> typer.Typer:
    return typer.Typer(
        help=help, no_args_is_help=True, context_settings=HELP_OPTIONS, rich_markup_mode=None
    )


keys = _group("Create, list and revoke API keys.")
cli.add_typer(keys, name="keys")
subjects = _group("A person's records in the local database [REFLEXE_DATABASE_URL]: show, erase.")
cli.add_typer(subjects, name="subjects")
cli.add_typer(setcommands.commands)  # no name: check, test, push, pull, diff at the top
cli.add_typer(filecommands.commands)  # evaluate


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [REFLEXE_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [REFLEXE_PORT].")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev",
            help="Local development mode [REFLEXE_DEV_MODE]: no key needed from this "
            "machine, loopback only.",
        ),
    ] = False,
) -> None:
    """Migrate the database, seed the default set, and serve the API with uvicorn."""
    from app.runtime import StartupRefused, check_security

    if dev:
        os.environ["REFLEXE_DEV_MODE"] = "true"  # for uvicorn's workers too
        get_settings.cache_clear()
    settings = get_settings()
    bind = host or settings.host
    if settings.dev_mode and not auth_service.is_loopback(bind):
        _fail(
            f"development mode serves only on loopback, not on {bind}: "
            "use --host 127.0.0.1, or API keys without development mode"
        )
    _report_changes(prepare_database(settings))
    engine = create_db_engine(settings)
    try:
        check_security(settings, engine, announce=False)  # each worker announces it
    except StartupRefused as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    # Done once here, so the workers uvicorn starts need not each migrate again.
    os.environ["REFLEXE_MIGRATE_ON_START"] = "false"
    # JSON logs: the service writes one access line per request itself (app.monitoring).
    is_json = settings.log_format == "json"
    logging: dict[str, Any] = {"log_config": log_config(settings.log_level)} if is_json else {}
    # Several workers keep their metrics in one fresh directory, summed at each scrape.
    with metrics_directory(workers):
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=bind,
            port=port or settings.port,
            workers=workers,
            log_level=settings.log_level,
            access_log=not is_json,
            # Bound a request's head whichever parser runs (app.server).
            http="app.server:BoundedHttpToolsProtocol",
            h11_max_incomplete_event_size=settings.max_header_bytes,
            **logging,
        )


@cli.command()
def deliver(
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve this process's metrics (GET /metrics, no token) on this port.",
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Where the metrics port listens.")
    ] = "127.0.0.1",
) -> None:
    """Send webhook deliveries and nothing else, until SIGTERM or Ctrl-C: beside API
    replicas started with REFLEXE_WEBHOOK_WORKERS=false. The database must be migrated."""
    import asyncio
    import logging.config

    from app.webhooks.standalone import deliver as run

    settings = get_settings()
    if settings.log_format == "json":
        logging.config.dictConfig(log_config(settings.log_level))
    else:
        logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s: %(message)s")
    asyncio.run(run(settings, metrics_port, metrics_host))


@keys.command("create")
def create_key(
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    name: Annotated[str, typer.Option(help="What the key is for, e.g. ci.")],
) -> None:
    """Create an API key and print it, once: only a keyed hash of it is stored."""
    settings = get_settings()
    secret = _secret(settings)  # before anything is written
    try:
        body = ApiKeyCreate(name=name, role=role)
    except ValueError as exc:
        _fail(f"invalid key: {exc}")
    with _session(settings) as session:
        created = auth_service.create_key(session, secret, body)
    typer.echo(
        f"created {created.role} key {created.id} ({created.name}); it is shown once:", err=True
    )
    typer.echo(created.key)


@keys.command("list")
def list_keys() -> None:
    """List the API keys (never the keys themselves)."""
    with _session(get_settings(), existing=True) as session:
        found = auth_service.list_keys(session)
    typer.echo(f"{'ID':<12}  {'ROLE':<9}  {'CREATED':<20}  {'REVOKED':<20}  NAME")
    for key in found:
        revoked = key.revoked_at.strftime("%Y-%m-%d %H:%M:%S") if key.revoked_at else "-"
        created = key.created_at.strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(f"{key.id:<12}  {key.role:<9}  {created:<20}  {revoked:<20}  {key.name}")


@keys.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(help="The key's id (`keys list`).")]) -> None:
    """Revoke an API key for good (even the last admin key: this runs on the database)."""
    with _session(get_settings(), existing=True) as session:
        try:
            revoked = auth_service.revoke_key(session, key_id, keep_an_admin=False)
        except ReflexeError as exc:
            _fail(exc.detail)
    typer.echo(f"revoked key {revoked.id} ({revoked.name})")


@cli.command()
def migrate() -> None:
    """Apply pending migrations and seed the default criteria set."""

    typer.echo(describe(prepare_database(get_settings())))


@cli.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the document.")] = Path(
        "openapi/openapi.json"
    ),
) -> None:
    """Write the OpenAPI document of the API."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_openapi())
    typer.echo(f"wrote {output}")


def render_openapi() -> str:
    from app.main import create_app

    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


# --- criteria sets as files (the other file commands: app.setcommands) ------------


@cli.command()
def export(
    slug: SlugArgument,
    version: VersionOption = None,
    file_format: FormatOption = FileFormat.YAML,
) -> None:
    """Print a set's file from the local database [REFLEXE_DATABASE_URL]."""
    with _session(get_settings()) as session:
        try:
            found = (
                criteria_service.get_set(session, slug)
                if version is None
                else criteria_service.get_version(session, slug, version)
            )
        except ReflexeError as exc:
            _fail(exc.detail)
    typer.echo(export_text(found, file_format), nl=False)


# --- a person's records, and retention ------------------------------------------

RefArgument = Annotated[str, typer.Argument(help="The subject's ref, as sent in subject.ref.")]


@subjects.command("show")
def show_subject(ref: RefArgument) -> None:
    """Print everything stored about a subject, as JSON (GET /subjects/{ref}, every page)."""
    ref = _ref(ref)
    settings = get_settings()
    keys = SubjectKeys.from_settings(settings)
    with _session(settings, existing=True) as session:
        found = subjects_service.show_subject(
            session, keys, ref, limit=100, cursor=None, chunk=settings.purge_chunk
        )
        decisions, cursor = list(found.decisions), found.next_cursor
        while cursor is not None:
            page = subjects_service.show_subject(
                session, keys, ref, limit=100, cursor=cursor, chunk=settings.purge_chunk
            )
            decisions, cursor = decisions + page.decisions, page.next_cursor
    whole = found.model_copy(update={"decisions": decisions})
    typer.echo(whole.model_dump_json(indent=2))


@subjects.command("erase")
def erase_subject(
    ref: RefArgument,
    vacuum: Annotated[
        bool, typer.Option("--vacuum", help="PostgreSQL: VACUUM the tables afterwards.")
    ] = False,
) -> None:
    """Erase everything stored about a subject and print what was removed, as JSON."""
    ref = _ref(ref)
    settings = get_settings()
    with _engine(settings, existing=True) as engine:
        done = subjects_service.erase_subject(
            engine,
            begin_immediately(engine),
            SubjectKeys.from_settings(settings),
            ref,
            source=RemovalSource.CLI,
            api_key_id=None,
            vacuum=vacuum,
            chunk=settings.purge_chunk,
        )
    typer.echo(done.model_dump_json(indent=2))


@cli.command()
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be removed; remove nothing.")
    ] = False,
) -> None:
    """Remove the decisions past their retention (a set's retention_days, else
    REFLEXE_RETENTION_DAYS) in chunks of REFLEXE_PURGE_CHUNK; print the counts as JSON."""
    settings = get_settings()
    with _engine(settings, existing=True) as engine:
        # A dry run only reads: it need not take SQLite's write lock.
        writing = engine if dry_run else begin_immediately(engine)
        report = retention.purge(writing, settings, dry_run=dry_run, source=RemovalSource.CLI)
    typer.echo(report.model_dump_json(indent=2))


def _ref(ref: str) -> str:
    """The ref as given, if the API would take it too (`subject.ref`)."""
    if not ref or len(ref) > 2048:
        _fail("a subject's ref has 1 to 2048 characters")
    if "\x00" in ref:
        _fail(f"a subject's ref {NUL_MESSAGE}")
    try:
        ref.encode()
    except UnicodeEncodeError:  # bytes the terminal's encoding does not decode
        _fail("a subject's ref must be valid UTF-8")
    return ref


@contextmanager
def _engine(settings: Settings, existing: bool = False) -> Iterator[Engine]:
    """The engine of the migrated database: the commands work before any `serve`. With
    `existing`, a SQLite file that is not there is an error, not a new empty database: a
    mistyped path must not answer an access request with "nothing stored"."""
    if existing:
        _check_exists(settings.database_url)
    _report_changes(prepare_database(settings))
    engine = create_db_engine(settings)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _session(settings: Settings, existing: bool = False) -> Iterator[Session]:
    """A session on the migrated database: the key commands work before any `serve`."""
    with (
        _engine(settings, existing) as engine,
        Session(engine, expire_on_commit=False) as session,
    ):
        yield session


def _check_exists(database_url: str) -> None:
    url = make_url(database_url)
    path = url.database or ""
    if url.get_backend_name() != "sqlite" or path in ("", ":memory:") or path.startswith("file:"):
        return  # a server's database that is not there fails to connect, and says so
    if not Path(path).is_file():
        _fail(
            f"no database at {path} (REFLEXE_DATABASE_URL): check the path, or create the "
            "database with `reflexe migrate`"
        )


def describe(prepared: PreparedDatabase) -> str:
    """What preparing the database did, in one line."""
    upgrade = prepared.upgrade
    if not upgrade.has_migrated:
        said = f"database already up to date (revision {upgrade.after})"
    elif upgrade.before is None:
        said = f"database migrated to the newest revision ({upgrade.after})"
    else:
        said = f"database migrated from revision {upgrade.before} to the newest ({upgrade.after})"
    if prepared.seeded_set is not None:
        said += f"; created the default criteria set '{prepared.seeded_set}'"
    return said


def _report_changes(prepared: PreparedDatabase) -> None:
    """Say on stderr what preparing the database changed, if anything."""
    if prepared.upgrade.has_migrated or prepared.seeded_set is not None:
        typer.echo(describe(prepared), err=True)


def _secret(settings: Settings) -> bytes:
    """REFLEXE_SECRET_KEY, which keys are hashed with: without it, no key is created."""
    try:
        secret = auth_service.secret_of(settings)
    except auth_service.MissingSecret as exc:
        _fail(str(exc))
    if secret is None:
        _fail(auth_service.NO_SECRET)
    return secret


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def main() -> None:
    cli()
