"""Changing a method safely: test cases that gate saves, cases made from decisions, the
impact report on a hand-built log, shadow versions, and the content hash."""

import json
import time
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import JSON, update

from app.changes import jobs
from app.changes.models import ImpactJob
from app.db import utcnow
from app.evaluations.models import EvaluationRecord
from app.runtime import runtime_of
from tests.api.test_errors import assert_problem
from tests.factories import content_of, make_criteria_set, make_criterion

# fit: the industry; reach: mutual connections against a param; known: answers only.
# accept at 2 criteria met, review at 1.
SCREEN = {
    **make_criteria_set(
        "screen",
        criteria=[
            make_criterion(
                "fit", rules={"attribute": "industry", "operator": "eq", "value": "Software"}
            ),
            make_criterion(
                "reach",
                rules={
                    "attribute": "mutual_connections",
                    "operator": "gte",
                    "value": {"param": "min_mutual"},
                },
            ),
            make_criterion("known"),
        ],
        review_at=1,
    ),
    "params": {"min_mutual": 10},
}
# Five profiles, their decisions under min_mutual 10, and under 5 (the draft).
PROFILES: list[tuple[dict[str, Any], dict[str, bool], str, str]] = [
    ({"industry": "Software", "mutual_connections": 12}, {}, "accept", "accept"),
    ({"industry": "Software", "mutual_connections": 5}, {}, "review", "accept"),
    ({"industry": "Retail", "mutual_connections": 5}, {}, "decline", "review"),
    ({"industry": "Retail", "mutual_connections": 7}, {"known": True}, "review", "accept"),
    ({"industry": "Software", "mutual_connections": 3}, {"known": True}, "accept", "accept"),
]


def draft(min_mutual: int = 5, **changes: Any) -> dict[str, Any]:
    return {**content_of(SCREEN), "params": {"min_mutual": min_mutual}, **changes}


def case(name: str, attributes: dict[str, Any], decision: str, **met: bool | None) -> Any:
    return {"name": name, "attributes": attributes, "expect": {"decision": decision, "met": met}}


@pytest.fixture
def screen(client: TestClient) -> list[dict[str, Any]]:
    """The set, and one stored decision per profile, oldest first."""
    response = client.post("/criteria", json=SCREEN)
    assert response.status_code == 201, response.text
    decisions = []
    for index, (attributes, answers, expected, _) in enumerate(PROFILES):
        made = client.post(
            "/evaluate",
            json={
                "criteria_set": "screen",
                "subject": {"ref": f"p{index}"},
                "attributes": attributes,
                "answers": answers,
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["decision"] == expected
        decisions.append(made.json())
    return decisions


def etag_of(client: TestClient, slug: str) -> str:
    etag: str = client.get(f"/criteria/{slug}").headers["ETag"]
    return etag


def impact(client: TestClient, body: dict[str, Any], **headers: str) -> Any:
    response = client.post("/criteria/screen/impact", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def verdict(client: TestClient, evaluation_id: str, decision: str, **criteria: bool) -> None:
    body: dict[str, Any] = {"decision": decision, "reason": "A person's call."}
    if criteria:
        body["criteria"] = criteria
    response = client.put(f"/evaluations/{evaluation_id}/verdict", json=body)
    assert response.status_code == 201, response.text


# --- cases gate every version -------------------------------------------------


def test_a_set_may_carry_its_most_cases_beyond_the_general_body_limit(
    client: TestClient,
) -> None:
    headline = "Head of partnerships and alliances, " * 8  # ~300 bytes: cases as people write
    cases = [
        case(f"case {n}", {"industry": "Software", "mutual_connections": 12, "headline": headline},
             "accept", fit=True, reach=True)
        for n in range(200)
    ]  # fmt: skip
    body = {**SCREEN, "cases": cases}
    assert len(json.dumps(body)) > 64 * 1024

    created = client.post("/criteria", json=body)
    assert created.status_code == 201, created.text
    replaced = client.put(
        "/criteria/screen",
        json=draft(10, cases=cases),
        headers={"If-Match": etag_of(client, "screen")},
    )
    assert replaced.status_code == 200, replaced.text
    assert len(replaced.json()["cases"]) == 200
    # The general limit still holds elsewhere, and the one of /criteria is a limit too.
    too_big = client.post("/evaluate", json={"attributes": {"headline": headline * 250}})
    assert_problem(too_big, 413)
    padded = {**SCREEN, "slug": "padded", "description": "x" * (1024 * 1024)}
    refused = client.post("/criteria", json=padded)
    assert_problem(refused, 413)
    assert client.get("/criteria/padded").status_code == 404


def test_a_failing_case_blocks_a_create_and_nothing_is_saved(client: TestClient) -> None:
    body = {
        **SCREEN,
        "cases": [
            case("software insider", {"industry": "Software", "mutual_connections": 12}, "accept"),
            case("retail stranger", {"industry": "Retail"}, "accept", fit=True),
        ],
    }

    response = client.post("/criteria", json=body)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:reflexe:problem:failing-cases"
    assert problem["cases"] == [
        {
            "index": 1,
            "name": "retail stranger",
            "expected": {"decision": "accept", "met": {"fit": True}},
            "actual": {"decision": "decline", "met": {"fit": False}},
        }
    ]
    assert problem["errors"][0]["field"] == "cases[1]"
    assert "expected accept, got decline" in problem["errors"][0]["message"]
    assert client.get("/criteria/screen").status_code == 404


def test_a_failing_case_blocks_a_replace(client: TestClient, screen: Any) -> None:
    etag = etag_of(client, "screen")
    body = draft(
        10, cases=[case("low reach", {"industry": "Software", "mutual_connections": 5}, "accept")]
    )

    response = client.put("/criteria/screen", json=body, headers={"If-Match": etag})

    assert response.status_code == 422
    assert response.json()["cases"][0]["actual"]["decision"] == "review"
    assert client.get("/criteria/screen").json()["version"] == 1
    assert len(client.get("/criteria/screen/versions").json()["items"]) == 1
    fixed = client.put(
        "/criteria/screen", json=draft(5, cases=body["cases"]), headers={"If-Match": etag}
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["cases"][0]["name"] == "low reach"


@pytest.mark.parametrize(
    ("cases", "field"),
    [
        ([case("a", {}, "decline"), case("a", {}, "decline")], "cases[1].name"),
        ([case("a", {}, "decline", nope=True)], "cases[0].expect.met.nope"),
        ([{**case("a", {}, "decline"), "answers": {"nope": True}}], "cases[0].answers.nope"),
        ([{"name": "a", "expect": {"decision": "maybe"}}], "cases[0].expect.decision"),
    ],
)
def test_a_case_that_cannot_run_is_a_422_naming_its_field(
    client: TestClient, cases: list[Any], field: str
) -> None:
    response = client.post("/criteria", json={**SCREEN, "cases": cases})

    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]


def test_the_version_reports_what_its_cases_cover(client: TestClient) -> None:
    cases = [
        case("in", {"industry": "Software", "mutual_connections": 12}, "accept"),
        case("out", {"industry": "Retail"}, "decline"),
    ]

    created = client.post("/criteria", json={**SCREEN, "cases": cases})

    assert created.status_code == 201, created.text
    assert created.json()["coverage"] == [
        {"key": "fit", "met": True, "not_met": True, "unknown": False},
        {"key": "reach", "met": True, "not_met": False, "unknown": True},
        {"key": "known", "met": False, "not_met": False, "unknown": True},
    ]
    assert (
        client.get("/criteria/screen/versions/1").json()["coverage"] == created.json()["coverage"]
    )


def test_the_content_hash_names_the_content_not_the_version(
    client: TestClient, screen: Any
) -> None:
    first = client.get("/criteria/screen")
    same = client.put(
        "/criteria/screen", json=first.json(), headers={"If-Match": first.headers["ETag"]}
    )
    changed = client.put(
        "/criteria/screen", json=draft(7), headers={"If-Match": same.headers["ETag"]}
    )

    assert same.status_code == changed.status_code == 200
    assert same.json()["version"] == 2
    assert same.json()["content_hash"] == first.json()["content_hash"]
    assert changed.json()["content_hash"] != first.json()["content_hash"]
    assert first.json()["content_hash"].startswith("sha256:")


# --- a stored decision becomes a case ---------------------------------------------


def test_a_verdict_becomes_a_pending_case_that_gates_the_next_version(
    client: TestClient, screen: list[dict[str, Any]]
) -> None:
    reviewed = screen[1]  # review under min_mutual 10
    verdict(client, reviewed["id"], "accept", reach=True)

    made = client.post(f"/evaluations/{reviewed['id']}/case", json={"name": "a good insider"})

    assert made.status_code == 201, made.text
    assert made.headers["Location"] == "/criteria/screen"
    assert made.json()["expected_from"] == "verdict"
    assert made.json()["passes_current"] is False
    assert made.json()["case"]["expect"] == {"decision": "accept", "met": {"reach": True}}
    given = {"industry": "Software", "mutual_connections": 5}
    assert made.json()["case"]["attributes"] == given  # as sent: no null for the others
    listed = client.get("/criteria/screen").json()["pending_cases"]
    assert [c["name"] for c in listed] == ["a good insider"]
    assert listed[0]["attributes"] == given

    etag = etag_of(client, "screen")
    refused = client.put("/criteria/screen", json=draft(10), headers={"If-Match": etag})
    assert refused.status_code == 422
    assert refused.json()["cases"][0]["name"] == "a good insider"

    saved = client.put("/criteria/screen", json=draft(5), headers={"If-Match": etag})
    assert saved.status_code == 200, saved.text
    assert [c["name"] for c in saved.json()["cases"]] == ["a good insider"]
    assert saved.json()["cases"][0]["attributes"] == given
    assert saved.json()["pending_cases"] == []
    again = client.post(f"/evaluations/{reviewed['id']}/case", json={"name": "a good insider"})
    assert again.status_code == 409


def test_without_a_verdict_the_case_expects_the_decision(
    client: TestClient, screen: list[dict[str, Any]]
) -> None:
    made = client.post(f"/evaluations/{screen[0]['id']}/case")

    assert made.status_code == 201, made.text
    assert made.json()["expected_from"] == "decision"
    assert made.json()["passes_current"] is True
    assert made.json()["case"]["name"] == f"evaluation-{screen[0]['id']}"
    assert made.json()["case"]["expect"] == {
        "decision": "accept",
        "met": {"fit": True, "reach": True, "known": None},
    }


def test_a_pending_case_can_be_dropped(client: TestClient, screen: list[dict[str, Any]]) -> None:
    verdict(client, screen[1]["id"], "accept")
    client.post(f"/evaluations/{screen[1]['id']}/case", json={"name": "doubt"})

    dropped = client.delete("/criteria/screen/pending-cases/doubt")
    saved = client.put(
        "/criteria/screen", json=draft(10), headers={"If-Match": etag_of(client, "screen")}
    )

    assert dropped.status_code == 204
    assert saved.status_code == 200, saved.text
    assert saved.json()["cases"] == []
    assert client.delete("/criteria/screen/pending-cases/doubt").status_code == 404
    assert client.post("/evaluations/01a21575-af78-76c7-9d61-81b91b010867/case").status_code == 404


def test_the_list_of_sets_gives_each_its_own_pending_cases(
    client: TestClient, screen: list[dict[str, Any]]
) -> None:
    pipu = client.post("/evaluate", json={"answers": {"pertinence": True, "utilite": True}})
    client.post(f"/evaluations/{pipu.json()['id']}/case", json={"name": "pipu's own"})
    client.post(f"/evaluations/{screen[0]['id']}/case", json={"name": "screen's first"})
    client.post(f"/evaluations/{screen[1]['id']}/case", json={"name": "screen's second"})

    listed = client.get("/criteria").json()["items"]

    pending = {s["slug"]: [c["name"] for c in s["pending_cases"]] for s in listed}
    assert pending == {"pipu": ["pipu's own"], "screen": ["screen's first", "screen's second"]}
    for item in listed:
        one = client.get(f"/criteria/{item['slug']}").json()
        assert one["pending_cases"] == item["pending_cases"]


@pytest.mark.parametrize("name", ["hire/fire", "a%b c", "?#", "trailing/"])
def test_a_pending_case_of_any_name_can_be_dropped(
    client: TestClient, screen: list[dict[str, Any]], name: str
) -> None:
    made = client.post(f"/evaluations/{screen[1]['id']}/case", json={"name": name})
    assert made.status_code == 201, made.text

    dropped = client.delete(f"/criteria/screen/pending-cases/{quote(name, safe='')}")

    assert dropped.status_code == 204, dropped.text
    assert client.get("/criteria/screen").json()["pending_cases"] == []


# --- impact: replay the log ------------------------------------------------------


def test_the_impact_matrix_matches_the_hand_built_log(
    client: TestClient, screen: list[dict[str, Any]]
) -> None:
    verdict(client, screen[0]["id"], "decline")  # agrees with neither
    verdict(client, screen[1]["id"], "accept")  # agrees after
    verdict(client, screen[2]["id"], "decline")  # agrees before

    report = impact(client, {"criteria": draft(5)})

    assert report["compared"] == 5
    assert report["changed"] == 3
    assert report["matrix"] == {
        "accept": {"accept": 2, "review": 0, "decline": 0},
        "review": {"accept": 2, "review": 0, "decline": 0},
        "decline": {"accept": 0, "review": 1, "decline": 0},
    }
    assert report["criteria"] == [
        {"key": "fit", "flipped": 0, "changes": []},
        {"key": "reach", "flipped": 3, "changes": [{"was": "not_met", "now": "met", "count": 3}]},
        {"key": "known", "flipped": 0, "changes": []},
    ]
    assert report["verdicts"] == {
        "with_verdict": 3,
        "agree_before": 1,
        "agree_after": 1,
        "rate_before": 0.3333,
        "rate_after": 0.3333,
    }
    assert report["not_replayed"] == 0
    assert report["truncated"] is False
    assert [item["id"] for item in report["sample"]] == [d["id"] for d in screen[1:4]]
    assert report["sample"][0] == {
        "id": screen[1]["id"],
        "created_at": screen[1]["created_at"],
        "old": "review",
        "new": "accept",
        "flipped": ["reach"],
    }
    assert report["candidate"]["version"] is None


def test_an_unchanged_version_changes_nothing(client: TestClient, screen: Any) -> None:
    report = impact(client, {"version": 1})

    assert report["compared"] == 5
    assert report["changed"] == 0
    assert report["sample"] == []
    assert (
        report["candidate"]["content_hash"] == client.get("/criteria/screen").json()["content_hash"]
    )


def test_the_sample_is_paged(client: TestClient, screen: list[dict[str, Any]]) -> None:
    seen, cursor = [], None
    while True:
        body: dict[str, Any] = {"criteria": draft(5), "sample_size": 1}
        if cursor is not None:
            body["sample_cursor"] = cursor
        report = impact(client, body)
        seen += [item["id"] for item in report["sample"]]
        cursor = report["sample_next"]
        if cursor is None:
            break

    assert seen == [d["id"] for d in screen[1:4]]


def test_the_window_and_the_limit_bound_the_replay(
    client: TestClient, screen: list[dict[str, Any]]
) -> None:
    since = screen[2]["created_at"]
    windowed = impact(client, {"criteria": draft(5), "since": since})
    before = impact(client, {"criteria": draft(5), "until": since})
    limited = impact(client, {"criteria": draft(5), "limit": 2})

    assert windowed["compared"] == 3
    assert windowed["matrix"]["decline"]["review"] == 1
    assert before["compared"] == 2
    assert limited["compared"] == 2
    assert limited["truncated"] is True


def test_decisions_that_cannot_be_replayed_are_counted_with_why(
    client: TestClient, screen: list[dict[str, Any]]
) -> None:
    without_known = draft(5, criteria=SCREEN["criteria"][:2])
    engine = runtime_of(client.app).engine  # type: ignore[arg-type]
    with engine.begin() as connection:  # a decision whose inputs were not kept
        connection.execute(
            update(EvaluationRecord.__table__)  # type: ignore[attr-defined]
            .where(EvaluationRecord.__table__.c.id == uuid.UUID(screen[0]["id"]))  # type: ignore[attr-defined]
            .values(attributes=JSON.NULL)
        )

    report = impact(client, {"criteria": without_known})

    assert report["compared"] == 2
    assert report["not_replayed"] == 3
    assert report["not_replayed_reasons"] == [
        {"reason": "no_inputs", "criterion": None, "count": 1},
        {"reason": "removed_criterion", "criterion": "known", "count": 2},
    ]
    assert report["criteria"][-1] == {
        "key": "known",
        "flipped": 0,
        "changes": [{"was": "unknown", "now": "absent", "count": 2}],
    }


def test_a_large_window_is_a_job_to_poll(client: TestClient, screen: Any) -> None:
    direct = impact(client, {"criteria": draft(5)})

    started = client.post(
        "/criteria/screen/impact", json={"criteria": draft(5)}, headers={"Prefer": "respond-async"}
    )

    assert started.status_code == 202, started.text
    assert started.json()["total"] == 5
    location = started.headers["Location"]
    assert location == f"/criteria/screen/impact/{started.json()['id']}"
    for _ in range(100):
        job = client.get(location).json()
        if job["status"] == "done":
            break
        time.sleep(0.05)
    assert job["status"] == "done", job
    assert job["report"]["matrix"] == direct["matrix"]
    assert job["compared"] == 5
    assert client.get("/criteria/pipu/impact/" + started.json()["id"]).status_code == 404


def test_jobs_are_forgotten_after_a_week(client: TestClient, screen: Any) -> None:
    started = client.post(
        "/criteria/screen/impact", json={"version": 1}, headers={"Prefer": "respond-async"}
    )
    engine = runtime_of(client.app).engine  # type: ignore[arg-type]
    table = ImpactJob.__table__  # type: ignore[attr-defined]
    recent = jobs.purge(engine)
    with engine.begin() as connection:
        connection.execute(update(table).values(created_at=utcnow() - timedelta(days=8)))

    assert recent == 0
    assert jobs.purge(engine) == 1
    assert client.get(started.headers["Location"]).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"version": 1, "criteria": draft(5)},
        {"version": 1, "sample_cursor": "nonsense"},
        {"version": 1, "since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"criteria": draft(5, criteria=[])},
    ],
)
def test_a_bad_impact_request_is_a_422(client: TestClient, screen: Any, body: Any) -> None:
    response = client.post("/criteria/screen/impact", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("window", "field"),
    [
        ({"since": 1767225600}, "since"),  # a number is no ISO 8601 date-time
        ({"until": 1767225600.5}, "until"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ],
)
def test_an_impact_window_is_checked_by_its_field(
    client: TestClient, screen: Any, window: dict[str, Any], field: str
) -> None:
    response = client.post("/criteria/screen/impact", json={"version": 1, **window})

    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["field"], error["location"]) == (field, "body")


def test_impact_on_an_unknown_set_or_version_is_a_404(client: TestClient, screen: Any) -> None:
    assert client.post("/criteria/nope/impact", json={"version": 1}).status_code == 404
    assert client.post("/criteria/screen/impact", json={"version": 9}).status_code == 404


# --- shadow versions -------------------------------------------------------------


def test_a_shadow_decides_alongside_and_is_never_answered(
    client: TestClient, screen: list[dict[str, Any]]
) -> None:
    started = client.put("/criteria/screen/shadow", json={"criteria": draft(5)})
    assert started.status_code == 200, started.text
    assert started.json()["version"] == 2
    assert started.json()["current_version"] == 1
    assert client.get("/criteria/screen").json()["shadow_version"] == 2

    for index, (attributes, answers, expected, _) in enumerate(PROFILES):
        response = client.post(
            "/evaluate",
            json={"criteria_set": "screen", "attributes": attributes, "answers": answers},
        )
        assert response.status_code == 201
        assert response.json()["decision"] == expected  # the current version decides
        assert "shadow" not in response.text
        assert client.get(f"/evaluations/{response.json()['id']}").content == response.content
        if index == 1:
            verdict(client, response.json()["id"], "accept")

    report = client.get("/criteria/screen/shadow").json()
    assert report["compared"] == 5
    assert report["matrix"] == {
        "accept": {"accept": 2, "review": 0, "decline": 0},
        "review": {"accept": 2, "review": 0, "decline": 0},
        "decline": {"accept": 0, "review": 1, "decline": 0},
    }
    assert report["criteria"][1] == {
        "key": "reach",
        "flipped": 3,
        "changes": [{"was": "not_met", "now": "met", "count": 3}],
    }
    assert report["verdicts"]["with_verdict"] == 1
    assert report["verdicts"]["agree_after"] == 1
    assert report["shadow"]["version"] == 2

    assert client.delete("/criteria/screen/shadow").status_code == 204
    client.post("/evaluate", json={"criteria_set": "screen", "attributes": PROFILES[0][0]})
    assert client.get("/criteria/screen/shadow").status_code == 404
    assert client.get("/criteria/screen").json()["shadow_version"] is None


def test_a_shadow_draft_is_a_version_that_is_not_current(client: TestClient, screen: Any) -> None:
    client.put("/criteria/screen/shadow", json={"criteria": draft(5)})

    assert client.get("/criteria/screen").json()["version"] == 1
    assert client.get("/criteria/screen/versions/2").json()["params"] == {"min_mutual": 5}
    promoted = client.put(
        "/criteria/screen", json=draft(5), headers={"If-Match": etag_of(client, "screen")}
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["version"] == 3
    assert promoted.json()["shadow_version"] is None  # promoted: the shadow's job is done
    shadowed = client.put("/criteria/screen/shadow", json={"version": 2})
    assert shadowed.status_code == 200
    assert client.put("/criteria/screen/shadow", json={"version": 3}).status_code == 409
    assert client.put("/criteria/screen/shadow", json={"version": 9}).status_code == 404


def test_a_shadow_draft_with_failing_cases_is_refused(client: TestClient, screen: Any) -> None:
    failing = draft(5, cases=[case("never", {"industry": "Retail"}, "accept")])

    response = client.put("/criteria/screen/shadow", json={"criteria": failing})

    assert response.status_code == 422
    assert response.json()["type"] == "urn:reflexe:problem:failing-cases"
    assert client.get("/criteria/screen").json()["shadow_version"] is None
    assert len(client.get("/criteria/screen/versions").json()["items"]) == 1


def test_a_case_name_no_database_can_store_is_a_422(
    client: TestClient, screen: list[dict[str, Any]]
) -> None:
    made = client.post(f"/evaluations/{screen[0]['id']}/case", json={"name": "before\x00after"})
    dropped = client.delete("/criteria/screen/pending-cases/before%00after")

    for response in (made, dropped):
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "name"
    assert client.get("/criteria/screen").json()["pending_cases"] == []
