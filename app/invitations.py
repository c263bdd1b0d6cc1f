"""Invitations in a file: CSV or JSON Lines rows read as evaluation requests.

A column names what it holds: `subject_ref` and `subject_name` the subject, `answer.<key>`
an answer, any other the attribute of that name, typed as `ProfileAttributes` types it (so
a new attribute of the vocabulary is read right without a change here). LinkedIn's own
export of invitations (`Invitations.csv`) is recognised by its header. Each row becomes an
`Item` (a request's JSON, checked by the server), a `BadRow` (why it cannot be sent) or a
`Skipped` row (an outgoing invitation). No HTTP here: `app.filecommands` sends the items.
"""

import csv
import io
import json
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AwareDatetime

from app.jsonvalues import find_problem
from app.profiles import ProfileAttributes

SUBJECT_COLUMNS = {"subject_ref": "ref", "subject_name": "name"}
ANSWER_PREFIX = "answer."
LIST_SEPARATOR = ";"
TRUE, FALSE = frozenset({"true", "yes", "1"}), frozenset({"false", "no", "0"})
LINKEDIN_HEADER = (
    "From",
    "To",
    "Sent At",
    "Message",
    "Direction",
    "inviterProfileUrl",
    "inviteeProfileUrl",
)
# How LinkedIn's archives write a moment: `9/14/24, 7:31 PM` in Invitations.csv (no zone:
# read as UTC), `2023-06-11 15:33:58 UTC` in messages.csv, `15 Jan 2024` in Connections.csv.
LINKEDIN_TIMES = (
    "%m/%d/%y, %I:%M %p",
    "%m/%d/%Y, %I:%M %p",
    "%m/%d/%y, %H:%M",
    "%Y-%m-%d %H:%M:%S UTC",
    "%Y-%m-%d %H:%M:%S",
    "%d %b %Y",
)


class Kind(StrEnum):
    """How a cell's text becomes an attribute's value."""

    TEXT = "text"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    LIST = "list"
    DATETIME = "datetime"


class FileFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    LINKEDIN = "linkedin"


@dataclass(frozen=True, slots=True)
class Item:
    """A row to evaluate: its number in the file (1 for the first after any header) and the
    evaluation request it makes."""

    row: int
    request: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BadRow:
    row: int
    error: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A row not to evaluate: an outgoing invitation of a LinkedIn export."""

    row: int


Row = Item | BadRow | Skipped


class UnreadableRows(Exception):
    """The file as a whole cannot be read: not UTF-8, no header, an unknown format."""


def _kind_of(annotation: Any) -> Kind:
    """The kind of a field's type: `X | None` and `Annotated[X, ...]` unwrapped."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        (inner,) = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _kind_of(inner)
    if origin is Annotated:
        return _kind_of(get_args(annotation)[0])
    if origin is list:
        return Kind.LIST
    kinds = {
        bool: Kind.BOOLEAN,
        int: Kind.INTEGER,
        str: Kind.TEXT,
        datetime: Kind.DATETIME,
        AwareDatetime: Kind.DATETIME,
    }
    if annotation in kinds:
        return kinds[annotation]
    raise TypeError(f"no cell kind for {annotation!r}")  # a new type in the vocabulary


def attribute_kinds() -> dict[str, Kind]:
    """Each documented attribute's kind, derived from `ProfileAttributes`."""
    return {name: _kind_of(f.annotation) for name, f in ProfileAttributes.model_fields.items()}


KINDS = attribute_kinds()


def parse_cell(text: str, kind: Kind) -> Any:
    """A cell's value for an attribute of `kind`; ValueError saying what was expected."""
    if kind is Kind.TEXT:
        return text
    if kind is Kind.LIST:
        return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]
    if kind is Kind.BOOLEAN:
        return parse_boolean(text)
    if kind is Kind.INTEGER:
        digits = text.strip()
        # Digits only: int() would also read `1_000` and `٣`, which no export means.
        if not (digits.isascii() and digits.removeprefix("-").isdigit()):
            raise ValueError(f"expected a whole number, got {text!r}")
        return int(digits)
    return parse_moment(text).isoformat().replace("+00:00", "Z")


def parse_boolean(text: str) -> bool:
    folded = text.strip().lower()
    if folded in TRUE or folded in FALSE:
        return folded in TRUE
    raise ValueError(f"expected true or false (yes/no, 1/0), got {text!r}")


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date-time, or one as LinkedIn writes it; without a zone, UTC."""
    cleaned = " ".join(text.replace("\u202f", " ").split())  # LinkedIn's narrow spaces
    try:
        found = datetime.fromisoformat(cleaned)
    except ValueError:
        found = None
    for shape in LINKEDIN_TIMES:
        if found is not None:
            break
        try:
            found = datetime.strptime(cleaned, shape)
        except ValueError:
            continue
    if found is None:
        raise ValueError(
            "expected a date and time such as 2026-01-31T09:00:00Z or 9/14/24, 7:31 PM, "
            f"got {text!r}"
        )
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


def request_of(fields: Mapping[str, Any], criteria: str | None) -> dict[str, Any]:
    """The evaluation request of one row's columns (renamed already); ValueError naming the
    faulty column. Empty cells and nulls are absent; typed JSON values pass as they are."""
    request: dict[str, Any] = {}
    subject: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None or value == "":
            continue
        if name in ("subject", "answers", "attributes") and isinstance(value, dict):
            {"subject": subject, "answers": answers, "attributes": attributes}[name].update(value)
            continue
        try:
            if name in SUBJECT_COLUMNS:
                subject[SUBJECT_COLUMNS[name]] = value
            elif name.startswith(ANSWER_PREFIX):
                key = name.removeprefix(ANSWER_PREFIX)
                answers[key] = parse_boolean(value) if isinstance(value, str) else value
            else:
                kind = KINDS.get(name, Kind.TEXT)
                attributes[name] = parse_cell(value, kind) if isinstance(value, str) else value
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    if criteria is not None:
        request["criteria_set"] = criteria
    for name, part in (("subject", subject), ("answers", answers), ("attributes", attributes)):
        if part:
            request[name] = part
    return request


def linkedin_request(fields: Mapping[str, str], criteria: str | None) -> dict[str, Any] | None:
    """The request of an incoming invitation of LinkedIn's export; None for an outgoing one."""
    direction = fields.get("Direction", "").strip().upper()
    if direction == "OUTGOING":
        return None
    if direction != "INCOMING":
        raise ValueError(f"Direction: expected INCOMING or OUTGOING, got {direction!r}")
    message = (fields.get("Message") or "").strip()
    row = {
        "subject_ref": fields.get("inviterProfileUrl", "").strip(),
        "subject_name": fields.get("From", "").strip(),
        "has_message": "true" if message else "false",
        "message": message,
        "sent_at": fields.get("Sent At", "").strip(),
    }
    try:
        return request_of(row, criteria)
    except ValueError as exc:
        raise ValueError(str(exc).replace("sent_at:", "Sent At:", 1)) from None


def detect_format(text: str, suffix: str) -> FileFormat:
    """JSON Lines by the file's extension (.jsonl, .ndjson); otherwise CSV, LinkedIn's if
    its header is the export's."""
    if suffix.lower() in (".jsonl", ".ndjson"):
        return FileFormat.JSONL
    try:
        first = next(csv.reader(io.StringIO(text)), [])
    except csv.Error:
        first = []  # a header no reader takes: read_rows says so
    is_linkedin = tuple(cell.strip().lstrip("\ufeff") for cell in first) == LINKEDIN_HEADER
    return FileFormat.LINKEDIN if is_linkedin else FileFormat.CSV


def read_rows(
    text: str, file_format: FileFormat, renames: Mapping[str, str], criteria: str | None
) -> Iterator[Row]:
    """Every row of the file, in order, as an item to send, a bad row or a skipped one."""
    if file_format is FileFormat.JSONL:
        yield from _jsonl_rows(text, renames, criteria)
        return
    records = _records(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    header = next(records, None)
    if header is None:
        raise UnreadableRows("the file is empty: a header row is expected first")
    if isinstance(header, csv.Error):
        raise UnreadableRows(f"the header row cannot be read: {header}")
    names = [renames.get(cell.strip(), cell.strip()) for cell in header]
    for number, cells in enumerate(records, start=1):
        if isinstance(cells, csv.Error):
            yield BadRow(number, f"the row cannot be read: {cells}")
            continue
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, or a row of empty cells: nothing to evaluate
        if len(cells) != len(names):
            yield BadRow(number, f"{len(cells)} cells for {len(names)} columns")
            continue
        fields = dict(zip(names, cells, strict=True))
        try:
            if file_format is FileFormat.LINKEDIN:
                request = linkedin_request(fields, criteria)
                yield Skipped(number) if request is None else Item(number, request)
            else:
                yield Item(number, request_of(fields, criteria))
        except ValueError as exc:
            yield BadRow(number, str(exc))


def _records(reader: Iterator[list[str]]) -> Iterator[list[str] | csv.Error]:
    """Each record of a CSV reader, or the error that one raised (a cell beyond the csv
    module's field limit): the reader goes on with the next line."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield exc


def _jsonl_rows(text: str, renames: Mapping[str, str], criteria: str | None) -> Iterator[Row]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found = json.loads(line)
        except ValueError as exc:
            yield BadRow(number, f"not JSON: {exc}")
            continue
        if not isinstance(found, dict):
            yield BadRow(number, "expected a JSON object")
            continue
        problem = find_problem(found)  # a lone surrogate, U+0000: no request could carry it
        if problem is not None:
            where = ".".join(str(part) for part in problem[0]) or "(row)"
            yield BadRow(number, f"{where}: {problem[1]}")
            continue
        fields = {renames.get(name, name): value for name, value in found.items()}
        try:
            yield Item(number, request_of(fields, criteria))
        except ValueError as exc:
            yield BadRow(number, str(exc))
