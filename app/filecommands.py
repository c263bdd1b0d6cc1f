"""`reflexe evaluate FILE`: every row of a CSV or JSON Lines file of invitations, decided.

What a row means is `app.invitations`; how the rows travel, `app.evalclient`. This module
is the command: its options, the progress bar (stderr, a terminal only), the results (one
line per row, in the file's order) and the closing count. Exit codes: 0 every row decided,
1 a row in error (or a file that cannot be read, or a server that refuses the key), 3 no
answer from the server.
"""

import asyncio
import csv
import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TextIO

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from app import evalclient, setclient
from app.evalclient import Batch, Decided, Failed, Outcome
from app.evaluations.models import MAX_BATCH
from app.invitations import FileFormat, Skipped, UnreadableRows, detect_format, read_rows
from app.setcommands import EXIT_INVALID, EXIT_UNREACHABLE, UrlOption

commands = typer.Typer(rich_markup_mode=None)
COLUMNS = ("row", "decision", "summary", "id", "error")

EVALUATE_HELP = (
    "Evaluate every row of a CSV or JSON Lines file of invitations (LinkedIn's "
    "Invitations.csv as it is) through POST /evaluate/batch, on a server or with --local on "
    "the database of the settings. Columns: subject_ref, subject_name, answer.<key>, and "
    "any attribute by name. One result per row: row, decision, summary, id, or error. A "
    "rerun with the same file and options stores nothing twice (Idempotency-Key). Exit "
    "codes: 0 every row decided, 1 some rows in error, 3 no answer from the server. The "
    "API key is read from REFLEXE_API_KEY."
)


@commands.command(help=EVALUATE_HELP)
def evaluate(
    file: Annotated[Path, typer.Argument(help="CSV (*.csv) or JSON Lines (*.jsonl).")],
    url: UrlOption = setclient.DEFAULT_URL,
    local: Annotated[
        bool, typer.Option("--local", help="In this process, on REFLEXE_DATABASE_URL.")
    ] = False,
    criteria: Annotated[
        str | None, typer.Option(help="The set's slug (default: the default set).")
    ] = None,
    renames: Annotated[
        list[str] | None, typer.Option("--map", help="Rename a column: OLD=NEW (repeatable).")
    ] = None,
    file_format: Annotated[
        FileFormat | None,
        typer.Option("--format", help="csv, jsonl or linkedin (default: from the file)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Results file: CSV if *.csv, else JSON Lines.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=MAX_BATCH, help="Rows a batch.")] = 500,
    concurrency: Annotated[int, typer.Option(min=1, max=8, help="Batches in flight.")] = 2,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    try:
        data = file.read_bytes()
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{file}: cannot read it: {exc}")
    mapping = _renames(renames or [])
    chosen = file_format or detect_format(text, file.suffix)
    try:
        rows = list(read_rows(text, chosen, mapping, criteria))
    except UnreadableRows as exc:
        _fail(f"{file}: {exc}")
    options = evalclient.options_of(
        format=chosen, map=mapping, criteria=criteria, batch_size=batch_size
    )
    batches = evalclient.plan_batches(rows, batch_size, hashlib.sha256(data).hexdigest(), options)
    counts = Counter[str]()
    with _results(output) as write, _progress(len(rows), quiet) as advance:

        def on_done(batch: Batch, outcomes: list[Outcome]) -> None:
            for outcome in outcomes:
                write(outcome)
                counts[outcome.decision if isinstance(outcome, Decided) else "error"] += 1
            counts["skipped"] += sum(isinstance(row, Skipped) for row in batch.rows)
            advance(len(batch.rows))

        try:
            asyncio.run(_run(local, url, batches, concurrency, on_done))
        except setclient.Unreachable as exc:
            _fail(str(exc), EXIT_UNREACHABLE)
        except evalclient.Refused as exc:
            _fail(str(exc))
    typer.echo(_describe(counts), err=True)
    raise typer.Exit(EXIT_INVALID if counts["error"] else 0)


async def _run(
    local: bool, url: str, batches: Iterator[Batch], concurrency: int, on_done: Any
) -> None:
    server = setclient.Server(url, os.environ.get("REFLEXE_API_KEY") or None)
    opened = evalclient.local_client() if local else evalclient.remote_client(server)
    async with opened as client:
        await evalclient.evaluate_batches(client, batches, concurrency, on_done)


def _renames(pairs: list[str]) -> dict[str, str]:
    """`--map OLD=NEW` options as a mapping; a malformed one ends the command."""
    found: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            _fail(f"--map {pair!r}: expected OLD=NEW, e.g. --map 'Profile URL=subject_ref'")
        found[old.strip()] = new.strip()
    return found


@contextmanager
def _results(output: Path | None) -> Iterator[Any]:
    """A writer of outcomes: to `output` (CSV by its extension, else JSON Lines) or stdout."""
    try:
        stream: TextIO = (
            sys.stdout if output is None else output.open("w", encoding="utf-8", newline="")
        )
    except OSError as exc:
        _fail(f"--output {output}: cannot write it: {exc.strerror or exc}")
    try:
        if output is not None and output.suffix.lower() == ".csv":
            table = csv.writer(stream)
            table.writerow(COLUMNS)
            yield lambda outcome: table.writerow(_as_cells(outcome))
        else:
            yield lambda outcome: stream.write(_as_json(outcome) + "\n")
    finally:
        if output is not None:
            stream.close()
        else:
            stream.flush()


def _as_cells(outcome: Outcome) -> list[Any]:
    if isinstance(outcome, Failed):
        return [outcome.row, "", "", "", outcome.error]
    return [outcome.row, outcome.decision, outcome.summary, outcome.id or "", ""]


def _as_json(outcome: Outcome) -> str:
    if isinstance(outcome, Failed):
        line: dict[str, Any] = {"row": outcome.row, "error": outcome.error}
    else:
        line = {"row": outcome.row, "decision": outcome.decision, "summary": outcome.summary}
        line["id"] = outcome.id
    return json.dumps(line, ensure_ascii=False)


class RateColumn(ProgressColumn):
    """Rows per second, as the bar has measured them."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- rows/s" if speed is None else f"{speed:,.0f} rows/s")


@contextmanager
def _progress(total: int, quiet: bool) -> Iterator[Any]:
    """A function advancing the progress bar by a number of rows; a bar only on a terminal
    (rich's TTY_COMPATIBLE=1 or FORCE_COLOR make one of anything) and without --quiet."""
    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield lambda rows: None
        return
    columns = (
        TextColumn("evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("rows", total=total)
        yield lambda rows: bar.advance(task, rows)


def _describe(counts: Counter[str]) -> str:
    """The closing count: what was decided, what failed, what was skipped."""
    decided = sum(counts[d] for d in ("accept", "review", "decline"))
    said = (
        f"{decided} row(s) decided ({counts['accept']} accept, {counts['review']} review, "
        f"{counts['decline']} decline), {counts['error']} in error"
    )
    if counts["skipped"]:
        said += f", {counts['skipped']} outgoing invitation(s) skipped"
    return said


def _fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
