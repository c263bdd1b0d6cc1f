"""Decision events by webhook, through HTTP, delivered to a real receiver on loopback and
verified with the Standard Webhooks library."""

import json
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import trustme
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from app.settings import Settings
from tests.api.test_monitoring import scrape, value
from tests.conftest import serving
from tests.db.servers import free_port
from tests.webhooks.receiver import Receiver, receiving

ALL = ["evaluation.created", "verdict.recorded", "criteria.published"]
PROFILE = {
    "subject": {"ref": "https://www.linkedin.com/in/ada", "name": "Ada Lovelace"},
    "answers": {"pertinence": True, "utilite": True},
    "attributes": {"headline": "Head of Sales at Acme", "mutual_connections": 12},
}
DECLINED = {"answers": {"pertinence": False, "interaction": False, "prescription": False}}


@contextmanager
def tuned(settings: Settings, admin_key: str, **update: Any) -> Iterator[TestClient]:
    """The app, with internal targets allowed and quick retries."""
    quick = {
        "webhook_allow_private_targets": True,
        "webhook_retry_schedule": [0.2, 0.2],
        "webhook_poll_seconds": 0.1,
        "webhook_timeout_seconds": 2.0,
    }
    with serving(settings, admin_key, **{**quick, **update}) as client:
        yield client


@pytest.fixture
def hooks(settings: Settings, admin_key: str) -> Iterator[TestClient]:
    with tuned(settings, admin_key) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


@pytest.fixture
def kept_alive() -> Iterator[Receiver]:
    """A receiver that keeps connections alive, as HTTP/1.1 servers do."""
    with receiving(keep_alive=True) as found:
        yield found


def subscribe(client: TestClient, url: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/webhooks", json={"url": url, "events": ALL, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def verified(secret: str, received: Any) -> dict[str, Any]:
    """The payload, once the library verified its signature."""
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return payload


def deliveries(client: TestClient, subscription_id: str, **query: Any) -> list[dict[str, Any]]:
    response = client.get(f"/webhooks/{subscription_id}/deliveries", params=query)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def settled(client: TestClient, subscription_id: str, timeout: float = 15) -> list[dict[str, Any]]:
    """The deliveries once none is pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = deliveries(client, subscription_id)
        if found and all(item["state"] != "pending" for item in found):
            return found
        time.sleep(0.05)
    pytest.fail(f"deliveries still pending: {deliveries(client, subscription_id)}")


# --- subscriptions ------------------------------------------------------------------------


def test_a_subscription_shows_its_secret_once(hooks: TestClient, receiver: Receiver) -> None:
    created = subscribe(hooks, receiver.url, outcomes=["review"], description="CRM")

    assert created["secret"].startswith("whsec_")
    listed = hooks.get("/webhooks").json()["items"]
    fetched = hooks.get(f"/webhooks/{created['id']}")
    assert [item["id"] for item in listed] == [created["id"]]
    assert fetched.status_code == 200
    assert "secret" not in fetched.json()
    assert "secret" not in listed[0]
    assert fetched.json()["outcomes"] == ["review"]
    assert fetched.json()["enabled"] is True


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:9/hooks", "loopback"),
        ("http://localhost/hooks", "loopback"),
        ("http://10.1.2.3/hooks", "private"),
        ("http://192.168.0.10/hooks", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::1]/hooks", "loopback"),
        ("http://[::ffff:127.0.0.1]/hooks", "loopback"),
        ("http://0.0.0.0/hooks", "private"),
        ("http://does-not-exist.invalid/hooks", "does not resolve"),
        # IPv6 forms that carry an internal IPv4 address: NAT64, IPv4-compatible, 6to4,
        # IPv4-translated, Teredo; and ranges that are not globally reachable.
        ("http://[64:ff9b::7f00:1]/hooks", "private"),
        ("http://[64:ff9b::a9fe:a9fe]/hooks", "private"),
        ("http://[::127.0.0.1]/hooks", "private"),
        ("http://[2002:7f00:1::]/hooks", "private"),
        ("http://[2002:a00:1::1]/hooks", "private"),
        ("http://[::ffff:0:a00:1]/hooks", "private"),
        ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hooks", "private"),
        ("http://[64:ff9b:1::a00:1]/hooks", "private"),
        ("http://[fec0::1]/hooks", "private"),
        ("http://192.0.0.8/hooks", "private"),
        ("http://100.64.0.1/hooks", "private"),
    ],
)
def test_a_private_target_is_refused_by_default(client: TestClient, url: str, problem: str) -> None:
    response = client.post("/webhooks", json={"url": url, "events": ALL})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert errors[0]["field"] == "url"
    assert problem in errors[0]["message"] or "private" in errors[0]["message"]
    assert client.get("/webhooks").json()["items"] == []


@pytest.mark.parametrize(
    "url", ["http://[64:ff9b::808:808]/hooks", "http://[2002:808:808::1]/hooks"]
)
def test_an_ipv6_form_of_a_public_address_is_a_public_target(client: TestClient, url: str) -> None:
    response = client.post("/webhooks", json={"url": url, "events": ["verdict.recorded"]})

    assert response.status_code == 201, response.text
    assert response.json()["url"] == url


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/x", "events": ALL},
        {"url": "https://user:pw@example.com/x", "events": ALL},
        {"url": "https://example.com/x", "events": []},
        {"url": "https://example.com/x", "events": ["evaluation.deleted"]},
        {"url": "https://example.com/x", "events": ["webhook.test"]},
        {"url": "https://example.com/x", "events": ALL, "outcomes": ["maybe"]},
        {"url": "https://example.com/x", "events": ALL, "criteria_set": "Not A Slug"},
        {"url": "https://example.com/x", "events": ALL, "secret": "mine"},
    ],
)
def test_a_bad_subscription_is_a_422_naming_the_field(
    hooks: TestClient, body: dict[str, Any]
) -> None:
    response = hooks.post("/webhooks", json=body)

    assert response.status_code == 422, response.text
    field = response.json()["errors"][0]["field"]
    assert field.split("[")[0] in body, field
    assert hooks.get("/webhooks").json()["items"] == []


@pytest.mark.parametrize("description", ["before\x00after", "lone \ud800 surrogate"])
def test_a_description_that_cannot_be_stored_is_a_422(hooks: TestClient, description: str) -> None:
    url = "http://127.0.0.1:9/hooks"
    as_json = {"content-type": "application/json"}  # json.dumps escapes what httpx cannot encode
    sent = json.dumps({"url": url, "events": ALL, "description": description})
    refused = hooks.post("/webhooks", content=sent, headers=as_json)
    created = subscribe(hooks, url)
    change = json.dumps({"description": description})
    changed = hooks.patch(f"/webhooks/{created['id']}", content=change, headers=as_json)

    for response in (refused, changed):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "description"
    assert [item["id"] for item in hooks.get("/webhooks").json()["items"]] == [created["id"]]
    assert hooks.get(f"/webhooks/{created['id']}").json()["description"] is None


def test_an_unknown_subscription_is_a_404(hooks: TestClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"

    for method, path in [
        ("GET", f"/webhooks/{missing}"),
        ("PATCH", f"/webhooks/{missing}"),
        ("DELETE", f"/webhooks/{missing}"),
        ("GET", f"/webhooks/{missing}/deliveries"),
        ("POST", f"/webhooks/{missing}/test"),
        ("POST", f"/webhooks/{missing}/deliveries/1/replay"),
    ]:
        response = hooks.request(method, path, json={} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path, response.text)


# --- events -------------------------------------------------------------------------------


def test_a_stored_decision_is_sent_signed_and_thin(hooks: TestClient, receiver: Receiver) -> None:
    created = subscribe(hooks, receiver.url, events=["evaluation.created"])

    decision = hooks.post("/evaluate", json=PROFILE).json()
    received = receiver.wait_for(1)[0]

    payload = verified(created["secret"], received)
    assert received.headers["webhook-id"]
    assert received.headers["content-type"] == "application/json"
    assert payload["type"] == "evaluation.created"
    data = payload["data"]
    assert data["evaluation_id"] == decision["id"]
    assert data["criteria_set"] == {"slug": "pipu", "version": 1}
    assert data["decision"] == data["final_decision"] == decision["decision"]
    assert data["criteria"] == {c["key"]: c["met"] for c in decision["criteria"]}
    assert data["links"] == {"evaluation": f"/evaluations/{decision['id']}"}
    text = received.body.decode()
    assert "Ada" not in text
    assert "Acme" not in text
    assert "linkedin" not in text
    [delivery] = settled(hooks, created["id"])
    assert delivery["state"] == "delivered"
    assert delivery["attempts"] == 1
    assert delivery["event_id"] == received.headers["webhook-id"]
    assert delivery["history"][0]["status_code"] == 200


def test_a_subscription_may_ask_for_the_attributes(hooks: TestClient, receiver: Receiver) -> None:
    created = subscribe(hooks, receiver.url, events=["evaluation.created"], include_attributes=True)

    hooks.post("/evaluate", json=PROFILE)

    data = verified(created["secret"], receiver.wait_for(1)[0])["data"]
    assert data["subject"] == PROFILE["subject"]
    assert data["attributes"]["headline"] == "Head of Sales at Acme"


def test_filters_choose_the_set_and_the_outcome(hooks: TestClient, receiver: Receiver) -> None:
    declines = subscribe(hooks, receiver.url, events=["evaluation.created"], outcomes=["decline"])
    other_set = subscribe(hooks, receiver.url, events=["evaluation.created"], criteria_set="other")

    hooks.post("/evaluate", json=PROFILE)  # accept
    declined = hooks.post("/evaluate", json=DECLINED).json()
    assert declined["decision"] == "decline"

    received = receiver.wait_for(1)
    time.sleep(0.5)  # nothing else comes
    assert len(receiver.received) == 1
    assert verified(declines["secret"], received[0])["data"]["evaluation_id"] == declined["id"]
    assert deliveries(hooks, other_set["id"]) == []


def test_nothing_is_sent_for_what_was_not_stored(hooks: TestClient, receiver: Receiver) -> None:
    created = subscribe(hooks, receiver.url, events=["evaluation.created"])
    headers = {"Idempotency-Key": "once"}

    hooks.post("/evaluate", json={**PROFILE, "dry_run": True})
    first = hooks.post("/evaluate", json=PROFILE, headers=headers)
    again = hooks.post("/evaluate", json=PROFILE, headers=headers)
    hooks.post("/evaluate", json={**PROFILE, "answers": {"nope": True}})

    assert first.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    receiver.wait_for(1)
    time.sleep(0.5)
    assert len(receiver.received) == 1
    assert len(settled(hooks, created["id"])) == 1


def test_a_batch_sends_an_event_per_stored_decision(hooks: TestClient, receiver: Receiver) -> None:
    created = subscribe(hooks, receiver.url, events=["evaluation.created"])

    answer = hooks.post("/evaluate/batch", json={"items": [PROFILE, DECLINED, PROFILE]}).json()

    ids = {item["evaluation"]["id"] for item in answer["items"]}
    received = receiver.wait_for(3)
    assert {verified(created["secret"], r)["data"]["evaluation_id"] for r in received} == ids
    assert len({r.headers["webhook-id"] for r in received}) == 3


def test_a_subscription_is_sent_several_at_once_each_with_its_sequence(
    hooks: TestClient, kept_alive: Receiver
) -> None:
    created = subscribe(hooks, kept_alive.url, events=["evaluation.created"])

    answer = hooks.post("/evaluate/batch", json={"items": [PROFILE, DECLINED] * 20}).json()

    ids = [item["evaluation"]["id"] for item in answer["items"]]
    received = kept_alive.wait_for(40)
    payloads = [verified(created["secret"], r) for r in received]
    in_sequence = sorted(payloads, key=lambda payload: payload["sequence"])
    assert [payload["data"]["evaluation_id"] for payload in in_sequence] == ids
    assert len({payload["sequence"] for payload in payloads}) == 40
    # Over kept-alive connections: at most REFLEXE_WEBHOOK_CONCURRENCY (4) at once.
    assert len({r.peer for r in received}) <= 4
    found = settled(hooks, created["id"])
    assert len(found) == 40
    assert {d["state"] for d in found} == {"delivered"}
    assert all(len(d["history"]) == 1 for d in found)
    assert hooks.get(f"/webhooks/{created['id']}").json()["last_success_at"] is not None


def test_one_at_a_time_deliveries_arrive_in_sequence(
    settings: Settings, admin_key: str, kept_alive: Receiver
) -> None:
    with tuned(settings, admin_key, webhook_concurrency=1) as client:
        created = subscribe(client, kept_alive.url, events=["evaluation.created"])

        answer = client.post("/evaluate/batch", json={"items": [PROFILE] * 12}).json()

        received = kept_alive.wait_for(12)
        payloads = [verified(created["secret"], r) for r in received]
        assert [p["data"]["evaluation_id"] for p in payloads] == [
            item["evaluation"]["id"] for item in answer["items"]
        ]
        sequences = [p["sequence"] for p in payloads]
        assert sequences == sorted(sequences)


def test_a_target_that_does_not_answer_is_tried_one_delivery_at_a_time(
    settings: Settings, admin_key: str
) -> None:
    with tuned(settings, admin_key, webhook_concurrency=1) as client:
        created = subscribe(client, f"http://127.0.0.1:{free_port()}/hooks")

        client.post("/evaluate/batch", json={"items": [PROFILE] * 5})

        deadline = time.monotonic() + 15
        while client.get(f"/webhooks/{created['id']}").json()["enabled"]:
            assert time.monotonic() < deadline, deliveries(client, created["id"])
            time.sleep(0.05)
        oldest, *others = reversed(deliveries(client, created["id"]))
    # The oldest failed its three attempts; the others waited for it, untried, and are
    # kept for when the subscription is enabled again.
    assert oldest["state"] == "failed"
    assert oldest["attempts"] == 3
    assert [(d["state"], d["attempts"]) for d in others] == [("pending", 0)] * 4


def test_verdicts_and_published_versions_are_sent(hooks: TestClient, receiver: Receiver) -> None:
    created = subscribe(hooks, receiver.url)
    decision = hooks.post("/evaluate", json=PROFILE).json()

    hooks.put(
        f"/evaluations/{decision['id']}/verdict",
        json={"decision": "decline", "reason": "not my market", "note": "private note"},
    )
    current = hooks.get("/criteria/pipu")
    content = {k: current.json()[k] for k in ("name", "criteria", "policy", "params")}
    content["params"]["min_mutual_connections"] = 7
    replaced = hooks.put(
        "/criteria/pipu", json=content, headers={"If-Match": current.headers["ETag"]}
    )
    assert replaced.status_code == 200, replaced.text

    receiver.wait_for(3)
    [verdict] = receiver.of_type("verdict.recorded")
    [published] = receiver.of_type("criteria.published")
    verdict_data = verified(created["secret"], verdict)["data"]
    assert verdict_data["evaluation_id"] == decision["id"]
    assert verdict_data["decision"] == decision["decision"]
    assert verdict_data["final_decision"] == "decline"
    assert verdict_data["verdict"]["agrees"] is False
    assert "private note" not in verdict.body.decode()
    published_data = verified(created["secret"], published)["data"]
    assert published_data["criteria_set"] == {"slug": "pipu", "version": 2}
    assert published_data["content_hash"] == replaced.json()["content_hash"]


# --- delivery -----------------------------------------------------------------------------


def test_a_5xx_is_retried_until_delivered(hooks: TestClient) -> None:
    before = scrape(hooks)
    with receiving(statuses=[503, 200]) as receiver:
        created = subscribe(hooks, receiver.url, events=["evaluation.created"])
        hooks.post("/evaluate", json=PROFILE)

        first, second = receiver.wait_for(2)
        [delivery] = settled(hooks, created["id"])

    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert verified(created["secret"], second)["type"] == "evaluation.created"
    assert delivery["state"] == "delivered"
    assert delivery["attempts"] == 2
    assert [a["status_code"] for a in delivery["history"]] == [503, 200]
    assert delivery["history"][0]["error"] == "HTTP 503"
    subscription = hooks.get(f"/webhooks/{created['id']}").json()
    assert subscription["enabled"] is True
    assert subscription["last_error"] == "HTTP 503"
    after = scrape(hooks)
    for outcome in ("retried", "delivered"):
        labels = {"event_type": "evaluation.created", "outcome": outcome}
        counted = "reflexe_webhook_deliveries_total"
        assert value(after, counted, **labels) - value(before, counted, **labels) == 1
    timed = "reflexe_webhook_delivery_seconds_count"
    assert value(after, timed) - value(before, timed) == 2


def test_a_receiver_that_is_down_gets_the_event_once_back(hooks: TestClient) -> None:
    port = free_port()  # nothing listens there yet
    created = subscribe(hooks, f"http://127.0.0.1:{port}/hooks", events=["evaluation.created"])
    decision = hooks.post("/evaluate", json=PROFILE).json()
    deadline = time.monotonic() + 10
    while not deliveries(hooks, created["id"])[0]["attempts"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    with receiving(port) as receiver:
        received = receiver.wait_for(1)[0]
        [delivery] = settled(hooks, created["id"])

    assert verified(created["secret"], received)["data"]["evaluation_id"] == decision["id"]
    assert delivery["state"] == "delivered"
    assert delivery["history"][0]["status_code"] is None
    assert "Connect" in delivery["history"][0]["error"]


def test_410_gone_stops_and_disables(hooks: TestClient) -> None:
    with receiving(statuses=[410]) as receiver:
        created = subscribe(hooks, receiver.url, events=["evaluation.created"])
        hooks.post("/evaluate", json=PROFILE)
        [delivery] = settled(hooks, created["id"])
        hooks.post("/evaluate", json=PROFILE)  # while disabled: not sent, not kept
        subscription = hooks.get(f"/webhooks/{created['id']}").json()

        assert delivery["state"] == "failed"
        assert delivery["attempts"] == 1
        assert subscription["enabled"] is False
        assert "410" in subscription["disabled_reason"]
        assert subscription["last_error"] == "HTTP 410"

        receiver.statuses = [200]
        enabled = hooks.patch(f"/webhooks/{created['id']}", json={"enabled": True})
        assert enabled.status_code == 200
        assert enabled.json()["disabled_reason"] is None
        after = hooks.post("/evaluate", json=PROFILE).json()
        second = receiver.wait_for(2)[1]
        time.sleep(0.3)

    assert json.loads(second.body)["data"]["evaluation_id"] == after["id"]
    assert len(receiver.received) == 2


def test_a_delivery_that_fails_every_attempt_disables_its_subscription(hooks: TestClient) -> None:
    with receiving(statuses=[500]) as receiver:
        created = subscribe(hooks, receiver.url, events=["evaluation.created"])
        hooks.post("/evaluate", json=PROFILE)
        [delivery] = settled(hooks, created["id"])

    assert delivery["state"] == "failed"
    assert delivery["attempts"] == 3  # the first, then the schedule's two retries
    assert len(receiver.received) == 3
    subscription = hooks.get(f"/webhooks/{created['id']}").json()
    assert subscription["enabled"] is False
    assert "every attempt" in subscription["disabled_reason"]


@pytest.fixture
def authority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """A certificate authority of the test's own, trusted as the system's would be: through
    SSL_CERT_FILE, which OpenSSL reads for its default store."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    return ca


def served_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def test_an_https_target_is_sent_over_verified_tls(
    authority: trustme.CA, settings: Settings, admin_key: str
) -> None:
    with receiving(tls=served_tls(authority), keep_alive=True) as receiver:
        with tuned(settings, admin_key) as hooks:
            created = subscribe(hooks, receiver.url, events=["evaluation.created"])
            assert created["url"].startswith("https://")
            decisions = [hooks.post("/evaluate", json=PROFILE).json() for _ in range(3)]
            received = receiver.wait_for(3)
            found = settled(hooks, created["id"])

    sent = {verified(created["secret"], r)["data"]["evaluation_id"] for r in received}
    assert sent == {d["id"] for d in decisions}
    assert [d["state"] for d in found] == ["delivered"] * 3


def test_an_https_target_whose_certificate_is_not_trusted_is_not_sent(
    authority: trustme.CA, settings: Settings, admin_key: str
) -> None:
    stranger = trustme.CA()  # a certificate no trusted authority issued
    with receiving(tls=served_tls(stranger)) as receiver:
        with tuned(settings, admin_key, webhook_retry_schedule=[]) as hooks:
            created = subscribe(hooks, receiver.url, events=["evaluation.created"])
            hooks.post("/evaluate", json=PROFILE)
            [delivery] = settled(hooks, created["id"])

    assert delivery["state"] == "failed"
    assert "CERTIFICATE_VERIFY_FAILED" in delivery["history"][0]["error"]
    assert receiver.received == []


def test_a_redirect_is_not_followed(hooks: TestClient) -> None:
    with receiving() as elsewhere, receiving(statuses=[302], location=elsewhere.url) as receiver:
        created = subscribe(hooks, receiver.url, events=["evaluation.created"])
        hooks.post("/evaluate", json=PROFILE)
        [delivery] = settled(hooks, created["id"])

    assert delivery["state"] == "failed"
    assert "not followed" in delivery["history"][0]["error"]
    assert elsewhere.received == []


def test_a_test_event_is_sent_now_and_a_delivery_replayed(
    hooks: TestClient, receiver: Receiver
) -> None:
    created = subscribe(hooks, receiver.url, events=["evaluation.created"])

    tested = hooks.post(f"/webhooks/{created['id']}/test")
    assert tested.status_code == 200, tested.text
    assert tested.json()["state"] == "delivered"
    assert tested.json()["history"][0]["status_code"] == 200
    sample = verified(created["secret"], receiver.wait_for(1)[0])
    assert sample["type"] == "webhook.test"

    replayed = hooks.post(f"/webhooks/{created['id']}/deliveries/{tested.json()['id']}/replay")
    assert replayed.status_code == 202
    again = receiver.wait_for(2)[1]
    assert again.headers["webhook-id"] == tested.json()["event_id"]
    assert verified(created["secret"], again)["type"] == "webhook.test"


def test_deliveries_page_and_filter(hooks: TestClient, receiver: Receiver) -> None:
    created = subscribe(hooks, receiver.url, events=["evaluation.created"])
    for _ in range(3):
        hooks.post("/evaluate", json=PROFILE)
    settled(hooks, created["id"])

    first = hooks.get(f"/webhooks/{created['id']}/deliveries", params={"limit": 2}).json()
    rest = hooks.get(
        f"/webhooks/{created['id']}/deliveries", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()

    assert len(first["items"]) == 2
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    ids = [item["id"] for item in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)
    assert deliveries(hooks, created["id"], state="failed") == []
    one = hooks.get(f"/webhooks/{created['id']}/deliveries/{ids[0]}")
    assert one.status_code == 200
    assert one.json()["id"] == ids[0]
    bad = hooks.get(f"/webhooks/{created['id']}/deliveries", params={"cursor": "x"})
    assert bad.status_code == 422


def test_a_deleted_subscription_is_sent_nothing(hooks: TestClient, receiver: Receiver) -> None:
    created = subscribe(hooks, receiver.url, events=["evaluation.created"])
    hooks.post("/evaluate", json=PROFILE)
    receiver.wait_for(1)

    assert hooks.delete(f"/webhooks/{created['id']}").status_code == 204
    hooks.post("/evaluate", json=PROFILE)

    time.sleep(0.5)
    assert len(receiver.received) == 1
    assert hooks.get(f"/webhooks/{created['id']}").status_code == 404


def test_a_change_keeps_what_was_not_sent(hooks: TestClient, receiver: Receiver) -> None:
    created = subscribe(hooks, receiver.url, outcomes=["review"], criteria_set="pipu")

    changed = hooks.patch(f"/webhooks/{created['id']}", json={"outcomes": None, "events": ALL[:1]})

    assert changed.status_code == 200, changed.text
    assert changed.json()["outcomes"] is None
    assert changed.json()["events"] == ["evaluation.created"]
    assert changed.json()["criteria_set"] == "pipu"
    bad = hooks.patch(f"/webhooks/{created['id']}", json={"url": None})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "url"


def test_the_signature_does_not_verify_with_another_secret(
    hooks: TestClient, receiver: Receiver
) -> None:
    created = subscribe(hooks, receiver.url, events=["evaluation.created"])
    other = subscribe(hooks, receiver.url, events=["criteria.published"])
    hooks.post("/evaluate", json=PROFILE)
    received = receiver.wait_for(1)[0]

    verified(created["secret"], received)
    with pytest.raises(Exception, match="signature"):
        Webhook(other["secret"]).verify(received.body, received.headers)
    tampered = json.loads(received.body)
    tampered["data"]["decision"] = "decline"
    with pytest.raises(Exception, match="signature"):
        Webhook(created["secret"]).verify(json.dumps(tampered), received.headers)
