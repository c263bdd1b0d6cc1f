"""API keys and roles: who may call what, and how a refused call is answered."""

import hashlib
import hmac
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, event, text

from app.main import create_app
from app.runtime import StartupRefused, runtime_of
from app.settings import Settings
from tests.conftest import SECRET_KEY, local_client
from tests.factories import as_key, new_key

EVALUATE = {"answers": {"pertinence": True, "utilite": True}}


def protected_operations(client: TestClient) -> list[tuple[str, str]]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    values = {
        "{slug}": "pipu",
        "{version}": "1",
        "{key_id}": "0123456789ab",
        "{evaluation_id}": "01a21575-af78-76c7-9d61-81b91b010867",
        "{job_id}": "01a21575-af78-76c7-9d61-81b91b010867",
        "{name}": "x",
        "{ref}": "x",
    }
    found = []
    for path, operations in document["paths"].items():
        for name, value in values.items():
            path = path.replace(name, value)
        found += [
            (method.upper(), path)
            for method, operation in operations.items()
            if operation.get("security")
        ]
    return found


def test_every_operation_but_the_probes_needs_a_key(client: TestClient) -> None:
    operations = protected_operations(client)
    anonymous = TestClient(client.app, raise_server_exceptions=False)

    assert len(operations) == 45
    assert {path for _, path in operations}.isdisjoint({"/healthz", "/readyz"})
    # From two addresses: one would spend its allowance of failed authentications (30).
    other = TestClient(client.app, raise_server_exceptions=False, client=("testclient2", 50000))
    for index, (method, path) in enumerate(operations):
        response = (other if index % 2 else anonymous).request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == 'Bearer realm="reflexe"'
    assert anonymous.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer rfx_0123456789ab_" + "A" * 43,  # well-formed, unknown
        "Bearer not-a-key",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "rfx_0123456789ab_" + "A" * 43,  # no scheme
    ],
    ids=["unknown", "malformed", "empty", "basic", "no-scheme"],
)
def test_a_bad_key_is_401_invalid_token(client: TestClient, authorization: str) -> None:
    response = client.get("/criteria", headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="reflexe", error="invalid_token"'
    assert response.json()["type"] == "urn:reflexe:problem:unauthorized"


def test_a_key_with_a_forged_secret_is_refused(client: TestClient) -> None:
    key = new_key(client, "admin")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")

    assert client.get("/criteria", headers=as_key(forged)).status_code == 401
    assert client.get("/criteria", headers=as_key(key)).status_code == 200


def test_a_key_is_never_accepted_in_the_query_string(client: TestClient, admin_key: str) -> None:
    anonymous = TestClient(client.app, raise_server_exceptions=False)

    alone = anonymous.get("/criteria", params={"access_token": admin_key})
    with_header = client.get("/criteria", params={"access_token": admin_key})

    assert alone.status_code == 401
    assert with_header.status_code == 401
    assert "Authorization header" in with_header.json()["detail"]


UNKNOWN_ID = "01a21575-af78-76c7-9d61-81b91b010867"
UNKNOWN = f"/evaluations/{UNKNOWN_ID}"
VERDICT = {"decision": "accept", "reason": "a likely client"}
ROLE_MATRIX = [
    # (method, path, body, evaluator, auditor, reviewer); 404: allowed, nothing there
    ("POST", "/evaluate", EVALUATE, 201, 403, 403),
    ("POST", "/evaluate/batch", {"items": [EVALUATE]}, 200, 403, 403),
    ("GET", "/criteria", None, 200, 200, 200),
    ("GET", "/criteria/pipu", None, 200, 200, 200),
    ("GET", "/criteria/pipu/versions", None, 200, 200, 200),
    ("GET", "/criteria/pipu/versions/1", None, 200, 200, 200),
    ("POST", "/criteria", {"slug": "x"}, 403, 403, 403),
    ("PUT", "/criteria/pipu", {}, 403, 403, 403),
    ("DELETE", "/criteria/pipu", None, 403, 403, 403),
    ("POST", "/criteria/pipu/default", None, 403, 403, 403),
    ("POST", "/criteria/pipu/restore", None, 403, 403, 403),
    ("GET", "/evaluations", None, 200, 200, 200),
    ("GET", UNKNOWN, None, 404, 404, 404),
    ("GET", f"{UNKNOWN}/inputs", None, 404, 404, 404),
    ("PUT", f"{UNKNOWN}/verdict", VERDICT, 403, 403, 404),
    ("GET", f"{UNKNOWN}/verdict", None, 404, 404, 404),
    ("GET", f"{UNKNOWN}/verdicts", None, 404, 404, 404),
    ("GET", "/reviews", None, 403, 200, 200),
    ("GET", "/stats", None, 403, 200, 200),
    ("POST", "/criteria/pipu/impact", {"version": 1}, 403, 403, 403),
    ("GET", f"/criteria/pipu/impact/{UNKNOWN_ID}", None, 403, 403, 403),
    ("PUT", "/criteria/pipu/shadow", {"version": 1}, 403, 403, 403),
    ("GET", "/criteria/pipu/shadow", None, 403, 404, 404),
    ("DELETE", "/criteria/pipu/shadow", None, 403, 403, 403),
    ("POST", f"{UNKNOWN}/case", {}, 403, 403, 403),
    ("DELETE", "/criteria/pipu/pending-cases/x", None, 403, 403, 403),
    ("GET", "/webhooks", None, 403, 403, 403),
    ("POST", "/webhooks", {"url": "https://example.com/x", "events": []}, 403, 403, 403),
    ("GET", f"/webhooks/{UNKNOWN_ID}", None, 403, 403, 403),
    ("PATCH", f"/webhooks/{UNKNOWN_ID}", {}, 403, 403, 403),
    ("DELETE", f"/webhooks/{UNKNOWN_ID}", None, 403, 403, 403),
    ("GET", f"/webhooks/{UNKNOWN_ID}/deliveries", None, 403, 403, 403),
    ("GET", f"/webhooks/{UNKNOWN_ID}/deliveries/1", None, 403, 403, 403),
    ("POST", f"/webhooks/{UNKNOWN_ID}/deliveries/1/replay", None, 403, 403, 403),
    ("POST", f"/webhooks/{UNKNOWN_ID}/test", None, 403, 403, 403),
    ("GET", "/keys", None, 403, 403, 403),
    ("POST", "/keys", {"name": "x", "role": "admin"}, 403, 403, 403),
    ("DELETE", "/keys/0123456789ab", None, 403, 403, 403),
    ("GET", "/metrics", None, 403, 200, 403),
    ("GET", "/subjects/https%3A%2F%2Fexample.com%2Fx", None, 403, 200, 403),
    ("POST", "/subjects", {"ref": "x"}, 403, 200, 403),
    ("DELETE", "/subjects/x", None, 403, 403, 403),
    ("POST", "/erasures", {"ref": "x"}, 403, 403, 403),
    ("GET", "/erasures", None, 403, 200, 403),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "evaluator", "auditor", "reviewer"), ROLE_MATRIX
)
def test_roles(
    client: TestClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    evaluator: int,
    auditor: int,
    reviewer: int,
) -> None:
    expected = {"evaluator": evaluator, "auditor": auditor, "reviewer": reviewer}

    for role, status in expected.items():
        key = new_key(client, role)
        response = client.request(method, path, json=body, headers=as_key(key))
        assert response.status_code == status, (role, response.text)
        if status == 403:
            assert response.headers["content-type"] == "application/problem+json"
            assert f"role is {role}" in response.json()["detail"]


def test_an_evaluator_reads_only_the_evaluations_it_made(client: TestClient) -> None:
    mine, theirs = new_key(client, "evaluator"), new_key(client, "evaluator")
    auditor = new_key(client, "auditor")
    my_id = client.post("/evaluate", json=EVALUATE, headers=as_key(mine)).json()["id"]
    their_id = client.post("/evaluate", json=EVALUATE, headers=as_key(theirs)).json()["id"]
    admin_id = client.post("/evaluate", json=EVALUATE).json()["id"]

    own = client.get(f"/evaluations/{my_id}", headers=as_key(mine))
    other = client.get(f"/evaluations/{their_id}", headers=as_key(mine))
    listed = client.get("/evaluations", headers=as_key(mine)).json()["items"]
    asked_for_other = client.get(
        "/evaluations", params={"api_key": theirs[4:16]}, headers=as_key(mine)
    ).json()["items"]
    audited = client.get("/evaluations", headers=as_key(auditor)).json()["items"]
    audited_one = client.get(f"/evaluations/{their_id}", headers=as_key(auditor))

    assert own.status_code == 200
    assert own.json()["api_key_id"] == mine[4:16]
    assert other.status_code == 404
    assert other.json()["detail"] == f"No evaluation '{their_id}'."
    assert [item["id"] for item in listed] == [my_id]
    assert asked_for_other == []
    assert {item["id"] for item in audited} == {my_id, their_id, admin_id}
    assert audited_one.status_code == 200


def test_admins_and_auditors_filter_the_log_by_key(client: TestClient) -> None:
    evaluator = new_key(client, "evaluator")
    made = client.post("/evaluate", json=EVALUATE, headers=as_key(evaluator)).json()["id"]
    client.post("/evaluate", json=EVALUATE)

    found = client.get("/evaluations", params={"api_key": evaluator[4:16]}).json()["items"]
    bad = client.get("/evaluations", params={"api_key": "not-an-id"})

    assert [item["id"] for item in found] == [made]
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "api_key"


# --- /keys ---------------------------------------------------------------------


def test_create_a_key_shows_it_once(client: TestClient, settings: Settings) -> None:
    response = client.post("/keys", json={"name": " crm sync ", "role": "evaluator"})

    assert response.status_code == 201
    created = response.json()
    assert response.headers["location"] == f"/keys/{created['id']}"
    assert created["key"].startswith(f"rfx_{created['id']}_")
    assert len(created["key"]) >= 40
    assert (created["name"], created["role"], created["revoked_at"]) == (
        "crm sync",
        "evaluator",
        None,
    )
    shown = client.get(f"/keys/{created['id']}").json()
    listed = client.get("/keys").json()["items"]
    assert "key" not in shown
    assert shown == {k: v for k, v in created.items() if k != "key"}
    assert listed[0]["id"] == created["id"]
    assert all("key" not in item and "hash" not in item for item in listed)


def test_keys_are_stored_only_as_a_keyed_hash(client: TestClient) -> None:
    key = new_key(client, "auditor")
    engine: Engine = runtime_of(client.app).engine  # type: ignore[arg-type]

    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_key")).all()

    assert not any(key in str(value) for row in rows for value in row)
    stored = {row.id: row.hash for row in rows}[key[4:16]]
    assert stored == hmac.new(SECRET_KEY.encode(), key.encode(), hashlib.sha256).hexdigest()
    assert stored != hashlib.sha256(key.encode()).hexdigest()


def test_keys_do_not_work_under_another_secret(client: TestClient, settings: Settings) -> None:
    key = new_key(client, "auditor")
    other = settings.model_copy(update={"secret_key": SecretStr("x" * 40)})

    with TestClient(create_app(other), raise_server_exceptions=False) as elsewhere:
        response = elsewhere.get("/criteria", headers=as_key(key))

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "role": "root"}, "role"),
        ({"name": "", "role": "admin"}, "name"),
        ({"name": "x" * 101, "role": "admin"}, "name"),
        ({"role": "admin"}, "name"),
        ({"name": "x", "role": "admin", "key": "mine"}, "key"),
        ({"name": "before\x00after", "role": "admin"}, "name"),
    ],
)
def test_create_a_key_validates_its_body(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    before = client.get("/keys").json()["items"]

    response = client.post("/keys", json=body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
    assert client.get("/keys").json()["items"] == before


def test_revoking_a_key_stops_it_at_once(client: TestClient) -> None:
    key = new_key(client, "evaluator")
    key_id = key[4:16]
    assert client.post("/evaluate", json=EVALUATE, headers=as_key(key)).status_code == 201

    revoked = client.delete(f"/keys/{key_id}")
    again = client.delete(f"/keys/{key_id}")
    refused = client.post("/evaluate", json=EVALUATE, headers=as_key(key))

    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert client.get(f"/keys/{key_id}").json()["revoked_at"] is not None


def test_a_revocation_reaches_other_processes_within_the_cache_delay(
    client: TestClient, settings: Settings
) -> None:
    key = new_key(client, "auditor")
    other = settings.model_copy(update={"key_cache_seconds": 0.0, "migrate_on_start": False})

    with TestClient(create_app(other), raise_server_exceptions=False) as elsewhere:
        before = elsewhere.get("/criteria", headers=as_key(key))
        client.delete(f"/keys/{key[4:16]}")
        after = elsewhere.get("/criteria", headers=as_key(key))

    assert (before.status_code, after.status_code) == (200, 401)


def test_the_last_active_admin_key_cannot_be_revoked_through_the_api(
    client: TestClient, admin_key: str
) -> None:
    response = client.delete(f"/keys/{admin_key[4:16]}")

    assert response.status_code == 409
    assert "last active admin key" in response.json()["detail"]
    second = new_key(client, "admin")
    assert client.delete(f"/keys/{admin_key[4:16]}").status_code == 200
    assert client.get("/keys", headers=as_key(second)).status_code == 200


@pytest.mark.parametrize(("key_id", "status"), [("0123456789ab", 404), ("nope", 422)])
def test_unknown_or_malformed_key_ids(client: TestClient, key_id: str, status: int) -> None:
    assert client.get(f"/keys/{key_id}").status_code == status
    assert client.delete(f"/keys/{key_id}").status_code == status


def test_keys_are_never_written_to_the_logs(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = new_key(client, "evaluator")
    client.post("/evaluate", json=EVALUATE, headers=as_key(key))
    client.get("/criteria", headers=as_key(key[:-1] + "x"))

    assert caplog.records
    assert not any(key[16:] in record.getMessage() for record in caplog.records)


def test_recognising_a_key_makes_no_query_per_request(client: TestClient) -> None:
    key = new_key(client, "evaluator")
    engine: Engine = runtime_of(client.app).engine  # type: ignore[arg-type]
    key_queries: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM api_key" in statement:
            key_queries.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        statuses = {
            client.post("/evaluate", json=EVALUATE, headers=as_key(key)).status_code
            for _ in range(20)
        }
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert statuses == {201}
    assert len(key_queries) == 1


# --- development mode and start-up ----------------------------------------------


def test_dev_mode_lets_loopback_callers_in_as_admin(client: TestClient, settings: Settings) -> None:
    # `client` empties the database after the test.
    local = settings.model_copy(update={"dev_mode": True})

    with local_client(create_app(local)) as developer:
        created = developer.post("/keys", json={"name": "dev", "role": "evaluator"})
        evaluator_key = created.json()["key"]
        evaluated = developer.post("/evaluate", json=EVALUATE)
        as_evaluator = developer.post("/criteria", json={}, headers=as_key(evaluator_key))
    with TestClient(create_app(local), raise_server_exceptions=False) as remote:
        from_elsewhere = remote.get("/criteria")

    assert created.status_code == 201
    assert evaluated.status_code == 201
    assert evaluated.json()["api_key_id"] is None
    assert as_evaluator.status_code == 403  # a key sent in dev mode is honoured
    assert from_elsewhere.status_code == 401


def test_dev_mode_without_a_secret_creates_no_key(client: TestClient, settings: Settings) -> None:
    local = settings.model_copy(update={"dev_mode": True, "secret_key": None})

    with local_client(create_app(local)) as developer:
        created = developer.post("/keys", json={"name": "dev", "role": "evaluator"})
        listed = developer.get("/keys").json()["items"]
        evaluated = developer.post("/evaluate", json=EVALUATE)
        with_a_key = developer.get("/criteria", headers=client.headers)

    assert created.status_code == 409
    assert "REFLEXE_SECRET_KEY is not set" in created.json()["detail"]
    assert [key["name"] for key in listed] == ["tests"]
    assert evaluated.status_code == 201
    assert with_a_key.status_code == 401  # no secret: no key can be recognised either


def test_dev_mode_says_so_loudly(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    local = settings.model_copy(update={"dev_mode": True})

    with caplog.at_level(logging.WARNING), local_client(create_app(local)):
        pass

    assert any("LOCAL DEVELOPMENT MODE" in r.getMessage() for r in caplog.records)


def test_without_dev_mode_a_secret_key_is_required(settings: Settings) -> None:
    bare = settings.model_copy(update={"secret_key": None})

    with pytest.raises(StartupRefused, match="REFLEXE_SECRET_KEY"), TestClient(create_app(bare)):
        pass


def test_without_dev_mode_the_service_refuses_to_start_with_no_key(tmp_path: object) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/nokeys.db", secret_key="s" * 32)

    with (
        pytest.raises(StartupRefused, match="reflexe keys create"),
        TestClient(create_app(settings)),
    ):
        pass


def test_a_key_sent_in_the_url_is_masked_in_the_access_log(
    client: TestClient, admin_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    access = logging.getLogger("uvicorn.access")

    # What uvicorn logs for a request, query string included.
    url = f"/criteria?access_token={admin_key}"
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", url, "1.1", 401)

    logged = caplog.records[-1].getMessage()
    assert admin_key[16:] not in logged
    assert f"access_token={admin_key[:17]}[redacted]" in logged


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (
            "/evaluations?subject=https%3A%2F%2Fx.io%2Fin%2Fada&limit=5",
            "/evaluations?subject=[redacted]&limit=5",
        ),
        ("/subjects/https%3A%2F%2Fx.io%2Fin%2Fada", "/subjects/[redacted]"),
        ("/subjects/https%3A%2F%2Fx.io%2Fin%2Fada?vacuum=true", "/subjects/[redacted]?vacuum=true"),
        ("/subjects/search", "/subjects/search"),
    ],
)
def test_a_subject_ref_in_the_url_is_masked_in_the_access_log(
    client: TestClient, caplog: pytest.LogCaptureFixture, path: str, shown: str
) -> None:
    caplog.set_level(logging.INFO)
    access = logging.getLogger("uvicorn.access")

    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)

    logged = caplog.records[-1].getMessage()
    assert f'"GET {shown} HTTP/1.1"' in logged
    if shown != path:
        assert "ada" not in logged


def test_a_caller_without_a_key_is_refused_before_its_body_is_read(client: TestClient) -> None:
    anonymous = TestClient(client.app, raise_server_exceptions=False)
    headers = {"content-type": "application/json"}

    malformed = anonymous.post("/evaluate", content=b'{"answers": ', headers=headers)
    invalid = anonymous.post("/evaluate/batch", json={"items": "nope"})
    unknown_path = anonymous.get("/nowhere")

    assert [r.status_code for r in (malformed, invalid, unknown_path)] == [401, 401, 401]
    assert malformed.headers["cache-control"] == "no-store"


def test_a_browser_preflight_needs_no_key(settings: Settings, client: TestClient) -> None:
    with_cors = settings.model_copy(update={"cors_origins": ["https://admin.example"]})

    with TestClient(create_app(with_cors), raise_server_exceptions=False) as browser:
        preflight = browser.options(
            "/evaluate",
            headers={
                "Origin": "https://admin.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        without_key = browser.post(
            "/evaluate", json={}, headers={"Origin": "https://admin.example"}
        )

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://admin.example"
    assert without_key.status_code == 401
    assert without_key.headers["access-control-allow-origin"] == "https://admin.example"


def test_a_key_that_cannot_be_checked_is_a_503(admin_key: str) -> None:
    settings = Settings(
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/none",
        migrate_on_start=False,
        db_pool_timeout=1,
        secret_key=SECRET_KEY,
    )

    with TestClient(create_app(settings), raise_server_exceptions=False) as app:
        response = app.get("/criteria", headers=as_key(admin_key))

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
