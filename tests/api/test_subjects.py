"""A person's access and erasure requests (/subjects), the record of erasures (/erasures),
and the erasure made physical: through HTTP and the CLI, on SQLite and PostgreSQL."""

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from app.cli import cli
from app.db import utcnow
from app.runtime import runtime_of
from app.settings import Settings, get_settings
from tests.conftest import SECRET_KEY, serving, sqlite_path
from tests.factories import make_criteria_set

REF = "https://www.linkedin.com/in/jeanne-martin"
OTHER = "https://www.linkedin.com/in/paul-durand"
runner = CliRunner()


@pytest.fixture
def app_client(settings: Settings, admin_key: str) -> Iterator[TestClient]:
    """The app with webhooks that are never sent (no worker), to a loopback target."""
    with serving(
        settings, admin_key, webhook_workers=False, webhook_allow_private_targets=True
    ) as client:
        yield client


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI on the test database, with the app's secret (so the same subject keys)."""
    monkeypatch.setenv("REFLEXE_DATABASE_URL", database_url)
    monkeypatch.setenv("REFLEXE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("REFLEXE_DEV_MODE", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def engine_of(client: TestClient) -> Engine:
    return runtime_of(client.app).engine  # type: ignore[arg-type]


def create_set(client: TestClient, slug: str, **fields: Any) -> None:
    response = client.post("/criteria", json=make_criteria_set(slug, review_at=1) | fields)
    assert response.status_code == 201, response.text


def decide(
    client: TestClient,
    ref: str | None,
    criteria_set: str = "triage",
    *,
    name: str = "Jeanne Martin",
    headline: str = "Head of Sales at Acme",
    answers: dict[str, bool] | None = None,
    **headers: str,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "criteria_set": criteria_set,
        "answers": answers if answers is not None else {"relevant": True},  # a `review`
        "attributes": {"headline": headline, "mutual_connections": 3},
    }
    if ref is not None:
        body["subject"] = {"ref": ref, "name": name}
    response = client.post("/evaluate", json=body, headers=headers)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def subject_path(ref: str) -> str:
    return f"/subjects/{quote(ref, safe='')}"


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar_one()


@pytest.fixture
def stored(app_client: TestClient) -> dict[str, Any]:
    """Two subjects' records of every kind: decisions under `full` and `minimal`, a verdict,
    a queue entry, webhook events waiting, a pending case, idempotency keys (one single, one
    batch), an impact report whose sample names one of them."""
    client = app_client
    create_set(client, "triage")
    create_set(client, "quiet", privacy="minimal")
    subscribed = client.post(
        "/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["evaluation.created"]},
    )
    assert subscribed.status_code == 201, subscribed.text
    first = decide(client, REF, **{"Idempotency-Key": "first"})
    second = decide(client, REF, answers={"relevant": True, "active": True})  # accept
    minimal = decide(client, REF, "quiet")
    other = decide(client, OTHER, name="Paul Durand")
    batch = client.post(
        "/evaluate/batch",
        json={
            "items": [
                {"criteria_set": "triage", "subject": {"ref": REF}, "answers": {"active": True}},
                {"criteria_set": "triage", "subject": {"ref": OTHER}, "answers": {}},
            ],
            "answer": "compact",
        },
        headers={"Idempotency-Key": "batch"},
    )
    assert batch.status_code == 200, batch.text
    batched = batch.json()["items"][0]["id"]
    verdict = client.put(
        f"/evaluations/{first['id']}/verdict",
        json={"decision": "accept", "reason": "A client.", "criteria": {"relevant": True}},
    )
    assert verdict.status_code == 201, verdict.text
    case = client.post(f"/evaluations/{second['id']}/case", json={})
    assert case.status_code == 201, case.text
    report = {"sample": [{"id": first["id"]}, {"id": other["id"]}], "compared": 2}
    with engine_of(client).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO impact_job (id, criteria_set_slug, status, request, total, "
                "compared, report, created_at, heartbeat_at) VALUES (:id, 'triage', 'done', "
                "'{}', 2, 2, :report, :now, :now)"
            ),
            {"id": uuid.uuid4().hex, "report": json.dumps(report), "now": utcnow()},
        )
    return {
        "ids": [first["id"], second["id"], minimal["id"], batched],
        "first": first,
        "second": second,
        "minimal": minimal,
        "other": other,
    }


# --- access -------------------------------------------------------------------


def test_a_subject_shows_every_kind_of_record(
    app_client: TestClient, stored: dict[str, Any]
) -> None:
    found = app_client.get(subject_path(REF))

    assert found.status_code == 200, found.text
    body = found.json()
    assert body["counts"] == {
        "decisions": 4,
        "verdicts": 1,
        "verdict_criteria": 1,
        "verdict_leaves": 0,
        "review_queue_entries": 2,  # the batch's and the minimised `review`s; the first left it
        "pending_cases": 1,
        "idempotency_records": 2,
        "webhook_events": 4,
        "webhook_deliveries": 4,
        "undelivered": 4,
        "webhook_attempts": 0,
        "impact_samples": 1,
        "unlinked_decisions": 0,
    }
    assert body["next_cursor"] is None
    decisions = {d["evaluation"]["id"]: d for d in body["decisions"]}
    assert set(decisions) == set(stored["ids"])
    first = decisions[stored["first"]["id"]]
    assert first["evaluation"]["verdict"]["decision"] == "accept"
    assert [v["sequence"] for v in first["verdicts"]] == [1]
    assert first["inputs"]["attributes"]["headline"] == "Head of Sales at Acme"
    assert first["inputs"]["subject"] == {"ref": REF, "name": "Jeanne Martin"}
    assert first["events"][0]["type"] == "evaluation.created"
    assert first["events"][0]["deliveries"][0]["state"] == "pending"
    assert decisions[stored["second"]["id"]]["pending_cases"][0]["slug"] == "triage"
    assert decisions[stored["ids"][3]]["in_review_queue"] is True
    # The minimised decision, found through the ref's keyed hash: it keeps no ref at all.
    minimal = decisions[stored["minimal"]["id"]]
    assert minimal["evaluation"]["privacy"] == "minimal"
    assert minimal["inputs"] == {
        "id": stored["minimal"]["id"],
        "subject": None,
        "answers": {"relevant": True},
        "attributes": {},
        "privacy": "minimal",
    }
    assert stored["other"]["id"] not in decisions


def test_the_search_in_the_body_answers_as_the_path_does(
    app_client: TestClient, stored: dict[str, Any]
) -> None:
    by_path = app_client.get(subject_path(REF))
    by_body = app_client.post("/subjects", json={"ref": REF})
    # Unencoded slashes reach the same subject.
    raw = app_client.get(f"/subjects/{REF}")

    assert by_body.status_code == 200, by_body.text
    assert by_body.json() == by_path.json() == raw.json()


def test_a_subject_is_paged_by_cursor(app_client: TestClient, stored: dict[str, Any]) -> None:
    first = app_client.get(subject_path(REF), params={"limit": 3}).json()
    second = app_client.post(
        "/subjects", json={"ref": REF, "limit": 3, "cursor": first["next_cursor"]}
    ).json()

    assert len(first["decisions"]) == 3
    assert len(second["decisions"]) == 1
    assert second["next_cursor"] is None
    pages = first["decisions"] + second["decisions"]
    assert {d["evaluation"]["id"] for d in pages} == set(stored["ids"])
    assert first["counts"] == second["counts"]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/subjects/x?cursor=not-a-cursor", None, "cursor"),
        ("GET", "/subjects/x?limit=0", None, "limit"),
        ("POST", "/subjects", {}, "ref"),
        ("POST", "/subjects", {"ref": ""}, "ref"),
        ("POST", "/subjects", {"ref": "x", "extra": 1}, "extra"),
        ("POST", "/erasures", {"ref": "x", "vacuum": "often"}, "vacuum"),
        ("GET", "/erasures?kind=forgetting", None, "kind"),
        ("GET", "/erasures?cursor=not-a-cursor", None, "cursor"),
        # A ref that /evaluate refuses names no one, and is not erased either.
        ("GET", "/subjects/before%00after", None, "ref"),
        ("DELETE", "/subjects/before%00after", None, "ref"),
        ("POST", "/subjects", {"ref": "before\x00after"}, "ref"),
        ("POST", "/erasures", {"ref": "before\x00after"}, "ref"),
        ("POST", "/subjects", {"ref": "x", "cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    app_client: TestClient, method: str, path: str, body: Any, field: str
) -> None:
    response = app_client.request(method, path, json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert error["location"] == ("body" if body is not None else error["location"])
    assert app_client.get("/erasures").json()["items"] == []


# --- erasure ------------------------------------------------------------------


def test_erasing_a_subject_removes_every_record_of_it_and_nothing_else(
    app_client: TestClient, stored: dict[str, Any], admin_key: str
) -> None:
    client = app_client
    before = client.get(subject_path(REF)).json()["counts"]
    engine = engine_of(client)
    deliveries = scalar(engine, "SELECT count(*) FROM webhook_delivery")

    erased = client.delete(subject_path(REF))

    assert erased.status_code == 200, erased.text
    result = erased.json()
    assert result["counts"] == before
    assert result["kind"] == "erasure"
    assert result["source"] == "api"
    assert result["api_key_id"] == admin_key.split("_")[1]
    assert result["vacuumed"] is False
    assert result["checkpointed"] is (True if engine.dialect.name == "sqlite" else None)
    for evaluation_id in stored["ids"]:
        assert client.get(f"/evaluations/{evaluation_id}").status_code == 404
        assert client.get(f"/evaluations/{evaluation_id}/inputs").status_code == 404
        assert client.get(f"/evaluations/{evaluation_id}/verdicts").status_code == 404
    assert client.get("/evaluations", params={"subject": REF}).json()["items"] == []
    empty = client.get(subject_path(REF)).json()
    assert empty["decisions"] == []
    assert set(empty["counts"].values()) == {0}
    queued = {item["evaluation"]["id"] for item in client.get("/reviews").json()["items"]}
    assert queued.isdisjoint(stored["ids"])
    assert queued  # the other subject's `review`s wait still
    # The other subject keeps everything: its decisions, its waiting events.
    other = client.get(f"/evaluations/{stored['other']['id']}")
    assert other.status_code == 200
    assert other.json()["subject"]["ref"] == OTHER
    assert client.get(subject_path(OTHER)).json()["counts"]["decisions"] == 2
    assert scalar(engine, "SELECT count(*) FROM webhook_delivery") == deliveries - 4
    # The impact report's sample keeps the other's entry alone, the keys only the other's.
    sample = scalar(engine, "SELECT report FROM impact_job")
    sample = json.loads(sample) if isinstance(sample, str) else sample
    assert sample["sample"] == [{"id": stored["other"]["id"]}]
    assert scalar(engine, "SELECT count(*) FROM idempotency_key") == 0
    assert scalar(engine, "SELECT count(*) FROM criteria_pending_case") == 0


def test_an_erasure_is_recorded_without_anything_of_the_person(
    app_client: TestClient, stored: dict[str, Any]
) -> None:
    keys = runtime_of(app_client.app).subject_keys  # type: ignore[arg-type]
    erased = app_client.post("/erasures", json={"ref": REF}).json()

    listed = app_client.get("/erasures")

    assert listed.status_code == 200, listed.text
    [record] = listed.json()["items"]
    assert record == {k: v for k, v in erased.items() if k not in ("checkpointed", "vacuumed")}
    assert record["counts"]["decisions"] == 4
    with engine_of(app_client).connect() as connection:
        kept = json.dumps(
            [list(row) for row in connection.execute(text("SELECT * FROM removal"))], default=str
        )
    for trace in (REF, "jeanne", keys.of(REF), "Head of Sales"):
        assert trace not in listed.text
        assert trace not in kept


def test_erasing_an_unknown_subject_is_a_200_with_zero_counts(app_client: TestClient) -> None:
    first = app_client.delete(subject_path("https://example.com/nobody"))
    again = app_client.post("/erasures", json={"ref": "https://example.com/nobody"})

    assert (first.status_code, again.status_code) == (200, 200)
    assert set(first.json()["counts"].values()) == {0}
    assert set(again.json()["counts"].values()) == {0}
    assert len(app_client.get("/erasures", params={"kind": "erasure"}).json()["items"]) == 2
    assert app_client.get("/erasures", params={"kind": "purge"}).json()["items"] == []


def test_erasures_are_paged_newest_first(app_client: TestClient) -> None:
    for n in range(3):
        app_client.post("/erasures", json={"ref": f"nobody-{n}"})

    first = app_client.get("/erasures", params={"limit": 2}).json()
    second = app_client.get("/erasures", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert len(first["items"]) == 2
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    moments = [item["created_at"] for item in first["items"] + second["items"]]
    assert moments == sorted(moments, reverse=True)


def test_a_vacuum_runs_on_postgresql_only(app_client: TestClient, backend: str) -> None:
    decide(app_client, None, "pipu", answers={"pertinence": True})  # no ref: never erased
    create_set(app_client, "triage")
    decide(app_client, REF)

    erased = app_client.delete(subject_path(REF), params={"vacuum": "true"})

    assert erased.status_code == 200, erased.text
    assert erased.json()["vacuumed"] is (backend == "postgresql")
    assert erased.json()["counts"]["decisions"] == 1
    assert app_client.get("/evaluations").json()["items"][0]["subject"] is None


def test_the_cli_shows_and_erases_a_subject(
    app_client: TestClient, stored: dict[str, Any], cli_env: None
) -> None:
    through_api = app_client.get(subject_path(REF)).json()
    shown = runner.invoke(cli, ["subjects", "show", REF])
    erased = runner.invoke(cli, ["subjects", "erase", REF])
    after = runner.invoke(cli, ["subjects", "show", REF])

    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == through_api
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.stdout)["counts"]["decisions"] == 4
    assert json.loads(erased.stdout)["source"] == "cli"
    assert json.loads(after.stdout)["decisions"] == []
    assert app_client.get(f"/evaluations/{stored['first']['id']}").status_code == 404
    [record] = app_client.get("/erasures").json()["items"]
    assert (record["source"], record["api_key_id"]) == ("cli", None)


def test_the_cli_refuses_an_empty_ref(cli_env: None) -> None:
    result = runner.invoke(cli, ["subjects", "erase", ""])

    assert result.exit_code == 1
    assert "ref" in result.output


def test_a_subject_with_more_decisions_than_a_chunk_is_erased_whole(
    settings: Settings, admin_key: str
) -> None:
    with serving(settings, admin_key, purge_chunk=2) as client:
        create_set(client, "triage")
        ids = [decide(client, REF, **{"Idempotency-Key": f"k{n}"})["id"] for n in range(5)]
        other = decide(client, OTHER)["id"]
        shown = client.get(subject_path(REF)).json()["counts"]

        erased = client.delete(subject_path(REF)).json()["counts"]

        assert shown == erased
        assert (erased["decisions"], erased["idempotency_records"]) == (5, 5)
        assert erased["unlinked_decisions"] == 0  # every later one went too
        assert all(client.get(f"/evaluations/{i}").status_code == 404 for i in ids)
        assert client.get(f"/evaluations/{other}").status_code == 200


# --- the canary: nothing of an erased subject left in the database's bytes ----------


def test_an_erased_canary_is_gone_from_the_database_and_its_wal(
    app_client: TestClient, backend: str, database_url: str
) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    create_set(app_client, "triage")
    decided = decide(app_client, f"https://example.com/{canary}", name=canary, headline=canary)
    engine = engine_of(app_client)
    if backend == "sqlite":
        path = sqlite_path(database_url)
        wal = path.with_name(path.name + "-wal")
        before = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert canary.encode() in before  # it was there to be found

    erased = app_client.delete(subject_path(f"https://example.com/{canary}"))

    assert erased.status_code == 200, erased.text
    assert erased.json()["counts"]["decisions"] == 1
    assert app_client.get(f"/evaluations/{decided['id']}").status_code == 404
    if backend == "sqlite":
        assert erased.json()["checkpointed"] is True
        after = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert canary.encode() not in after
    else:
        for table, column in [("evaluation", "answer"), ("evaluation", "attributes")]:
            found = scalar(
                engine,
                f"SELECT count(*) FROM {table} WHERE CAST({column} AS TEXT) LIKE :canary",
                canary=f"%{canary}%",
            )
            assert found == 0
    listed = app_client.get("/evaluations").text
    assert canary not in listed
