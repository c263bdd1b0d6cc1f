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


def race(*calls: Any) -> list[int]:
    """Run `calls` at once; their statuses, sorted."""
    barrier = threading.Barrier(len(calls))
    statuses: list[int] = []

    def run(call: Any) -> None:
        barrier.wait()
        statuses.append(call().status_code)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


def test_two_verdicts_at_once_one_wins(client: TestClient) -> None:
    """A first verdict and its replacement race as criteria sets do: one wins, none is lost."""
    for _ in range(ROUNDS):
        decided = client.post("/evaluate", json={"answers": {"pertinence": True}}).json()
        path = f"/evaluations/{decided['id']}/verdict"

        def give(decision: str, headers: dict[str, str], path: str = path) -> Any:
            body = {"decision": decision, "reason": "a race"}
            return lambda: client.put(path, json=body, headers=headers)

        first = race(give("accept", {}), give("decline", {}))
        replaced = race(give("accept", {"If-Match": '"v1"'}), give("decline", {"If-Match": '"v1"'}))

        assert first == [201, 428]
        assert replaced == [200, 412]
        history = client.get(f"{path}s").json()["items"]
        assert [(v["sequence"], v["current"]) for v in history] == [(1, False), (2, True)]
