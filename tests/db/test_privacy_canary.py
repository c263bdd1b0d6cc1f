"""The canary, end to end through a real server: under `minimal`, a unique string in a
profile reaches the caller's answer and nothing else, not the database file, its WAL, the
logs (text and JSON), the webhook payloads, nor the log read back through the API."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.db.servers import free_port
from tests.webhooks.receiver import receiving


def _start(database: Path, log: Path, log_format: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as output:
        process = _spawn(database, output, port, log_format)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("the server did not start")


def _spawn(database: Path, output: Any, port: int, log_format: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env={
            **os.environ,
            "REFLEXE_DATABASE_URL": f"sqlite:///{database}",
            "REFLEXE_DEV_MODE": "true",
            "REFLEXE_RATE_LIMIT": "",
            "REFLEXE_LOG_LEVEL": "debug",
            "REFLEXE_LOG_FORMAT": log_format,
            "REFLEXE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "REFLEXE_WEBHOOK_POLL_SECONDS": "0.1",
        },
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _profile(mark: str) -> dict[str, Any]:
    return {
        "subject": {"ref": f"https://www.linkedin.com/in/{mark}", "name": f"Ada {mark}"},
        "answers": {"pertinence": True},
        "attributes": {
            "headline": f"Founder at {mark}",
            "current_title": f"Coach {mark}",
            "company": f"{mark} Consulting",
            "message": f"Hello from {mark}",
            "mutual_connections": 7,
        },
    }


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_minimal_canary_reaches_the_caller_and_nothing_else(
    tmp_path: Path, log_format: str
) -> None:
    database, log = tmp_path / "reflexe.db", tmp_path / "server.log"
    mark = f"canary{uuid.uuid4().hex}"
    ref, key = f"https://www.linkedin.com/in/{mark}", f"key-{uuid.uuid4().hex}"
    process, base = _start(database, log, log_format)
    try:
        with receiving() as receiver, httpx.Client(base_url=base, timeout=30) as client:
            current = client.get("/criteria/pipu")
            minimal = {**current.json(), "privacy": "minimal"}
            changed = client.put(
                "/criteria/pipu", json=minimal, headers={"If-Match": current.headers["etag"]}
            )
            assert changed.status_code == 200, changed.text
            hook = {
                "url": receiver.url,
                "events": ["evaluation.created"],
                "include_attributes": True,
            }
            assert client.post("/webhooks", json=hook).status_code == 201

            single = client.post("/evaluate", json=_profile(mark), headers={"Idempotency-Key": key})
            batch = client.post("/evaluate/batch", json={"items": [_profile(mark)] * 2})
            delivered = receiver.wait_for(3)
            read = [
                client.get("/evaluations", params={"subject": ref}),
                client.get("/evaluations"),
                client.get(f"/evaluations/{single.json()['id']}"),
                client.get(f"/evaluations/{single.json()['id']}/inputs"),
                client.post("/evaluate", json=_profile(mark), headers={"Idempotency-Key": key}),
            ]
            wal = Path(f"{database}-wal").read_bytes()
            stored = database.read_bytes()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)

    assert single.status_code == 201
    assert mark in single.text  # the caller sent it and is answered in full
    assert batch.status_code == 200
    assert mark in batch.text
    assert len(read[0].json()["items"]) == 3
    for answer in read:
        assert answer.status_code in (200, 201), answer.text
        assert mark not in answer.text
    for received in delivered:
        assert mark not in received.body.decode()
        assert json.loads(received.body)["data"]["privacy"] == "minimal"
    logged = log.read_text()
    assert "/evaluations" in logged  # the requests were logged
    assert mark not in logged
    assert mark.encode() not in wal
    assert mark.encode() not in stored
    for path in tmp_path.glob("reflexe.db*"):  # after the server stopped
        assert mark.encode() not in path.read_bytes(), path.name
