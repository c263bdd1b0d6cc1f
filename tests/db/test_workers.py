"""Several worker processes: a criteria change is used by every worker at once."""

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.db.servers import free_port, fresh_postgres, start_server

WORKERS = 2


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = (
        f"sqlite:///{tmp_path}/workers.db"
        if request.param == "sqlite"
        else fresh_postgres("reflexe_workers")
    )
    port = free_port()
    process = start_server(url, port, WORKERS)
    base = f"http://127.0.0.1:{port}"
    try:
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _evaluate_on_new_connections(base: str, count: int) -> list[dict[str, object]]:
    results = []
    for _ in range(count):
        # A new connection each time, so the kernel spreads them over the workers.
        with httpx.Client(base_url=base) as client:
            response = client.post("/evaluate", json={"answers": {"pertinence": True}})
            assert response.status_code == 201, response.text
            results.append(response.json())
    return results


def test_a_replaced_set_is_used_by_every_worker_for_every_later_request(server: str) -> None:
    before = _evaluate_on_new_connections(server, 30)
    current = httpx.get(f"{server}/criteria/pipu")
    content = {
        key: value
        for key, value in current.json().items()
        if key not in ("slug", "version", "created_at", "is_default", "archived_at")
    }
    content["policy"]["accept_at"] = 1

    replaced = httpx.put(
        f"{server}/criteria/pipu", json=content, headers={"If-Match": current.headers["etag"]}
    )
    after = _evaluate_on_new_connections(server, 40)

    assert replaced.status_code == 200
    assert {(r["criteria_set"]["version"], r["decision"]) for r in before} == {(1, "decline")}  # type: ignore[index]
    assert {(r["criteria_set"]["version"], r["decision"]) for r in after} == {(2, "accept")}  # type: ignore[index]
