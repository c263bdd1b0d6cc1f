"""`reflexe evaluate FILE`: rows of a file mapped, typed, sent in batches, results written.

Against a real server (a uvicorn process in development mode, on SQLite, shared by the
module: each test counts what it stores itself) and with `--local`, on a database of the
test's own.
"""

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from app.cli import cli
from app.invitations import KINDS, Kind, parse_moment
from app.profiles import ProfileAttributes
from app.settings import get_settings
from tests.db.servers import free_port, running_server

EXAMPLES = Path(__file__).parents[1] / "examples"
SAMPLE = EXAMPLES / "invitations.csv"
LINKEDIN = EXAMPLES / "linkedin" / "Invitations.csv"
runner = CliRunner()


def reflexe(*args: str | Path, env: dict[str, str | None] | None = None) -> Result:
    get_settings.cache_clear()  # --local reads the settings of `env`
    try:
        return runner.invoke(cli, ["evaluate", *map(str, args)], env=env)
    finally:
        get_settings.cache_clear()


def results(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(f"sqlite:///{tmp_path_factory.mktemp('server')}/server.db") as url:
        yield url


def stored(url: str) -> list[dict[str, Any]]:
    """Every decision in the server's log, through the API."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = httpx.get(f"{url}/evaluations", params=params).json()
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def inputs(url: str, evaluation_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{url}/evaluations/{evaluation_id}/inputs").json()
    return answer


# --- reading rows, offline ------------------------------------------------------------


def test_every_documented_attribute_has_a_cell_kind() -> None:
    assert KINDS.keys() == ProfileAttributes.model_fields.keys()
    assert KINDS["mutual_connections"] is Kind.INTEGER
    assert KINDS["has_message"] is Kind.BOOLEAN
    assert KINDS["skills"] is Kind.LIST
    assert KINDS["sent_at"] is Kind.DATETIME
    assert KINDS["headline"] is Kind.TEXT


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        ("9/14/24, 7:31 PM", datetime(2024, 9, 14, 19, 31, tzinfo=UTC)),
        ("9/14/24, 7:31\u202fAM", datetime(2024, 9, 14, 7, 31, tzinfo=UTC)),
        ("12/3/2023, 12:05 AM", datetime(2023, 12, 3, 0, 5, tzinfo=UTC)),
        ("2023-06-11 15:33:58 UTC", datetime(2023, 6, 11, 15, 33, 58, tzinfo=UTC)),
        ("2024-09-14T21:31:00+02:00", datetime(2024, 9, 14, 19, 31, tzinfo=UTC)),
        ("15 Jan 2024", datetime(2024, 1, 15, tzinfo=UTC)),
    ],
)
def test_moments_are_read_as_linkedin_writes_them(written: str, instant: datetime) -> None:
    assert parse_moment(written) == instant


def test_an_unreadable_moment_says_what_was_expected() -> None:
    with pytest.raises(
        ValueError,
        match="expected a date and time such as 2026-01-31T09:00:00Z or 9/14/24, 7:31 PM",
    ):
        parse_moment("yesterday evening")


# --- the sent_at attribute, through the API -------------------------------------------


def test_sent_at_is_stored_in_utc(client: TestClient) -> None:
    answer = client.post("/evaluate", json={"attributes": {"sent_at": "2024-09-14T21:31:00+02:00"}})
    naive = client.post("/evaluate", json={"attributes": {"sent_at": "2024-09-14T21:31:00"}})

    assert answer.status_code == 201, answer.text
    stored_inputs = client.get(f"/evaluations/{answer.json()['id']}/inputs").json()
    assert stored_inputs["attributes"] == {"sent_at": "2024-09-14T19:31:00Z"}
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "attributes.sent_at"


# --- against a server -----------------------------------------------------------------


def test_columns_map_to_subject_answers_and_typed_attributes(server: str, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "typed.csv",
        [
            [
                "Profile",
                "subject_name",
                "followers",
                "has_message",
                "skills",
                "answer.utilite",
                "x",
            ],
            ["https://example.org/in/typed", "Ada", "1200", "yes", "go; rust;", "true", "7"],
            ["https://example.org/in/empty", "", "", "", "", "", ""],
        ],
    )

    result = reflexe(path, "--url", server, "--map", "Profile=subject_ref", "--quiet")

    assert result.exit_code == 0, result.output
    first, second = results(result)
    assert (first["row"], second["row"]) == (1, 2)
    assert inputs(server, first["id"]) == {
        "id": first["id"],
        "subject": {"ref": "https://example.org/in/typed", "name": "Ada"},
        "answers": {"utilite": True},
        "attributes": {"followers": 1200, "has_message": True, "skills": ["go", "rust"], "x": "7"},
        "privacy": "full",
    }
    empty = inputs(server, second["id"])
    assert (empty["answers"], empty["attributes"]) == ({}, {})
    assert empty["subject"] == {"ref": "https://example.org/in/empty", "name": None}


def test_bad_rows_get_error_lines_and_the_run_goes_on(server: str, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        [
            ["subject_ref", "followers", "answer.utilite", "answer.nothing"],
            ["https://example.org/in/ok", "10", "", ""],
            ["https://example.org/in/count", "many", "", ""],
            ["https://example.org/in/flag", "", "perhaps", ""],
            ["https://example.org/in/refused", "", "", "true"],
            ["https://example.org/in/short", "1"],
            ["https://example.org/in/ok-too", "", "false", ""],
        ],
    )

    result = reflexe(path, "--url", server, "--quiet", "--batch-size", "2")

    assert result.exit_code == 1, result.output
    lines = results(result)
    assert [line["row"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert [line.get("decision") for line in lines] == [
        "decline", None, None, None, None, "decline",
    ]  # fmt: skip
    assert lines[1]["error"] == "followers: expected a whole number, got 'many'"
    assert lines[2]["error"].startswith("answer.utilite: expected true or false")
    assert lines[3]["error"].startswith("answers.nothing: ")
    assert "has no criterion 'nothing'" in lines[3]["error"]
    assert lines[4]["error"] == "2 cells for 4 columns"
    assert result.stderr.splitlines()[-1] == (
        "2 row(s) decided (0 accept, 0 review, 2 decline), 4 in error"
    )


def test_a_rerun_stores_nothing_twice(server: str, tmp_path: Path) -> None:
    before = len(stored(server))
    output = tmp_path / "results.jsonl"

    first = reflexe(SAMPLE, "--url", server, "--output", output, "--batch-size", "2")
    kept = output.read_text()
    again = reflexe(SAMPLE, "--url", server, "--output", output, "--batch-size", "2")

    assert (first.exit_code, again.exit_code) == (0, 0), first.output + again.output
    assert output.read_text() == kept  # the same decisions, ids included
    assert len(stored(server)) == before + 6
    other_batches = reflexe(SAMPLE, "--url", server, "--batch-size", "3", "--quiet")
    assert len(stored(server)) == before + 12  # other options, other keys: decided anew
    assert {line["id"] for line in results(other_batches)}.isdisjoint(kept)


def test_the_linkedin_export_works_as_it_is(server: str) -> None:
    result = reflexe(LINKEDIN, "--url", server, "--quiet")

    assert result.exit_code == 0, result.output
    lines = results(result)
    outgoing = {2, 5, 8, 11, 14, 17, 20}
    assert [line["row"] for line in lines] == [n for n in range(1, 21) if n not in outgoing]
    assert {line["decision"] for line in lines} == {"decline"}  # PIPU: unknown is not met
    assert result.stderr.splitlines()[-1] == (
        "13 row(s) decided (0 accept, 0 review, 13 decline), 0 in error, "
        "7 outgoing invitation(s) skipped"
    )
    claire = inputs(server, lines[0]["id"])
    assert claire["subject"] == {
        "ref": "https://www.linkedin.com/in/example-claire-dubois",
        "name": "Claire Dubois",
    }
    assert claire["attributes"] == {
        "has_message": True,
        "message": "Bonjour Alex, nous nous sommes croisés au salon Tech Lyon, ravie de "
        "rester en contact !",
        "sent_at": "2024-09-14T19:31:00Z",
    }
    assert inputs(server, lines[1]["id"])["attributes"]["has_message"] is False


def test_a_linkedin_row_with_an_unreadable_date_gets_an_error_line(
    server: str, tmp_path: Path
) -> None:
    text = LINKEDIN.read_text().splitlines()
    broken = text[1].replace('"9/14/24, 7:31 PM"', "someday")
    path = tmp_path / "Invitations.csv"
    path.write_text("\n".join([text[0], broken, text[3]]) + "\n")

    result = reflexe(path, "--url", server, "--quiet")

    assert result.exit_code == 1
    first, second = results(result)
    assert first == {
        "row": 1,
        "error": (
            "Sent At: expected a date and time such as 2026-01-31T09:00:00Z or 9/14/24, 7:31 PM, "
            "got 'someday'"
        ),
    }
    assert second["decision"] == "decline"


def test_results_as_csv(server: str, tmp_path: Path) -> None:
    output = tmp_path / "results.csv"

    result = reflexe(SAMPLE, "--url", server, "--output", output, "--quiet")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    with output.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["row"] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    assert [row["decision"] for row in rows] == [
        "accept", "accept", "decline", "accept", "decline", "accept",
    ]  # fmt: skip
    assert rows[2]["summary"] == "Decline: 0 of 4 criteria met (none); 2 needed."
    assert all(len(row["id"]) == 36 and row["error"] == "" for row in rows)


def test_json_lines_rows_flat_or_nested(server: str, tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [
        {"subject_ref": "https://example.org/in/flat", "followers": "5000", "answer.utilite": True},
        {"subject": {"ref": "https://example.org/in/nested"}, "attributes": {"followers": 5000}},
        "not an object",
        {"followers": -1},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n")

    result = reflexe(path, "--url", server, "--quiet")

    assert result.exit_code == 1
    flat, nested, wrong, refused = results(result)
    assert inputs(server, flat["id"])["attributes"] == {"followers": 5000}
    assert inputs(server, nested["id"])["attributes"] == {"followers": 5000}
    assert wrong == {"row": 3, "error": "expected a JSON object"}
    assert refused["error"] == ("attributes.followers: Input should be greater than or equal to 0")


def test_the_progress_bar_shows_rate_and_eta_on_a_terminal(server: str) -> None:
    shown = reflexe(SAMPLE, "--url", server, "--batch-size", "2", env={"TTY_COMPATIBLE": "1"})
    quiet = reflexe(SAMPLE, "--url", server, "--quiet", env={"TTY_COMPATIBLE": "1"})
    piped = reflexe(SAMPLE, "--url", server)

    assert shown.exit_code == 0, shown.output
    assert "rows/s" in shown.stderr
    assert "eta" in shown.stderr
    assert "6/6" in shown.stderr
    assert "rows/s" not in quiet.stderr
    assert "rows/s" not in piped.stderr


def test_a_server_that_does_not_answer_exits_3() -> None:
    result = reflexe(SAMPLE, "--url", f"http://127.0.0.1:{free_port()}", "--quiet")

    assert result.exit_code == 3
    assert result.stderr.startswith("error: cannot reach http://127.0.0.1:")


def test_an_unknown_set_fails_each_row(server: str) -> None:
    result = reflexe(SAMPLE, "--url", server, "--criteria", "nowhere", "--quiet")

    assert result.exit_code == 1
    assert all("nowhere" in line["error"] for line in results(result))


def test_a_malformed_map_option_is_refused() -> None:
    result = reflexe(SAMPLE, "--map", "no-equals-sign")

    assert result.exit_code == 1
    assert "expected OLD=NEW" in result.stderr


# --- in this process: --local ---------------------------------------------------------


def test_local_evaluates_on_the_database_of_the_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/local.db"
    env: dict[str, str | None] = {"REFLEXE_DATABASE_URL": url}

    first = reflexe(SAMPLE, "--local", "--quiet", env=env)
    again = reflexe(SAMPLE, "--local", "--quiet", env=env)
    linkedin = reflexe(LINKEDIN, "--local", "--quiet", env=env)

    assert (first.exit_code, again.exit_code, linkedin.exit_code) == (0, 0, 0), first.output
    assert first.stdout == again.stdout
    assert [line["decision"] for line in results(first)] == [
        "accept", "accept", "decline", "accept", "decline", "accept",
    ]  # fmt: skip
    engine = create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM evaluation")).scalar_one()
        keys = connection.execute(text("SELECT count(*) FROM idempotency_key")).scalar_one()
    engine.dispose()
    assert count == 6 + 13
    assert keys == 2


def test_a_cell_beyond_the_csv_field_limit_is_its_row_error(server: str, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "huge.csv",
        [
            ["subject_ref", "headline"],
            ["https://example.org/in/before", "CTO"],
            ["https://example.org/in/huge", "x" * 200_000],
            ["https://example.org/in/after", "Dentist"],
        ],
    )

    result = reflexe(path, "--url", server, "--quiet")

    assert result.exit_code == 1, result.output
    lines = results(result)
    assert [line["row"] for line in lines] == [1, 2, 3]
    assert "decision" in lines[0]
    assert "decision" in lines[2]
    assert lines[1]["error"].startswith("the row cannot be read: field larger than field limit")


def test_a_header_beyond_the_csv_field_limit_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "huge.csv", [["x" * 200_000, "headline"], ["a", "b"]])

    result = reflexe(path, "--url", "http://127.0.0.1:9", "--quiet")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path}: the header row cannot be read: ")


@pytest.mark.parametrize("where", ["missing/results.csv", "."], ids=["no folder", "a folder"])
def test_an_output_that_cannot_be_written_is_refused_before_any_row(
    server: str, tmp_path: Path, where: str
) -> None:
    output = tmp_path / where
    before = len(stored(server))

    result = reflexe(SAMPLE, "--url", server, "--output", output, "--quiet")

    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: --output {output}: cannot write it: ")
    assert "Traceback" not in result.output
    assert len(stored(server)) == before


def test_a_json_lines_row_no_request_could_carry_is_its_row_error(
    server: str, tmp_path: Path
) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(
        '{"subject": {"ref": "\\ud800"}}\n'
        '{"subject_ref": "https://example.org/in/fine"}\n'
        '{"attributes": {"headline": "a\\u0000b"}}\n'
    )

    result = reflexe(path, "--url", server, "--quiet")

    assert result.exit_code == 1, result.output
    lone, fine, nul = results(result)
    assert lone == {
        "row": 1,
        "error": "subject.ref: must be valid Unicode: a lone surrogate (such as \\ud800) is not",
    }
    assert fine["decision"] == "decline"
    assert nul == {"row": 3, "error": "attributes.headline: must not contain the character U+0000"}
