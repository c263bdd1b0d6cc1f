"""The command line's file commands: check, test, push, pull and diff criteria set files.

`app.cli` adds them to `reflexe` (and has `export`, which reads the local database). What
they check and run is `app.setfiles`; what they send, `app.setclient`. Exit codes: 0 done,
1 an invalid file or an error from the server, 2 failing test cases, 3 a server that
cannot be reached.
"""

import json
import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from app import setclient
from app.criteria.models import MAX_VERSION
from app.errors import FailingCases, FieldError, InvalidInput
from app.setfiles import (
    FileFormat,
    SetFile,
    UnreadableFile,
    check_set,
    describe_coverage,
    failure_errors,
    read_set,
    run_set_cases,
)

commands = typer.Typer(rich_markup_mode=None)

EXIT_INVALID, EXIT_FAILING, EXIT_UNREACHABLE = 1, 2, 3
SERVER_CODES = (
    " Exit codes: 0 done, 1 an invalid file or an error from the server, 2 failing test "
    "cases, 3 no answer from the server. The API key is read from REFLEXE_API_KEY (none: a "
    "server in development mode, from this machine)."
)

FilesArgument = Annotated[
    list[Path], typer.Argument(help="Set files: JSON if named *.json, YAML otherwise.")
]
FileArgument = Annotated[Path, typer.Argument(help="A set file: JSON if *.json, YAML otherwise.")]
SlugArgument = Annotated[str, typer.Argument(help="The set's slug, e.g. pipu.")]
VersionOption = Annotated[
    int | None,
    typer.Option("--version", min=1, max=MAX_VERSION, help="A version (default: the current one)."),
]
FormatOption = Annotated[FileFormat, typer.Option("--format", help="yaml or json.")]
UrlOption = Annotated[
    str, typer.Option("--url", envvar="REFLEXE_URL", help="The server [REFLEXE_URL].")
]


@commands.command()
def check(files: FilesArgument) -> None:
    """Validate set files offline as the API would: each problem as `FILE: field: message`.

    Exit codes: 0 every file is valid, 1 one is not (unreadable, not YAML or JSON, invalid
    content, failing test cases).
    """
    invalid = False
    for path in files:
        found = _read(path)
        try:
            if found is not None:
                check_set(found)
                typer.echo(f"{path}: ok ({found.slug}, {found.content_hash})")
        except InvalidInput as exc:
            _echo_errors(path, exc.errors())
            found = None
        invalid = invalid or found is None
    raise typer.Exit(EXIT_INVALID if invalid else 0)


@commands.command("test")
def run_tests(files: FilesArgument) -> None:
    """Check set files, then run their test cases offline: each failing case, expected and
    actual, and which statuses the cases reach per criterion.

    Exit codes: 0 every case passes, 1 an invalid file, 2 a failing case.
    """
    invalid = failing = False
    for path in files:
        found = _read(path)
        if found is None:
            invalid = True
            continue
        try:
            results = run_set_cases(found)
        except InvalidInput as exc:
            _echo_errors(path, exc.errors())
            invalid = True
            continue
        _echo_errors(path, failure_errors(results.failures))
        failing = failing or bool(results.failures)
        typer.echo(
            f"{path}: {len(results.runs)} case(s), {results.passed} pass, "
            f"{len(results.failures)} fail"
        )
        for line in describe_coverage(results):
            typer.echo(f"  {line}")
    raise typer.Exit(EXIT_INVALID if invalid else EXIT_FAILING if failing else 0)


PUSH_HELP = (
    "Send a set file to the server: created, or replaced (If-Match: the ETag just read) "
    "if its content differs from the current version's; else nothing is sent."
)
PULL_HELP = "Write a set's file from the server to stdout or --output."
DIFF_HELP = (
    "Replay a set file on the server's stored decisions (POST /criteria/{slug}/impact): "
    "what would change. Exit 2 if the file's cases fail."
)


@commands.command(help=PUSH_HELP + SERVER_CODES)
def push(file: FileArgument, url: UrlOption = setclient.DEFAULT_URL) -> None:
    found = _read(file)
    if found is None:
        raise typer.Exit(EXIT_INVALID)
    try:
        check_set(found)
        pushed = setclient.push(_server(url), found)
    except Exception as exc:
        _exit_on(file, exc)
    said = {"created": "created", "replaced": "pushed", "unchanged": "unchanged:"}[pushed.action]
    typer.echo(f"{said} {found.slug} version {pushed.version} ({pushed.content_hash})")


@commands.command(help=PULL_HELP + SERVER_CODES)
def pull(
    slug: SlugArgument,
    version: VersionOption = None,
    url: UrlOption = setclient.DEFAULT_URL,
    output: Annotated[Path | None, typer.Option(help="Write the file here.")] = None,
    file_format: FormatOption = FileFormat.YAML,
) -> None:
    try:
        pulled = setclient.pull(_server(url), slug, version, file_format)
    except Exception as exc:
        _exit_on(Path(slug), exc)
    if output is None:
        typer.echo(pulled.text, nl=False)
    else:
        output.write_text(pulled.text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)
    if pulled.pending_cases:
        typer.echo(
            f"note: {slug} has {pulled.pending_cases} pending case(s), not in this file: "
            "they join the next version saved.",
            err=True,
        )


@commands.command(help=DIFF_HELP + SERVER_CODES)
def diff(
    file: FileArgument,
    url: UrlOption = setclient.DEFAULT_URL,
    since: Annotated[
        str | None, typer.Option(help="Decisions made at or after (ISO 8601).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Decisions made before (ISO 8601).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many decisions.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw report.")] = False,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for a report worked out as a job.")
    ] = 600,
) -> None:
    found = _read(file)
    if found is None:
        raise typer.Exit(EXIT_INVALID)
    window = {"since": since, "until": until, "limit": limit}
    try:
        run_set_cases(found)  # compiles: an invalid file is not sent
        report = setclient.impact(_server(url), found, window, timeout=timeout)
    except Exception as exc:
        _exit_on(file, exc)
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for line in setclient.describe_report(report):
            typer.echo(line)
    raise typer.Exit(EXIT_FAILING if report["cases"]["failed"] else 0)


def _read(path: Path) -> SetFile | None:
    """The file's set, or None once its problems are printed."""
    try:
        return read_set(path)
    except UnreadableFile as exc:
        typer.echo(f"{path}: {exc}")
    except InvalidInput as exc:
        _echo_errors(path, exc.errors())
    return None


def _echo_errors(path: Path, errors: list[FieldError]) -> None:
    for error in errors:
        typer.echo(f"{path}: {error.field}: {error.message}")


def _server(url: str) -> setclient.Server:
    return setclient.Server(url, os.environ.get("REFLEXE_API_KEY") or None)


def _exit_on(path: Path, exc: Exception) -> NoReturn:
    """Print what stopped a file command, and exit with its code."""
    if isinstance(exc, FailingCases):
        _echo_errors(path, exc.errors())
        raise typer.Exit(EXIT_FAILING)
    if isinstance(exc, InvalidInput):
        _echo_errors(path, exc.errors())
        raise typer.Exit(EXIT_INVALID)
    if isinstance(exc, setclient.Unreachable):
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_UNREACHABLE)
    if isinstance(exc, setclient.ServerProblem):
        typer.echo(f"error: the server answered {exc.status}: {exc.detail}", err=True)
        for field, message in exc.errors():
            typer.echo(f"{path}: {field}: {message}", err=True)
        raise typer.Exit(EXIT_FAILING if exc.is_failing_cases else EXIT_INVALID)
    if isinstance(exc, TimeoutError | RuntimeError):
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID)
    raise exc
