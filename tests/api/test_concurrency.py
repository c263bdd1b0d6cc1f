"""Concurrent changes to a criteria set: one wins, the history stays whole."""

import threading
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import content_of, make_criteria_set

ROUNDS = 5


def test_two_puts_with_the_same_etag_one_wins(client: TestClient) -> None:
    body = make_criteria_set("race")
    assert client.post("/criteria", json=body).status_code == 201
    content = content_of(body)

    for _ in range(ROUNDS):
        etag = client.get("/criteria/race").headers["etag"]
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def put(
            accept_at: int,
            etag: str = etag,
            barrier: threading.Barrier = barrier,
            statuses: list[int] = statuses,
        ) -> None:
            change: dict[str, Any] = {**content, "policy": {"accept_at": accept_at}}
            barrier.wait()
            statuses.append(
                client.put("/criteria/race", json=change, headers={"If-Match": etag}).status_code
            )

        threads = [threading.Thread(target=put, args=(n,)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [200, 412]

    versions = [v["version"] for v in client.get("/criteria/race/versions").json()["items"]]
    assert versions == list(range(1, ROUNDS + 2))
