"""Metrics, request ids and JSON logs, through HTTP."""

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from app.main import create_app
from app.monitoring.logs import RequestIdFilter, json_formatter
from app.runtime import runtime_of
from app.settings import Settings
from tests.conftest import local_client
from tests.factories import as_key, new_key

EVALUATE = {"answers": {"pertinence": True, "utilite": True}}
TOKEN = "a-scraper-token-that-is-long-enough-0123"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    path = "/evaluations/01a21575-af78-76c7-9d61-81b91b010867"
    before = scrape(client)

    client.get(path)
    client.get(path)
    client.post("/evaluate", json=EVALUATE)
    after = scrape(client)

    labels = {"method": "GET", "route": "/evaluations/{evaluation_id}", "status": "404"}
    assert (
        value(after, "reflexe_http_requests_total", **labels)
        - value(before, "reflexe_http_requests_total", **labels)
        == 2
    )
    assert value(after, "reflexe_http_request_duration_seconds_count", **labels) >= 2
    assert not any(path in dict(key[1]).get("route", "") for key in after)
    stored = {"method": "POST", "route": "/evaluate", "status": "201"}
    assert value(after, "reflexe_http_requests_total", **stored) >= 1


def test_a_refusal_before_routing_is_counted_under_its_route(client: TestClient) -> None:
    anonymous = TestClient(client.app, raise_server_exceptions=False)
    labels = {"method": "POST", "route": "/evaluate", "status": "401"}
    before = value(scrape(client), "reflexe_http_requests_total", **labels)

    anonymous.post("/evaluate", json=EVALUATE)

    assert value(scrape(client), "reflexe_http_requests_total", **labels) == before + 1


def test_stored_decisions_are_counted_by_set_and_outcome(client: TestClient) -> None:
    labels = {"criteria_set": "pipu", "outcome": "decline"}
    before = scrape(client)

    for _ in range(3):
        assert client.post("/evaluate", json={"answers": {}}).status_code == 201
    client.post("/evaluate", json={"answers": {}, "dry_run": True})
    after = scrape(client)

    assert (
        value(after, "reflexe_decisions_total", **labels)
        - value(before, "reflexe_decisions_total", **labels)
        == 3
    )
    assert value(after, "reflexe_writer_group_decisions_count") > value(
        before, "reflexe_writer_group_decisions_count"
    )
    assert value(after, "reflexe_writer_commit_seconds_count") > value(
        before, "reflexe_writer_commit_seconds_count"
    )
    assert ("reflexe_writer_queue_depth", frozenset()) in after


def test_verdicts_are_counted(client: TestClient) -> None:
    decided = client.post("/evaluate", json={"answers": {}}).json()
    before = value(scrape(client), "reflexe_verdicts_total", decision="accept")

    given = client.put(
        f"/evaluations/{decided['id']}/verdict", json={"decision": "accept", "reason": "fine"}
    )

    assert given.status_code == 201, given.text
    assert value(scrape(client), "reflexe_verdicts_total", decision="accept") == before + 1


def test_a_failed_commit_is_counted(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = runtime_of(client.app).writer  # type: ignore[arg-type]
    before = value(scrape(client), "reflexe_writer_failed_commits_total")

    def fail(*_: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("gone"))

    monkeypatch.setattr(writer, "_write", fail)
    refused = client.post("/evaluate", json=EVALUATE)

    assert refused.status_code == 503
    assert value(scrape(client), "reflexe_writer_failed_commits_total") == before + 1


def test_the_pool_build_and_webhook_metrics_are_there(client: TestClient) -> None:
    samples = scrape(client)

    assert value(samples, "reflexe_db_pool_size") >= 1
    assert ("reflexe_db_pool_checked_out", frozenset()) in samples
    assert ("reflexe_webhook_delivery_seconds_count", frozenset()) in samples
    info = [dict(labels) for name, labels in samples if name == "reflexe_build_info"]
    assert info
    assert info[0]["version"] == "0.1.0"
    assert info[0]["python"].startswith("3.")
    response = client.get("/metrics")
    assert "# TYPE reflexe_webhook_deliveries_total counter" in response.text


def test_rate_limit_refusals_are_counted(client: TestClient, settings: Settings) -> None:
    key = new_key(client, "auditor")
    before = scrape(client)
    limited = settings.model_copy(
        update={"rate_limit": "1/minute", "auth_failure_limit": "1/minute"}
    )

    with TestClient(create_app(limited), raise_server_exceptions=False) as app:
        app.get("/criteria", headers=as_key(key))
        assert app.get("/criteria", headers=as_key(key)).status_code == 429
        app.get("/criteria")
        assert app.get("/criteria").status_code == 429
    after = scrape(client)

    for reason in ("key", "auth_failures"):
        assert (
            value(after, "reflexe_rate_limited_total", reason=reason)
            == value(before, "reflexe_rate_limited_total", reason=reason) + 1
        )


# --- access --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"), [("auditor", 200), ("evaluator", 403), ("reviewer", 403)]
)
def test_metrics_need_an_admin_or_auditor_key(client: TestClient, role: str, status: int) -> None:
    anonymous = TestClient(client.app, raise_server_exceptions=False)

    assert anonymous.get("/metrics").status_code == 401
    response = client.get("/metrics", headers=as_key(new_key(client, role)))
    assert response.status_code == status
    if status != 200:
        assert response.headers["content-type"] == "application/problem+json"


@pytest.fixture
def with_token(settings: Settings) -> Iterator[TestClient]:
    update = {"metrics_token": SecretStr(TOKEN)}
    with TestClient(
        create_app(settings.model_copy(update=update)), raise_server_exceptions=False
    ) as app:
        yield app


def test_the_scraper_token_reads_the_metrics_only(with_token: TestClient) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}

    assert with_token.get("/metrics", headers=bearer).status_code == 200
    assert (
        with_token.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
    )
    assert with_token.get("/criteria", headers=bearer).status_code == 401


def test_dev_mode_lets_loopback_read_the_metrics(settings: Settings) -> None:
    dev = settings.model_copy(update={"dev_mode": True})
    with local_client(create_app(dev)) as app:
        assert app.get("/metrics").status_code == 200


def test_metrics_can_be_turned_off(settings: Settings, admin_key: str) -> None:
    off = settings.model_copy(update={"metrics_enabled": False})
    with TestClient(create_app(off), headers=as_key(admin_key)) as app:
        response = app.get("/metrics")
        assert response.status_code == 404
        assert response.headers["x-request-id"]


# --- request ids -----------------------------------------------------------------


@pytest.mark.parametrize(
    "sent", ["abc", "0f6a-4c1d.req:7_X", "a" * 128], ids=["short", "punctuated", "longest"]
)
def test_a_sane_request_id_is_echoed(client: TestClient, sent: str) -> None:
    response = client.post("/evaluate", json=EVALUATE, headers={"X-Request-ID": sent})

    assert response.headers["x-request-id"] == sent


@pytest.mark.parametrize("sent", ["a" * 129, "has space", 'quote"', "semi;colon", ""])
def test_an_insane_request_id_is_replaced(client: TestClient, sent: str) -> None:
    response = client.get("/criteria", headers={"X-Request-ID": sent})

    assert response.headers["x-request-id"] != sent
    assert len(response.headers["x-request-id"]) == 32


def test_every_answer_has_a_new_id_without_one(client: TestClient) -> None:
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(3)}

    assert len(ids) == 3


def _problem_ids(response: Any) -> tuple[str, str]:
    assert response.headers["content-type"] == "application/problem+json"
    return response.headers["x-request-id"], response.json()["request_id"]


def test_problem_documents_carry_the_request_id(client: TestClient, settings: Settings) -> None:
    anonymous = TestClient(client.app, raise_server_exceptions=False)

    def explode() -> None:
        raise RuntimeError("boom")

    client.app.add_api_route("/boom", explode)  # type: ignore[attr-defined]
    answers = [
        anonymous.get("/criteria", headers={"X-Request-ID": "mine"}),  # 401
        client.post("/evaluate", content=b"x" * 70_000, headers={"X-Request-ID": "mine"}),  # 413
        client.get("/nowhere", headers={"X-Request-ID": "mine"}),  # 404
        client.get("/boom", headers={"X-Request-ID": "mine"}),  # 500
    ]
    with TestClient(create_app(settings.model_copy(update={"rate_limit": "1/minute"}))) as app:
        key = as_key(new_key(client, "auditor"))
        app.get("/criteria", headers=key)
        answers.append(app.get("/criteria", headers={**key, "X-Request-ID": "mine"}))  # 429

    assert [a.status_code for a in answers] == [401, 413, 404, 500, 429]
    assert all(_problem_ids(answer) == ("mine", "mine") for answer in answers)


# --- JSON logs -------------------------------------------------------------------


def test_json_logs_have_one_access_line_per_request(
    client: TestClient, settings: Settings, admin_key: str
) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("reflexe.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    secret_attribute = "Chief Synergy Officer at Secretcorp"
    body = {"answers": {}, "attributes": {"headline": secret_attribute}}
    try:
        with TestClient(
            create_app(settings.model_copy(update={"log_format": "json"})),
            headers=as_key(admin_key),
        ) as app:
            app.post("/evaluate", json=body, headers={"X-Request-ID": "req-1"})
            app.get("/criteria/pipu")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("POST", "/evaluate", 201),
        ("GET", "/criteria/{slug}", 200),
    ]
    assert lines[0]["request_id"] == "req-1"
    assert lines[0]["key_id"] == admin_key[4:16]
    assert isinstance(lines[0]["duration_ms"], float)
    assert {"time", "level", "logger", "message", "pid"} <= lines[0].keys()
    assert admin_key[17:] not in out.getvalue()
    assert secret_attribute not in out.getvalue()
