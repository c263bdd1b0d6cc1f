"""Webhooks across real processes: a crash between the commit and the delivery, and several
workers sharing the outbox, on SQLite and PostgreSQL."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url
from standardwebhooks import Webhook

from tests.conftest import POSTGRES_URL
from tests.db.servers import free_port, fresh_postgres, running_server, start_server
from tests.webhooks.receiver import receiving

HOOKS = {
    "REFLEXE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "REFLEXE_WEBHOOK_TIMEOUT_SECONDS": "1",
    "REFLEXE_WEBHOOK_RETRY_SCHEDULE": "[0.2, 0.2, 0.2]",
    "REFLEXE_WEBHOOK_POLL_SECONDS": "0.1",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hooks.db'}"
    else:
        # Named after the test database, so that checkouts with databases of their own
        # never drop each other's.
        yield fresh_postgres(f"{make_url(POSTGRES_URL).database}_hooks")


def subscribe(base: str, target: str) -> dict[str, str]:
    response = httpx.post(
        f"{base}/webhooks", json={"url": target, "events": ["evaluation.created"]}
    )
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


def test_a_crash_between_commit_and_delivery_still_delivers(url: str) -> None:
    port = free_port()
    with receiving() as receiver:
        receiver.hang.set()  # the first attempt never gets an answer
        server = start_server(url, port, env=HOOKS)
        base = f"http://127.0.0.1:{port}"
        try:
            created = subscribe(base, receiver.url)
            decision = httpx.post(f"{base}/evaluate", json={"answers": {"utilite": True}})
            assert decision.status_code == 201
            in_flight = receiver.wait_for(1)[0]
        finally:
            os.killpg(server.pid, signal.SIGKILL)  # mid-attempt: its lease is still held
            server.wait(timeout=30)
        receiver.hang.clear()

        with running_server(url, env=HOOKS) as restarted:
            delivered = receiver.wait_for(2, timeout=30)[1]
            deadline = time.monotonic() + 15
            while True:
                page = httpx.get(f"{restarted}/webhooks/{created['id']}/deliveries").json()
                if page["items"][0]["state"] == "delivered" or time.monotonic() > deadline:
                    break
                time.sleep(0.1)

    assert delivered.headers["webhook-id"] == in_flight.headers["webhook-id"]
    payload = Webhook(created["secret"]).verify(delivered.body, delivered.headers)
    assert payload["data"]["evaluation_id"] == decision.json()["id"]
    [delivery] = page["items"]
    assert delivery["state"] == "delivered"


def test_several_workers_send_each_delivery_once(url: str) -> None:
    with receiving() as receiver, running_server(url, workers=2, env=HOOKS) as base:
        subscribe(base, receiver.url)
        # A second replica on the same database, with its own workers.
        with running_server(url, env=HOOKS) as replica:
            ids = []
            for number in range(6):
                items = [{"answers": {"utilite": True}} for _ in range(20)]
                target = base if number % 2 else replica
                answer = httpx.post(f"{target}/evaluate/batch", json={"items": items}).json()
                ids += [item["evaluation"]["id"] for item in answer["items"]]
            received = receiver.wait_for(len(ids), timeout=60)
            time.sleep(1)  # a duplicate would have come by now
            got = list(receiver.received)

    assert len(got) == len(received) == 120
    counts = Counter(r.headers["webhook-id"] for r in got)
    assert set(counts.values()) == {1}
    sent = {json.loads(r.body)["data"]["evaluation_id"] for r in got}
    assert sent == set(ids)


def test_a_delivery_process_sends_what_api_replicas_store(url: str) -> None:
    metrics_port = free_port()
    api_only = {**HOOKS, "REFLEXE_WEBHOOK_WORKERS": "false"}
    with receiving(keep_alive=True) as receiver, running_server(url, env=api_only) as base:
        created = subscribe(base, receiver.url)
        items = [{"answers": {"utilite": True}} for _ in range(30)]
        answer = httpx.post(f"{base}/evaluate/batch", json={"items": items}).json()
        ids = [item["evaluation"]["id"] for item in answer["items"]]
        listing = f"{base}/webhooks/{created['id']}/deliveries"
        # No worker in the API process: they wait for the delivery process.
        assert {d["state"] for d in httpx.get(listing).json()["items"]} == {"pending"}

        deliverer = subprocess.Popen(
            [sys.executable, "-m", "app", "deliver", "--metrics-port", str(metrics_port)],
            env={**os.environ, "REFLEXE_DATABASE_URL": url, **HOOKS},
        )
        try:
            received = receiver.wait_for(30, timeout=30)
            counted = delivered_count(f"http://127.0.0.1:{metrics_port}/metrics", 30)
            page = httpx.get(listing).json()["items"]
        finally:
            deliverer.send_signal(signal.SIGTERM)
            code = deliverer.wait(timeout=30)

    assert code == 0
    payloads = [Webhook(created["secret"]).verify(r.body, r.headers) for r in received]
    in_sequence = sorted(payloads, key=lambda payload: payload["sequence"])
    assert [payload["data"]["evaluation_id"] for payload in in_sequence] == ids
    assert counted == 30
    assert [(d["state"], d["attempts"]) for d in page] == [("delivered", 1)] * 30


def delivered_count(metrics: str, expected: int) -> float:
    """reflexe_webhook_deliveries_total's delivered count, once it reached `expected` (it
    is counted once the batch is settled, after the receiver has the deliveries)."""
    wanted = 'reflexe_webhook_deliveries_total{event_type="evaluation.created",outcome="delivered"}'
    deadline = time.monotonic() + 30
    found = 0.0
    while time.monotonic() < deadline:
        try:
            text = httpx.get(metrics).text
        except httpx.TransportError:  # not listening yet
            text = ""
        lines = [line for line in text.splitlines() if line.startswith(wanted)]
        found = sum(float(line.rsplit(" ", 1)[1]) for line in lines)
        if found >= expected:
            break
        time.sleep(0.1)
    return found
