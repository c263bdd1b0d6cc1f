"""Criteria sets as files on the command line: export, check, test, push, pull and diff.

`check` and `test` run offline, and must say what the API says of the same content; push,
pull and diff drive a real server (a uvicorn process in development mode, on SQLite).
"""

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from app.cli import cli
from app.criteria.seed import PIPU
from tests.db.servers import free_port, running_server

EXAMPLE = Path(__file__).parents[1] / "examples" / "pipu.yaml"
runner = CliRunner()


def reflexe(*args: str | Path, url: str | None = None, key: str | None = None) -> Result:
    env = {"REFLEXE_URL": url, "REFLEXE_API_KEY": key}
    return runner.invoke(cli, [str(arg) for arg in args], env=env)


def example() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return loaded


def write(path: Path, data: Any) -> Path:
    if path.suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def without_comments(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))


def lines(result: Result) -> list[str]:
    return result.stdout.splitlines()


# --- check ------------------------------------------------------------------------


def test_check_accepts_the_example() -> None:
    result = reflexe("check", EXAMPLE)

    assert result.exit_code == 0, result.output
    assert lines(result) == [f"{EXAMPLE}: ok (pipu, {content_hash_of(example())})"]


def content_hash_of(data: dict[str, Any]) -> str:
    from app.criteria.files import content_hash
    from app.criteria.models import CriteriaSetReplace

    return content_hash(data["slug"], CriteriaSetReplace.model_validate(data))


def broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(example())
    change(data)
    return data


BROKEN = {
    "a bad criterion key": lambda d: d["criteria"][0].update(key="Not a key!"),
    "an unknown field": lambda d: d["policy"].update(colour="blue"),
    "a rule on an unknown param": lambda d: d["criteria"][0]["rules"]["any"][0].update(
        value={"param": "nowhere"}
    ),
    "a case on an unknown criterion": lambda d: d["cases"][0]["expect"]["met"].update(nothing=True),
    "a failing case": lambda d: d["cases"][1]["expect"].update(decision="accept"),
    "two cases named alike": lambda d: d["cases"][1].update(name=d["cases"][0]["name"]),
    "a threshold too high": lambda d: d["policy"].update(accept_at=9),
    "a server field of the wrong type": lambda d: d.update(version="two"),
}


@pytest.mark.parametrize("what", BROKEN)
def test_check_says_what_the_api_says(client: TestClient, tmp_path: Path, what: str) -> None:
    data = broken(BROKEN[what])
    path = write(tmp_path / "broken.yaml", data)

    result = reflexe("check", path)
    answer = client.put("/criteria/pipu", json=data, headers={"If-Match": "*"})

    assert answer.status_code == 422, answer.text
    expected = [f"{path}: {e['field']}: {e['message']}" for e in answer.json()["errors"]]
    assert result.exit_code == 1, result.output
    assert lines(result) == expected


def test_check_reports_each_file_and_fails_if_any_is_invalid(tmp_path: Path) -> None:
    no_slug = write(tmp_path / "no-slug.yaml", broken(lambda d: d.pop("slug")))
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("slug: pipu\ncriteria: [\n")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"slug": "pipu",}')
    missing = tmp_path / "missing.yaml"
    as_json = write(tmp_path / "pipu.json", example())

    result = reflexe("check", EXAMPLE, no_slug, bad_yaml, bad_json, missing, as_json)

    assert result.exit_code == 1, result.output
    out = lines(result)
    assert out[0].startswith(f"{EXAMPLE}: ok (pipu, sha256:")
    assert out[1] == f"{no_slug}: slug: Field required"
    assert out[2].startswith(f"{bad_yaml}: not valid YAML: ")
    assert "line 3" in out[2]
    assert out[3] == f"{bad_json}: not valid JSON (line 1, column 17): Expecting property name " \
                     "enclosed in double quotes"  # fmt: skip
    assert out[4] == f"{missing}: cannot read the file: No such file or directory"
    assert out[5].startswith(f"{as_json}: ok (pipu, sha256:")
    assert len(out) == 6


def test_a_yaml_date_stays_a_string_as_in_json(tmp_path: Path) -> None:
    path = tmp_path / "dated.yaml"
    path.write_text(EXAMPLE.read_text().replace("name: PIPU", "name: 2026-01-31", 1))

    result = reflexe("check", path)

    assert result.exit_code == 0, result.output


# --- test ---------------------------------------------------------------------------


def test_test_runs_the_cases_and_shows_the_coverage() -> None:
    result = reflexe("test", EXAMPLE)

    assert result.exit_code == 0, result.output
    assert lines(result) == [
        f"{EXAMPLE}: 4 case(s), 4 pass, 0 fail",
        "  criterion     met  not met  unknown",
        "  pertinence    yes  yes      yes",
        "  interaction   yes  yes      yes",
        "  prescription  yes  yes      yes",
        "  utilite       yes  yes      yes",
    ]


def test_test_prints_each_failing_case_and_exits_2(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["cases"] = data["cases"][:2]
        data["cases"][0]["expect"] = {"decision": "review", "met": {"utilite": True}}

    path = write(tmp_path / "failing.json", broken(change))

    result = reflexe("test", path)

    assert result.exit_code == 2, result.output
    assert lines(result) == [
        f"{path}: cases[0]: case 'founder in software with a shared network': expected "
        "review, got accept; utilite: expected met, got not met",
        f"{path}: 2 case(s), 1 pass, 1 fail",
        "  criterion     met  not met  unknown",
        "  pertinence    yes  yes      no",
        "  interaction   yes  yes      no",
        "  prescription  yes  yes      no",
        "  utilite       no   yes      no",
    ]


def test_test_exits_1_for_an_invalid_file_whatever_else_fails(tmp_path: Path) -> None:
    failing = write(tmp_path / "failing.yaml", broken(BROKEN["a failing case"]))
    invalid = write(tmp_path / "invalid.yaml", broken(BROKEN["a case on an unknown criterion"]))

    result = reflexe("test", failing, invalid)

    assert result.exit_code == 1, result.output
    assert f"{invalid}: cases[0].expect.met.nothing: the set has no criterion 'nothing'" in (
        result.stdout
    )
    assert f"{failing}: cases[1]: case 'stranger from an unrelated field': expected accept, " \
           "got decline" in result.stdout  # fmt: skip


# --- export, from the local database ---------------------------------------------------


@pytest.fixture
def local_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from app.settings import get_settings

    url = f"sqlite:///{tmp_path}/local.db"
    monkeypatch.setenv("REFLEXE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_export_prints_the_seed_as_a_file_that_checks(local_database: str, tmp_path: Path) -> None:
    exported = reflexe("export", "pipu")
    as_json = reflexe("export", "pipu", "--format", "json", "--version", "1")

    assert exported.exit_code == 0, exported.output
    assert exported.stdout.startswith("# Reflexe criteria set 'pipu', version 1\n")
    data = yaml.safe_load(exported.stdout)
    # A set of the default privacy and retention names neither: its file is as it was.
    seed = PIPU.model_dump(mode="json", exclude={"privacy", "retention_days"})
    assert data == {**seed, "cases": []} | {"slug": "pipu"}
    assert json.loads(as_json.stdout) == data
    path = tmp_path / "pipu.yaml"
    path.write_text(exported.stdout)
    assert reflexe("check", path).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "error: No criteria set 'nope'."),
        (["pipu", "--version", "2"], "error: Criteria set 'pipu' has no version 2."),
    ],
)
def test_export_of_what_is_not_there_exits_1(
    local_database: str, args: list[str], message: str
) -> None:
    result = reflexe("export", *args)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == message


# --- push, pull and diff, against a server ---------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A server of the test's own, in development mode (no key needed from loopback); its
    impact reports answer at once up to 2 decisions, as jobs beyond."""
    env = {"REFLEXE_IMPACT_SYNC_LIMIT": "2"}
    with running_server(f"sqlite:///{tmp_path}/server.db", env=env) as url:
        yield url


def test_push_and_pull_round_trip_a_file(server: str, tmp_path: Path) -> None:
    pushed = reflexe("push", EXAMPLE, url=server)
    again = reflexe("push", EXAMPLE, url=server)
    pulled = reflexe("pull", "pipu", url=server)

    digest = content_hash_of(example())
    assert pushed.exit_code == 0, pushed.output
    assert pushed.stdout == f"pushed pipu version 2 ({digest})\n"
    assert again.exit_code == 0, again.output
    assert again.stdout == f"unchanged: pipu version 2 ({digest})\n"
    assert pulled.exit_code == 0, pulled.output
    assert pulled.stdout.startswith(
        f"# Reflexe criteria set 'pipu', version 2\n# content hash {digest}\n"
    )
    assert yaml.safe_load(pulled.stdout) == example()
    assert without_comments(pulled.stdout) == without_comments(EXAMPLE.read_text())
    current = httpx.get(f"{server}/criteria/pipu").json()
    assert (current["version"], current["content_hash"]) == (2, digest)

    target = tmp_path / "pulled.yaml"
    written = reflexe("pull", "pipu", "--output", target, url=server)
    assert written.exit_code == 0, written.output
    assert written.stdout == ""
    assert target.read_text() == pulled.stdout
    assert reflexe("check", target).exit_code == 0
    assert reflexe("test", target).exit_code == 0
    assert reflexe("push", target, url=server).stdout.startswith("unchanged: pipu version 2")

    first = reflexe("pull", "pipu", "--version", "1", "--format", "json", url=server)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["cases"] == []


def test_push_creates_a_new_set(server: str, tmp_path: Path) -> None:
    path = write(tmp_path / "other.yaml", {**example(), "slug": "pipu-2"})

    result = reflexe("push", path, url=server)

    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == f"created pipu-2 version 1 ({content_hash_of(example() | {'slug': 'pipu-2'})})\n"
    )
    assert httpx.get(f"{server}/criteria/pipu-2").json()["version"] == 1


def test_push_sends_nothing_invalid_or_failing(server: str, tmp_path: Path) -> None:
    invalid = write(tmp_path / "invalid.yaml", broken(BROKEN["a bad criterion key"]))
    failing = write(tmp_path / "failing.yaml", broken(BROKEN["a failing case"]))

    refused = reflexe("push", invalid, url=server)
    failed = reflexe("push", failing, url=server)

    assert refused.exit_code == 1, refused.output
    assert refused.stdout.startswith(f"{invalid}: criteria[0].key: String should match pattern")
    assert failed.exit_code == 2, failed.output
    assert failed.stdout.startswith(f"{failing}: cases[1]: case 'stranger from an unrelated")
    assert httpx.get(f"{server}/criteria/pipu").json()["version"] == 1


def test_a_pending_case_is_noted_by_pull_and_checked_by_push(server: str, tmp_path: Path) -> None:
    assert reflexe("push", EXAMPLE, url=server).exit_code == 0
    profile = {"headline": "Founder, growth agency", "mutual_connections": 9}
    decided = httpx.post(f"{server}/evaluate", json={"criteria_set": "pipu", "attributes": profile})
    assert decided.status_code == 201, decided.text
    assert decided.json()["decision"] == "accept"
    made = httpx.post(f"{server}/evaluations/{decided.json()['id']}/case", json={"name": "kept"})
    assert made.status_code == 201, made.text

    pulled = reflexe("pull", "pipu", url=server)
    # The pending case must pass: a file that declines that profile is refused by the server.
    strict = write(tmp_path / "strict.yaml", broken(lambda d: d["policy"].update(accept_at=4)))
    strict_data = yaml.safe_load(strict.read_text())
    strict_data["cases"] = []  # its own cases would fail offline first
    write(strict, strict_data)
    refused = reflexe("push", strict, url=server)
    # The same file again is not unchanged: the pending case joins the next version.
    kept = reflexe("push", EXAMPLE, url=server)

    assert pulled.exit_code == 0, pulled.output
    assert "note: pipu has 1 pending case(s)" in pulled.stderr
    assert yaml.safe_load(pulled.stdout) == example()
    assert refused.exit_code == 2, refused.output
    assert "error: the server answered 422: 1 test case(s) fail: 'kept'" in refused.stderr
    assert f"{strict}: cases[0]: case 'kept': expected accept, got decline" in refused.stderr
    assert kept.exit_code == 0, kept.output
    assert kept.stdout.startswith("pushed pipu version 3")
    cases = httpx.get(f"{server}/criteria/pipu").json()["cases"]
    assert [c["name"] for c in cases][-1] == "kept"


def test_server_errors_exit_1_and_no_server_exits_3(server: str) -> None:
    bad_key = reflexe("push", EXAMPLE, url=server, key="rfx_nothing_nothing")
    missing = reflexe("pull", "nope", url=server)
    nowhere = reflexe("pull", "pipu", url=f"http://127.0.0.1:{free_port()}")

    assert bad_key.exit_code == 1, bad_key.output
    assert bad_key.stderr.startswith("error: the server answered 401: ")
    assert missing.exit_code == 1, missing.output
    assert missing.stderr == "error: the server answered 404: No criteria set 'nope'.\n"
    assert nowhere.exit_code == 3, nowhere.output
    assert nowhere.stderr.startswith("error: cannot reach http://127.0.0.1:")


def test_diff_summarises_the_impact_of_a_file(server: str, tmp_path: Path) -> None:
    profiles = [
        {"headline": "Founder, growth agency", "mutual_connections": 9},  # accept
        {"headline": "Growth marketing consultant"},  # decline: 1 of 4
        {"industry": "Farming", "mutual_connections": 0},  # decline
    ]
    for profile in profiles:
        decided = httpx.post(f"{server}/evaluate", json={"attributes": profile})
        assert decided.status_code == 201, decided.text
    lenient = write(tmp_path / "lenient.yaml", broken(lambda d: d["policy"].update(accept_at=1)))

    summary = reflexe("diff", lenient, url=server)
    raw = reflexe("diff", lenient, "--json", url=server)
    small = reflexe("diff", lenient, "--limit", "1", "--json", url=server)

    assert summary.exit_code == 2, summary.output  # the example's own cases fail then
    out = lines(summary)
    assert out[0].startswith("pipu: draft sha256:")
    assert out[0].endswith("against 3 stored decision(s)")
    assert out[1] == "changed: 1 of 3 (33.3%)"
    assert out[3:7] == [
        "              now accept  now review  now decline",
        "was accept             1           0            0",
        "was review             0           0            0",
        "was decline            1           0            1",
    ]
    assert "criteria flipped: none" in out
    assert any(line.startswith("verdicts: 0 decision(s) with a verdict") for line in out)
    assert "cases: 3 pass, 1 fail" in out
    assert out[-1].startswith("  cases[2]: case 'relevant, nothing else known': expected decline")
    report = json.loads(raw.stdout)
    assert (report["compared"], report["changed"]) == (3, 1)
    assert report["matrix"]["decline"]["accept"] == 1
    assert json.loads(small.stdout)["compared"] == 1  # answered at once, not as a job
    # The others were jobs, polled at their Location until done.
    with create_engine(f"sqlite:///{tmp_path}/server.db").connect() as connection:
        done = connection.execute(text("SELECT status, compared FROM impact_job")).all()
    assert [tuple(row) for row in done] == [("done", 3), ("done", 3)]

    unchanged = reflexe("diff", EXAMPLE, url=server)
    assert unchanged.exit_code == 0, unchanged.output
    assert "changed: 0 of 3 (0.0%)" in lines(unchanged)

    def retune(data: dict[str, Any]) -> None:
        data["params"]["min_mutual_connections"] = 10
        data["cases"] = []

    retuned = reflexe("diff", write(tmp_path / "retuned.yaml", broken(retune)), url=server)
    assert retuned.exit_code == 0, retuned.output
    out = lines(retuned)
    assert "changed: 0 of 3 (0.0%)" in out
    flipped = out.index("criteria flipped:")
    assert out[flipped + 1] == "  interaction: 1 (met -> unknown 1)"


@pytest.mark.parametrize("command", ["export", "check", "test", "push", "pull", "diff"])
def test_each_file_command_has_help_with_its_exit_codes(command: str) -> None:
    short = runner.invoke(cli, [command, "-h"])
    long = runner.invoke(cli, [command, "--help"])

    assert short.exit_code == 0, short.output
    assert short.output == long.output
    assert short.output.startswith("Usage: ")
    assert f" {command} [OPTIONS]" in short.output.splitlines()[0]
    assert "bool" not in short.output.lower()
    if command != "export":
        assert "Exit codes: 0" in " ".join(short.output.split())


def test_a_file_names_its_privacy_and_a_file_that_does_not_keeps_the_sets(
    server: str, tmp_path: Path
) -> None:
    private = write(
        tmp_path / "private.yaml", {**example(), "privacy": "minimal", "retention_days": 30}
    )
    unnamed = write(tmp_path / "unnamed.yaml", example())
    full = write(tmp_path / "full.yaml", {**example(), "privacy": "full"})

    pushed = reflexe("push", private, url=server)
    again = reflexe("push", unnamed, url=server)
    pulled = reflexe("pull", "pipu", url=server)
    widened = reflexe("push", full, url=server)

    assert pushed.exit_code == 0, pushed.output
    assert pushed.stdout.startswith("pushed pipu version 2")
    # Naming neither, the file is the set as it is: nothing to push.
    assert again.stdout.startswith("unchanged: pipu version 2"), again.output
    assert yaml.safe_load(pulled.stdout)["privacy"] == "minimal"
    assert yaml.safe_load(pulled.stdout)["retention_days"] == 30
    assert widened.stdout.startswith("pushed pipu version 3"), widened.output
    current = httpx.get(f"{server}/criteria/pipu").json()
    assert (current["privacy"], current["retention_days"]) == ("full", 30)
    assert reflexe("check", private).exit_code == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("slug: deep\nname: " + "[" * 2_000 + "]" * 2_000 + "\n", "nested deeper than 512 levels"),
        (
            "slug: deep\nparams:\n" + "".join("  " * (i + 1) + "k:\n" for i in range(1_500)),
            "nested deeper than 512 levels",
        ),
        ("slug: wide\nparams:\n  floor: 9007199254740993\n", "params.floor: an integer beyond"),
        ("slug: long\nparams:\n  floor: " + "9" * 5_000 + "\n", "more than 4,300 digits"),
        ("slug: one\nname: x\nslug: two\n", "found the key 'slug' twice (line 3, column 1)"),
    ],
    ids=["brackets", "indentation", "wide-integer", "long-integer", "duplicate-key"],
)
def test_check_refuses_what_no_parser_or_hash_takes_in_one_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "set.yaml"
    if "wide" in text:  # a set that is valid but for the integer
        data = example() | {"slug": "wide", "params": {**example()["params"], "floor": 2**53 + 1}}
        write(path, data)
    else:
        path.write_text(text)

    result = reflexe("check", path)

    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_export_refuses_a_version_beyond_any_stored(local_database: str) -> None:
    result = reflexe("export", "pipu", "--version", "99999999999999999999")

    assert result.exit_code == 2
    assert "1<=x<=1000000" in result.output
