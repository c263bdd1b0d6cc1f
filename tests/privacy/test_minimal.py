"""A set's privacy through HTTP: what `minimal` keeps of a decision, and what it does not."""

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.main import create_app
from app.privacy import SubjectKeys
from app.runtime import runtime_of
from app.settings import Settings
from tests.conftest import SECRET_KEY, empty_database, sqlite_path
from tests.webhooks.receiver import Receiver, receiving


def canary() -> str:
    """A string found nowhere but where this test puts it."""
    return f"canary{uuid.uuid4().hex}"


def profile(mark: str, **answers: bool | None) -> dict[str, Any]:
    """A PIPU profile whose every personal value carries `mark`."""
    return {
        "subject": {"ref": f"https://www.linkedin.com/in/{mark}", "name": f"Ada {mark}"},
        "answers": answers,
        "attributes": {
            "headline": f"Founder at {mark}",
            "current_title": f"Coach {mark}",
            "company": f"{mark} Consulting",
            "location": f"{mark} City",
            "message": f"Hello from {mark}",
            "skills": [mark, "coaching"],
            "mutual_connections": 7,
        },
    }


def minimise(client: TestClient, slug: str = "pipu", **fields: Any) -> dict[str, Any]:
    """The set's next version, under `minimal`."""
    current = client.get(f"/criteria/{slug}")
    body = {**current.json(), "privacy": "minimal", **fields}
    response = client.put(
        f"/criteria/{slug}", json=body, headers={"If-Match": current.headers["etag"]}
    )
    assert response.status_code == 200, response.text
    replaced: dict[str, Any] = response.json()
    return replaced


def evaluate(client: TestClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = client.post("/evaluate", json=body, headers=headers)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


# --- the setting -------------------------------------------------------------------


def test_a_set_is_full_by_default_and_names_its_privacy(client: TestClient) -> None:
    pipu = client.get("/criteria/pipu").json()

    assert pipu["privacy"] == "full"
    assert pipu["retention_days"] is None


def test_a_new_version_keeps_the_privacy_it_does_not_name(client: TestClient) -> None:
    minimise(client)
    current = client.get("/criteria/pipu")
    body = {k: v for k, v in current.json().items() if k not in ("privacy", "retention_days")}
    body["description"] = "Edited without naming its privacy."

    response = client.put(
        "/criteria/pipu", json=body, headers={"If-Match": current.headers["etag"]}
    )

    assert response.status_code == 200, response.text
    assert response.json()["privacy"] == "minimal"
    assert [v["privacy"] for v in client.get("/criteria/pipu/versions").json()["items"]] == [
        "full",
        "minimal",
        "minimal",
    ]


def test_retention_days_is_kept_until_set_to_null(client: TestClient) -> None:
    minimise(client, retention_days=30)
    current = client.get("/criteria/pipu")
    unnamed = {k: v for k, v in current.json().items() if k != "retention_days"}
    kept = client.put("/criteria/pipu", json=unnamed, headers={"If-Match": current.headers["etag"]})
    assert kept.json()["retention_days"] == 30

    cleared = client.put(
        "/criteria/pipu",
        json={**unnamed, "retention_days": None},
        headers={"If-Match": kept.headers["etag"]},
    )

    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["retention_days"] is None


@pytest.mark.parametrize("value", ["none", "", 1, None])
def test_an_unknown_privacy_is_a_422_naming_the_field(client: TestClient, value: Any) -> None:
    current = client.get("/criteria/pipu")
    body = {**current.json(), "privacy": value}
    if value is None:
        body["retention_days"] = 0

    response = client.put(
        "/criteria/pipu", json=body, headers={"If-Match": current.headers["etag"]}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == (["retention_days"] if value is None else ["privacy"])


def test_the_deployment_default_applies_to_new_sets(settings: Settings, admin_key: str) -> None:
    app = create_app(settings.model_copy(update={"privacy_default": "minimal"}))
    headers = {"Authorization": f"Bearer {admin_key}"}
    try:
        with TestClient(app, raise_server_exceptions=False, headers=headers) as client:
            pipu = client.get("/criteria/pipu").json()
            wanted = ("name", "criteria", "policy", "params")
            body = {**{k: v for k, v in pipu.items() if k in wanted}, "slug": "screen"}
            created = client.post("/criteria", json=body)
            named = client.post("/criteria", json={**body, "slug": "named", "privacy": "full"})
    finally:
        empty_database(runtime_of(app).engine, admin_key)

    assert created.status_code == 201, created.text
    assert created.json()["privacy"] == "minimal"
    assert named.json()["privacy"] == "full"


def test_a_set_file_names_a_minimal_privacy_and_its_retention(client: TestClient) -> None:
    before = client.get("/criteria/pipu").json()["content_hash"]
    minimise(client, retention_days=90)

    exported = client.get("/criteria/pipu?format=yaml")
    after = client.get("/criteria/pipu").json()["content_hash"]

    assert exported.status_code == 200, exported.text
    assert "privacy: minimal" in exported.text
    assert "retention_days: 90" in exported.text
    assert after != before


# --- what the log keeps ----------------------------------------------------------


def test_minimal_answers_the_caller_in_full_and_keeps_no_profile_value(
    client: TestClient,
) -> None:
    minimise(client)
    mark = canary()

    answered = evaluate(client, profile(mark, pertinence=True))
    stored = client.get(f"/evaluations/{answered['id']}")
    inputs = client.get(f"/evaluations/{answered['id']}/inputs").json()

    assert answered["privacy"] == "minimal"
    assert mark in json.dumps(answered)  # the caller sent it: they get the explanation
    assert answered["subject"]["name"] == f"Ada {mark}"
    assert stored.status_code == 200
    document = stored.json()
    assert mark not in stored.text
    assert document["privacy"] == "minimal"
    assert document["subject"] is None
    assert [c["met"] for c in document["criteria"]] == [c["met"] for c in answered["criteria"]]
    assert document["decision"] == answered["decision"]
    evidence = [e for c in document["criteria"] for e in c["evidence"]]
    assert evidence
    assert all(e["actual"] is None for e in evidence)
    assert all(e["reason"].startswith(e["attribute"]) for e in evidence)
    assert inputs == {
        "id": answered["id"],
        "subject": None,
        "answers": {"pertinence": True},
        "attributes": {},
        "privacy": "minimal",
    }


def test_full_reads_back_byte_for_byte(client: TestClient) -> None:
    response = client.post("/evaluate", json=profile(canary()))

    stored = client.get(f"/evaluations/{response.json()['id']}")

    assert response.json()["privacy"] == "full"
    assert stored.content == response.content


def test_the_subject_filter_finds_minimised_decisions_by_their_key(client: TestClient) -> None:
    mark = canary()
    first = evaluate(client, profile(mark))
    minimise(client)
    second = evaluate(client, profile(mark))
    evaluate(client, profile(canary()))

    found = client.get("/evaluations", params={"subject": f"https://www.linkedin.com/in/{mark}"})

    assert [item["id"] for item in found.json()["items"]] == [second["id"], first["id"]]


def test_minimised_decisions_of_a_subject_are_linked(client: TestClient) -> None:
    minimise(client)
    mark = canary()
    first = evaluate(client, profile(mark, pertinence=True))

    again = evaluate(client, profile(mark, pertinence=False))
    stored = client.get(f"/evaluations/{again['id']}").json()

    assert again["previous_id"] == first["id"]
    assert stored["previous_id"] == first["id"]
    # Neither kept its attributes: none is said to have changed; the flips are known.
    assert again["changes"]["attributes"] == []
    assert {"key": "pertinence", "was": True, "now": False} in again["changes"]["criteria"]
    assert stored["changes"] == again["changes"]
    assert mark in json.dumps(again)
    assert mark not in json.dumps(stored)


def test_an_idempotent_replay_answers_the_stored_form(client: TestClient) -> None:
    minimise(client)
    mark = canary()
    key = {"Idempotency-Key": f"key-{mark}"}

    first = client.post("/evaluate", json=profile(mark), headers=key)
    again = client.post("/evaluate", json=profile(mark), headers=key)

    assert first.status_code == again.status_code == 201
    assert mark in first.text
    assert again.json()["id"] == first.json()["id"]
    assert mark not in again.text
    assert again.content == client.get(f"/evaluations/{first.json()['id']}").content


def test_a_batch_answers_in_full_and_stores_minimised(client: TestClient) -> None:
    minimise(client)
    marks = [canary() for _ in range(3)]
    key = {"Idempotency-Key": f"batch-{marks[0]}"}

    response = client.post(
        "/evaluate/batch", json={"items": [profile(m) for m in marks]}, headers=key
    )
    replayed = client.post(
        "/evaluate/batch", json={"items": [profile(m) for m in marks]}, headers=key
    )

    assert response.status_code == 200, response.text
    assert all(m in response.text for m in marks)
    assert replayed.status_code == 200
    assert not any(m in replayed.text for m in marks)
    for item in response.json()["items"]:
        stored = client.get(f"/evaluations/{item['evaluation']['id']}")
        assert not any(m in stored.text for m in marks)


def test_a_dry_run_answers_in_full_and_stores_nothing(client: TestClient) -> None:
    minimise(client)
    mark = canary()

    response = client.post("/evaluate", json={**profile(mark), "dry_run": True})

    assert response.status_code == 200
    assert mark in response.text
    assert client.get("/evaluations").json()["items"] == []


def test_minimised_decisions_cannot_be_replayed_nor_become_cases(client: TestClient) -> None:
    kept = evaluate(client, profile(canary()))
    minimise(client)
    minimised = evaluate(client, profile(canary()))

    report = client.post("/criteria/pipu/impact", json={"version": 1})
    case = client.post(f"/evaluations/{minimised['id']}/case", json={})
    full_case = client.post(f"/evaluations/{kept['id']}/case", json={})

    assert report.status_code == 200, report.text
    assert report.json()["not_replayed"] == 1
    assert report.json()["not_replayed_reasons"] == [
        {"reason": "minimised", "criterion": None, "count": 1}
    ]
    assert report.json()["compared"] == 1
    assert case.status_code == 409
    assert "minimal" in case.json()["detail"]
    assert full_case.status_code == 201, full_case.text


def test_the_row_keeps_the_ref_only_as_its_keyed_hash(client: TestClient) -> None:
    minimise(client)
    mark = canary()
    answered = evaluate(client, profile(mark))
    ref = f"https://www.linkedin.com/in/{mark}"

    with runtime_of(client.app).engine.connect() as connection:  # type: ignore[attr-defined]
        row = connection.execute(
            text(
                "SELECT subject_ref, subject_name, subject_key, attributes, privacy "
                "FROM evaluation WHERE criteria_set_slug = 'pipu'"
            )
        ).one()

    assert answered["id"]
    assert row.subject_ref is None
    assert row.subject_name is None
    assert row.subject_key == SubjectKeys(SECRET_KEY.encode()).of(ref)
    assert row.subject_key != SubjectKeys(b"another secret of enough length").of(ref)
    attributes = json.loads(row.attributes) if isinstance(row.attributes, str) else row.attributes
    assert attributes == {}
    assert row.privacy == "minimal"


# --- the canary: nowhere but in the caller's answer -------------------------------


@pytest.fixture
def observed(settings: Settings, admin_key: str) -> Iterator[TestClient]:
    """The app with webhook targets on loopback allowed and quick polling."""
    tuned = settings.model_copy(
        update={
            "webhook_allow_private_targets": True,
            "webhook_poll_seconds": 0.1,
            "log_format": "json",
        }
    )
    app = create_app(tuned)
    headers = {"Authorization": f"Bearer {admin_key}"}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as client:
        yield client
    # Once the app has stopped: its delivery worker may still be settling a batch.
    empty_database(runtime_of(app).engine, admin_key)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


def _database_files(database_url: str) -> list[Path]:
    path = sqlite_path(database_url)
    return [p for p in (path, Path(f"{path}-wal")) if p.exists()]


def test_a_minimal_canary_is_nowhere_but_in_the_answer(
    observed: TestClient,
    receiver: Receiver,
    settings: Settings,
    backend: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = observed
    minimise(client)
    subscribed = client.post(
        "/webhooks",
        json={"url": receiver.url, "events": ["evaluation.created"], "include_attributes": True},
    )
    assert subscribed.status_code == 201, subscribed.text
    mark = canary()
    caplog.set_level(logging.DEBUG)

    answered = evaluate(client, profile(mark, pertinence=True), **{"Idempotency-Key": "canary-key"})
    batch = client.post("/evaluate/batch", json={"items": [profile(mark), profile(mark)]})
    delivered = receiver.wait_for(3)
    listed = client.get("/evaluations", params={"limit": 100})
    by_subject = client.get(
        "/evaluations", params={"subject": f"https://www.linkedin.com/in/{mark}"}
    )

    assert mark in json.dumps(answered)
    assert batch.status_code == 200
    assert mark in batch.text
    assert len(by_subject.json()["items"]) == 3
    assert mark not in listed.text
    assert mark not in by_subject.text
    for received in delivered:
        assert mark not in received.body.decode()
        assert mark not in json.dumps(received.headers)
    # Every record the service wrote (the test client's own, of the URLs it calls, aside).
    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__}"
        for record in caplog.records
        if record.name != "httpx2"
    )
    assert mark not in logged
    with runtime_of(client.app).engine.connect() as connection:  # type: ignore[attr-defined]
        for table in ("evaluation", "idempotency_key", "webhook_event", "review_queue"):
            dumped = connection.execute(text(f"SELECT * FROM {table}")).all()
            assert mark not in repr(dumped), table
    if backend == "sqlite":
        files = _database_files(settings.database_url)
        assert files
        for path in files:
            assert mark.encode() not in path.read_bytes(), path.name


def test_the_current_privacy_governs_a_decision_pinned_to_an_older_version(
    client: TestClient,
) -> None:
    minimise(client)
    mark = canary()

    pinned = evaluate(client, {**profile(mark), "criteria_set": "pipu", "version": 1})
    stored = client.get(f"/evaluations/{pinned['id']}")

    assert pinned["criteria_set"] == {"slug": "pipu", "version": 1}
    assert pinned["privacy"] == "minimal"
    assert mark not in stored.text
