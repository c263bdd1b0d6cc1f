"""Metrics with two worker processes: any worker's scrape counts what both did."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.db.servers import free_port

EVALUATIONS = 40


def _value(text: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def test_two_workers_count_every_decision_once(tmp_path: Path) -> None:
    port, log = free_port(), (tmp_path / "server.log").open("wb")
    env = {
        **os.environ,
        "REFLEXE_DATABASE_URL": f"sqlite:///{tmp_path}/metrics.db",
        "REFLEXE_DEV_MODE": "true",
        "REFLEXE_RATE_LIMIT": "",
        "REFLEXE_LOG_FORMAT": "json",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stderr=log,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        for _ in range(EVALUATIONS):
            with httpx.Client(base_url=base) as client:  # a new connection each time
                response = client.post("/evaluate", json={"answers": {"pertinence": True}})
                assert response.status_code == 201, response.text
        scrapes = []
        for _ in range(4):
            with httpx.Client(base_url=base) as client:
                scrapes.append(client.get("/metrics").text)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()

    for text in scrapes:
        assert _value(text, "reflexe_decisions_total", criteria_set="pipu") == EVALUATIONS
        stored = {"method": "POST", "route": "/evaluate", "status": "201"}
        assert _value(text, "reflexe_http_requests_total", **stored) == EVALUATIONS
    # What the command prints before uvicorn starts (migrations) is plain text.
    output = (tmp_path / "server.log").read_text().splitlines()
    lines = [json.loads(line) for line in output if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "reflexe.access"]
    evaluations = [line for line in access if line["route"] == "/evaluate"]
    assert len(evaluations) == EVALUATIONS
    assert len({line["pid"] for line in evaluations}) == 2  # both workers answered
