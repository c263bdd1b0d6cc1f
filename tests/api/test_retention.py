"""Retention: decisions past their set's (or the service's) retention are purged in bounded
chunks, by `reflexe purge` and by the daily job that one process of all runs."""

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from app.cli import cli
from app.db import utcnow
from app.evaluations.models import EvaluationRecord
from app.main import create_app
from app.runtime import runtime_of
from app.settings import Settings, get_settings
from app.subjects import retention
from app.subjects.models import Lease, RemovalSource
from tests.conftest import SECRET_KEY
from tests.factories import make_criteria_set

runner = CliRunner()
_EVALUATIONS = EvaluationRecord.__table__  # type: ignore[attr-defined]
PIPU = {"criteria_set": "pipu", "answers": {"pertinence": True}}


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("REFLEXE_DATABASE_URL", database_url)
    monkeypatch.setenv("REFLEXE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("REFLEXE_DEV_MODE", "false")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def engine_of(client: TestClient) -> Engine:
    return runtime_of(client.app).engine  # type: ignore[arg-type]


def decide(client: TestClient, body: dict[str, Any]) -> str:
    response = client.post("/evaluate", json=body)
    assert response.status_code == 201, response.text
    evaluation_id: str = response.json()["id"]
    return evaluation_id


def age(client: TestClient, days: float, *ids: str) -> None:
    """Move decisions `days` into the past, as if they had been made then."""
    at = utcnow() - timedelta(days=days)
    with engine_of(client).begin() as connection:
        connection.execute(
            update(_EVALUATIONS)
            .where(_EVALUATIONS.c.id.in_([uuid.UUID(i) for i in ids]))
            .values(created_at=at, created_on=at.date())
        )


def purge(*options: str) -> dict[str, Any]:
    result = runner.invoke(cli, ["purge", *options])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_decisions_past_their_retention_are_purged_by_days_and_per_set(
    client: TestClient, cli_env: pytest.MonkeyPatch
) -> None:
    cli_env.setenv("REFLEXE_RETENTION_DAYS", "30")  # pipu's; triage keeps its own 7 days
    created = client.post("/criteria", json=make_criteria_set("triage") | {"retention_days": 7})
    assert created.status_code == 201, created.text
    triage = {"criteria_set": "triage", "answers": {"relevant": True, "active": True}}
    triage_old, triage_new = decide(client, triage), decide(client, triage)
    ref = {"subject": {"ref": "https://www.linkedin.com/in/ada"}}
    pipu_old = decide(client, PIPU | ref)
    pipu_mid = decide(client, PIPU)
    pipu_new = decide(client, PIPU | ref)  # its previous decision is pipu_old
    assert client.get(f"/evaluations/{pipu_new}").json()["previous_id"] == pipu_old
    verdict = {"decision": "decline", "reason": "Not now."}
    assert client.put(f"/evaluations/{triage_old}/verdict", json=verdict).status_code == 201
    age(client, 10, triage_old, pipu_mid)
    age(client, 2, triage_new)
    age(client, 40, pipu_old)

    dry = purge("--dry-run")

    assert dry["dry_run"] is True
    assert dry["record_id"] is None
    assert dry["counts"]["decisions"] == 2
    assert dry["counts"]["verdicts"] == 1
    assert dry["counts"]["unlinked_decisions"] == 1
    assert {slug: counts["decisions"] for slug, counts in dry["sets"].items()} == {
        "pipu": 1,
        "triage": 1,
    }
    for kept in (triage_old, triage_new, pipu_old, pipu_mid, pipu_new):
        assert client.get(f"/evaluations/{kept}").status_code == 200
    assert client.get("/erasures").json()["items"] == []

    done = purge()

    assert {k: v for k, v in done.items() if k not in ("dry_run", "record_id")} == {
        k: v for k, v in dry.items() if k not in ("dry_run", "record_id")
    }
    for gone in (triage_old, pipu_old):
        assert client.get(f"/evaluations/{gone}").status_code == 404
    for kept in (triage_new, pipu_mid, pipu_new):
        assert client.get(f"/evaluations/{kept}").status_code == 200
    with engine_of(client).connect() as connection:
        previous = connection.execute(
            select(_EVALUATIONS.c.previous_id).where(_EVALUATIONS.c.id == uuid.UUID(pipu_new))
        ).scalar_one()
    assert previous is None
    [record] = client.get("/erasures", params={"kind": "purge"}).json()["items"]
    assert record["id"] == done["record_id"]
    assert (record["source"], record["api_key_id"]) == ("cli", None)
    assert record["counts"] == done["counts"]
    assert record["sets"] == done["sets"]
    assert purge()["counts"]["decisions"] == 0  # nothing left past its retention


def test_without_a_retention_nothing_is_purged(
    client: TestClient, cli_env: pytest.MonkeyPatch
) -> None:
    old = decide(client, PIPU)
    age(client, 4000, old)

    report = purge()

    assert report["sets"] == {}
    assert (report["chunks"], report["record_id"]) == (0, None)
    assert client.get(f"/evaluations/{old}").status_code == 200
    assert client.get("/erasures").json()["items"] == []


def old_decisions(client: TestClient, count: int, days: float) -> list[str]:
    answer = client.post("/evaluate/batch", json={"items": [PIPU] * count, "answer": "compact"})
    assert answer.status_code == 200, answer.text
    ids = [item["id"] for item in answer.json()["items"]]
    age(client, days, *ids)
    return ids


def test_the_purge_works_in_bounded_chunks_while_evaluations_go_on(
    client: TestClient, settings: Settings
) -> None:
    old = old_decisions(client, 45, days=400)
    tuned = settings.model_copy(update={"retention_days": 30, "purge_chunk": 4})
    write_engine = runtime_of(client.app).write_engine  # type: ignore[arg-type]
    reports: list[retention.PurgeReport] = []
    purging = threading.Thread(
        target=lambda: reports.append(
            retention.purge(write_engine, tuned, dry_run=False, source=RemovalSource.SCHEDULE)
        )
    )

    purging.start()
    statuses = [client.post("/evaluate", json=PIPU).status_code for _ in range(30)]
    purging.join()

    assert statuses == [201] * 30
    [report] = reports
    assert report.counts.decisions == 45
    assert report.chunks == 12  # 11 chunks of 4, one of 1
    assert report.largest_chunk == 4
    [record] = client.get("/erasures").json()["items"]
    assert (record["chunks"], record["largest_chunk"]) == (12, 4)
    assert record["counts"]["decisions"] == 45
    assert all(client.get(f"/evaluations/{i}").status_code == 404 for i in old[:3])
    assert len(client.get("/evaluations", params={"limit": 100}).json()["items"]) == 30


def test_the_daily_purge_runs_in_one_process_at_a_time(
    client: TestClient, settings: Settings
) -> None:
    old_decisions(client, 10, days=400)
    tuned = settings.model_copy(update={"retention_days": 30})
    other_app = create_app(settings)
    with TestClient(other_app, raise_server_exceptions=False):
        engines = [
            runtime_of(client.app).write_engine,  # type: ignore[arg-type]
            runtime_of(other_app).write_engine,
        ]
        start = threading.Barrier(2)
        reports: dict[str, retention.PurgeReport | None] = {}

        def run(holder: str, engine: Engine) -> None:
            start.wait()
            reports[holder] = retention.run_scheduled(engine, tuned, holder)

        threads = [
            threading.Thread(target=run, args=(f"process-{n}", engine))
            for n, engine in enumerate(engines)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        later = retention.run_scheduled(engines[1], tuned, "process-1")

    ran = [report for report in reports.values() if report is not None]
    assert len(reports) == 2
    assert len(ran) == 1  # one took the day's lease, the other found it held
    assert ran[0].counts.decisions == 10
    assert later is None  # still the same day
    records = client.get("/erasures").json()["items"]
    assert [(r["kind"], r["source"]) for r in records] == [("purge", "schedule")]
    # A day later, the lease has run out: whoever comes first takes it.
    with engine_of(client).begin() as connection:
        connection.execute(
            update(Lease.__table__).values(until=utcnow() - timedelta(seconds=1))  # type: ignore[arg-type]
        )
    assert retention.run_scheduled(engines[0], tuned, "process-1") is not None


def test_a_stopping_process_ends_its_purge_after_the_chunk_under_way(
    client: TestClient, settings: Settings
) -> None:
    old_decisions(client, 10, days=400)
    tuned = settings.model_copy(update={"retention_days": 30, "purge_chunk": 3})
    write_engine = runtime_of(client.app).write_engine  # type: ignore[arg-type]
    asked: list[bool] = []

    def stopping() -> bool:  # the process is told to stop once the first chunk is done
        asked.append(True)
        return len(asked) > 1

    stopped = retention.run_scheduled(write_engine, tuned, "stopping", stopping)
    resumed = retention.run_scheduled(write_engine, tuned, "another")

    assert stopped is not None
    assert (stopped.interrupted, stopped.chunks, stopped.counts.decisions) == (True, 1, 3)
    assert resumed is not None  # the lease was let go: another process took the rest
    assert (resumed.interrupted, resumed.counts.decisions) == (False, 7)
