"""Crashes and shutdowns under load: nothing acknowledged is ever lost."""

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.db.servers import free_port, start_server

CLIENTS = 8
CRASHES = 10


class Load:
    """Clients posting decisions until told to stop, remembering every acknowledged id."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.acknowledged: set[str] = set()
        self.failures: list[int] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(CLIENTS)]

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _client(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as http:
            while not self._stop.is_set():
                try:
                    response = http.post("/evaluate", json={"answers": {"pertinence": True}})
                except httpx.TransportError:
                    continue  # the server is gone: whatever was in flight was never acknowledged
                if response.status_code == 201:
                    self.acknowledged.add(response.json()["id"])
                elif response.status_code >= 500:
                    self.failures.append(response.status_code)


def stored_ids(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {row[0] for row in connection.execute("SELECT id FROM evaluation")}


@pytest.fixture
def database(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "crash.db"
    return f"sqlite:///{path}", path


def test_kill_9_under_load_loses_no_acknowledged_decision(database: tuple[str, Path]) -> None:
    url, path = database
    port = free_port()
    acknowledged: set[str] = set()
    for round_ in range(CRASHES):
        server = start_server(url, port)
        with Load(f"http://127.0.0.1:{port}") as load:
            time.sleep(0.4 + 0.1 * round_)
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        acknowledged |= load.acknowledged
        missing = acknowledged - {_dashed(i) for i in stored_ids(path)}
        assert not missing, f"round {round_}: {len(missing)} acknowledged decisions lost"
    assert len(acknowledged) > CRASHES  # the load really ran


def test_sigterm_lets_requests_in_flight_finish(database: tuple[str, Path]) -> None:
    url, path = database
    port = free_port()
    server = start_server(url, port)
    with Load(f"http://127.0.0.1:{port}") as load:
        time.sleep(1)
        os.killpg(server.pid, signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    stored = {_dashed(i) for i in stored_ids(path)}

    assert load.acknowledged
    assert load.acknowledged <= stored
    assert load.failures == []  # requests in flight were answered, not cut off


def _dashed(hex_id: str) -> str:
    """SQLite keeps UUIDs as 32 hex digits; the API shows them dashed."""
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"
