"""Human in the loop: verdicts, the review queue, the log's verdict filters, statistics."""

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import as_key, make_criteria_set, make_criterion, new_key

# accept at 2 criteria met, review at 1, decline at 0; `active` is judged by a rule.
TRIAGE = make_criteria_set(
    "triage",
    criteria=[
        make_criterion("relevant"),
        make_criterion(
            "active",
            rules={"attribute": "posts_last_90_days", "operator": "gte", "value": 3},
        ),
        make_criterion("useful"),
    ],
    review_at=1,
)
VERDICT = {"decision": "accept", "reason": "A likely client after all."}


@pytest.fixture
def triage(client: TestClient) -> str:
    response = client.post("/criteria", json=TRIAGE)
    assert response.status_code == 201, response.text
    return "triage"


def decide(
    client: TestClient,
    answers: dict[str, bool | None] | None = None,
    attributes: dict[str, Any] | None = None,
    *,
    ref: str | None = None,
    criteria_set: str = "triage",
) -> dict[str, Any]:
    body: dict[str, Any] = {"criteria_set": criteria_set, "answers": answers or {}}
    if attributes is not None:
        body["attributes"] = attributes
    if ref is not None:
        body["subject"] = {"ref": ref}
    response = client.post("/evaluate", json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def give(
    client: TestClient, evaluation_id: str, body: dict[str, Any] | None = None, **headers: str
) -> Any:
    return client.put(
        f"/evaluations/{evaluation_id}/verdict",
        json=VERDICT if body is None else body,
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )


def review_one(client: TestClient, **attributes: Any) -> dict[str, Any]:
    """A `review`: one criterion met of three."""
    return decide(client, {"relevant": True}, attributes or None)


# --- verdicts -----------------------------------------------------------------


def test_a_first_verdict_is_created_with_its_etag(client: TestClient, triage: str) -> None:
    decided = review_one(client)

    response = give(client, decided["id"])

    assert response.status_code == 201
    assert response.headers["etag"] == '"v1"'
    assert response.headers["location"] == f"/evaluations/{decided['id']}/verdict"
    verdict = response.json()
    assert verdict["evaluation_id"] == decided["id"]
    assert (verdict["sequence"], verdict["current"]) == (1, True)
    assert (verdict["decision"], verdict["machine_decision"]) == ("accept", "review")
    assert verdict["agrees"] is None  # a review had no decision to agree with
    assert verdict["reason"] == VERDICT["reason"]
    assert verdict["api_key_id"] is not None  # the admin key of the client
    fetched = client.get(f"/evaluations/{decided['id']}/verdict")
    assert fetched.json() == verdict
    assert fetched.headers["etag"] == '"v1"'


def test_the_decision_shows_its_verdict_and_final_decision(client: TestClient, triage: str) -> None:
    decided = review_one(client)
    assert (decided["verdict"], decided["final_decision"]) == (None, "review")

    verdict = give(client, decided["id"], {**VERDICT, "decision": "decline"}).json()
    read = client.get(f"/evaluations/{decided['id']}").json()

    assert read["verdict"] == verdict
    assert read["final_decision"] == "decline"
    # The machine's decision is never modified: everything else is as POST answered.
    unchanged = {k: v for k, v in read.items() if k not in ("verdict", "final_decision")}
    assert unchanged == {k: v for k, v in decided.items() if k not in ("verdict", "final_decision")}
    listed = client.get("/evaluations", params={"criteria_set": "triage"}).json()["items"]
    assert listed == [read]


def test_replacing_a_verdict_needs_the_current_etag(client: TestClient, triage: str) -> None:
    decided = review_one(client)
    give(client, decided["id"])
    second = {**VERDICT, "decision": "decline", "reason": "On second thought, no."}

    missing = give(client, decided["id"], second)
    stale = give(client, decided["id"], second, If_Match='"v7"')
    replaced = give(client, decided["id"], second, If_Match='"v1"')
    again = give(client, decided["id"], second, If_Match='"v1"')

    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"
    assert stale.status_code == 412
    assert replaced.status_code == 200
    assert replaced.headers["etag"] == '"v2"'
    assert again.status_code == 412
    assert give(client, decided["id"], VERDICT, If_Match="*").headers["etag"] == '"v3"'


def test_every_verdict_is_kept_in_the_history(client: TestClient, triage: str) -> None:
    decided = review_one(client)
    give(client, decided["id"])
    give(
        client, decided["id"], {**VERDICT, "decision": "decline", "note": "Spam."}, If_Match='"v1"'
    )

    history = client.get(f"/evaluations/{decided['id']}/verdicts").json()["items"]

    assert [(v["sequence"], v["current"], v["decision"]) for v in history] == [
        (1, False, "accept"),
        (2, True, "decline"),
    ]
    assert history[1]["note"] == "Spam."
    assert client.get(f"/evaluations/{decided['id']}/verdict").json() == history[1]


def test_if_match_on_a_decision_without_verdict_is_412(client: TestClient, triage: str) -> None:
    decided = review_one(client)

    assert give(client, decided["id"], If_Match='"v1"').status_code == 412
    assert give(client, decided["id"], If_Match="*").status_code == 412
    assert client.get(f"/evaluations/{decided['id']}/verdicts").json()["items"] == []


def test_a_decision_without_verdict_has_none(client: TestClient, triage: str) -> None:
    decided = review_one(client)

    response = client.get(f"/evaluations/{decided['id']}/verdict")

    assert response.status_code == 404
    assert "no verdict" in response.json()["detail"]


def test_a_verdict_on_an_unknown_id_or_a_dry_run_is_404(client: TestClient, triage: str) -> None:
    dry = client.post("/evaluate", json={"criteria_set": "triage", "dry_run": True}).json()
    assert dry["id"] is None

    unknown = give(client, "01a21575-af78-76c7-9d61-81b91b010867")

    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert give(client, "not-a-uuid").status_code == 422


def test_an_unknown_criterion_is_a_422_naming_it(client: TestClient, triage: str) -> None:
    decided = review_one(client)

    response = give(client, decided["id"], {**VERDICT, "criteria": {"relevant": True, "nope": 1}})
    wrong = give(client, decided["id"], {**VERDICT, "criteria": {"nope": True}})

    assert response.status_code == 422  # 1 is not a boolean
    assert wrong.status_code == 422
    [error] = wrong.json()["errors"]
    assert error["field"] == "criteria.nope"
    assert "relevant, active, useful" in error["message"]
    assert client.get(f"/evaluations/{decided['id']}/verdicts").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "review", "reason": "?"}, "decision"),
        ({"decision": "accept"}, "reason"),
        ({"decision": "accept", "reason": "   "}, "reason"),
        ({"decision": "accept", "reason": "x" * 501}, "reason"),
        ({"decision": "accept", "reason": "ok", "extra": 1}, "extra"),
    ],
)
def test_a_bad_verdict_is_a_422_naming_the_field(
    client: TestClient, triage: str, body: dict[str, Any], field: str
) -> None:
    decided = review_one(client)

    response = give(client, decided["id"], body)

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "accept", "reason": "nul \u0000 here"}, "reason"),
        ({"decision": "accept", "reason": "ok", "note": "\ud800"}, "note"),
        ({"decision": "accept", "reason": "ok", "criteria": {"use\u0000ful": True}}, "criteria"),
    ],
)
def test_text_no_database_can_store_is_a_422(
    client: TestClient, triage: str, body: dict[str, Any], field: str
) -> None:
    decided = review_one(client)

    response = client.put(
        f"/evaluations/{decided['id']}/verdict",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"].startswith(field)
    assert client.get(f"/evaluations/{decided['id']}/verdicts").json()["items"] == []


def test_an_override_agrees_or_not(client: TestClient, triage: str) -> None:
    accepted = decide(client, {"relevant": True, "useful": True})
    declined = decide(client, {"relevant": False, "useful": False})

    agreeing = give(client, accepted["id"], {**VERDICT, "decision": "accept"}).json()
    overriding = give(client, declined["id"], {**VERDICT, "decision": "accept"}).json()

    assert (agreeing["machine_decision"], agreeing["agrees"]) == ("accept", True)
    assert (overriding["machine_decision"], overriding["agrees"]) == ("decline", False)


def test_an_evaluator_reads_only_the_verdicts_of_its_decisions(
    client: TestClient, triage: str
) -> None:
    evaluator = new_key(client, "evaluator")
    theirs = review_one(client)
    mine = client.post(
        "/evaluate", json={"criteria_set": "triage"}, headers=as_key(evaluator)
    ).json()
    for decided in (theirs, mine):
        give(client, decided["id"])

    assert (
        client.get(f"/evaluations/{mine['id']}/verdict", headers=as_key(evaluator)).status_code
        == 200
    )
    for path in ("verdict", "verdicts"):
        response = client.get(f"/evaluations/{theirs['id']}/{path}", headers=as_key(evaluator))
        assert response.status_code == 404


def test_a_reviewer_gives_verdicts_and_reads_every_decision(
    client: TestClient, triage: str
) -> None:
    reviewer = new_key(client, "reviewer")
    decided = review_one(client)

    given = give(client, decided["id"], Authorization=f"Bearer {reviewer}")
    read = client.get(f"/evaluations/{decided['id']}", headers=as_key(reviewer))

    assert given.status_code == 201, given.text
    assert read.json()["verdict"]["api_key_id"] == reviewer.split("_")[1]
    assert client.post("/evaluate", json={}, headers=as_key(reviewer)).status_code == 403


# --- the log's filters ----------------------------------------------------------


def test_the_log_filters_by_final_decision_and_verdict(client: TestClient, triage: str) -> None:
    review = review_one(client)
    accepted = decide(client, {"relevant": True, "useful": True})
    declined = decide(client, {"relevant": False})
    untouched = decide(client, {"useful": True, "active": True})
    give(client, review["id"], {**VERDICT, "decision": "decline"})
    give(client, accepted["id"], {**VERDICT, "decision": "accept"})
    give(client, declined["id"], {**VERDICT, "decision": "accept"})

    def ids(**params: Any) -> set[str]:
        response = client.get("/evaluations", params={"criteria_set": "triage", **params})
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert ids(final_decision="accept") == {accepted["id"], declined["id"], untouched["id"]}
    assert ids(final_decision="decline") == {review["id"]}
    assert ids(final_decision="review") == set()
    assert ids(has_verdict=True) == {review["id"], accepted["id"], declined["id"]}
    assert ids(has_verdict=False) == {untouched["id"]}
    assert ids(verdict_agrees=True) == {accepted["id"]}
    assert ids(verdict_agrees=False) == {declined["id"]}
    assert ids(decision="decline", final_decision="accept") == {declined["id"]}
    assert client.get("/evaluations", params={"has_verdict": "maybe"}).status_code == 422


# --- the review queue -------------------------------------------------------------


def test_the_queue_lists_reviews_without_verdict_oldest_first(
    client: TestClient, triage: str
) -> None:
    first = review_one(client)
    decide(client, {"relevant": True, "useful": True})  # accept: not in the queue
    second = decide(client, {"useful": None, "active": True})  # one met, one unknown
    third = review_one(client)
    give(client, third["id"])

    queue = client.get("/reviews").json()

    assert [item["evaluation"]["id"] for item in queue["items"]] == [first["id"], second["id"]]
    assert queue["next_cursor"] is None
    assert queue["items"][0]["evaluation"] == first
    because = queue["items"][1]["because"]
    assert because == {"unknown": ["relevant", "useful"], "in_band": True, "review_at": 1.0}


def test_a_replayed_review_enters_the_queue_once(client: TestClient, triage: str) -> None:
    body = {"criteria_set": "triage", "answers": {"relevant": True}}
    headers = {"Idempotency-Key": "once"}

    sent = [client.post("/evaluate", json=body, headers=headers) for _ in range(3)]

    assert {response.json()["id"] for response in sent} == {sent[0].json()["id"]}
    queue = client.get("/reviews").json()["items"]
    assert [item["evaluation"]["id"] for item in queue] == [sent[0].json()["id"]]
    assert client.get("/stats", params={"criteria_set": "triage"}).json()["queue"]["open"] == 1


def test_the_queue_pages_with_a_cursor(client: TestClient, triage: str) -> None:
    made = [review_one(client)["id"] for _ in range(5)]

    seen, cursor, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/reviews", params=params).json()
        seen += [item["evaluation"]["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == made
    assert pages == 3
    assert client.get("/reviews", params={"cursor": "garbage"}).status_code == 422


def test_the_queue_filters_by_set_and_time(client: TestClient, triage: str) -> None:
    before = review_one(client)
    time.sleep(0.01)
    middle = datetime.now(UTC).isoformat()
    after = review_one(client)
    client.post("/criteria", json=make_criteria_set("other", review_at=1))
    other = decide(client, {"relevant": True}, criteria_set="other")
    assert other["decision"] == "review"

    def ids(**params: Any) -> list[str]:
        response = client.get("/reviews", params=params)
        assert response.status_code == 200, response.text
        return [item["evaluation"]["id"] for item in response.json()["items"]]

    assert ids(criteria_set="triage") == [before["id"], after["id"]]
    assert ids(criteria_set="other") == [other["id"]]
    assert ids() == [before["id"], after["id"], other["id"]]
    assert ids(criteria_set="triage", since=middle) == [after["id"]]
    assert ids(criteria_set="triage", until=middle) == [before["id"]]
    assert client.get("/reviews", params={"since": "yesterday"}).status_code == 422
    empty = client.get("/reviews", params={"since": middle, "until": middle})
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"] == "until"


# --- statistics -------------------------------------------------------------------


def test_stats_count_a_hand_built_log(client: TestClient, triage: str) -> None:
    # Six decisions, statuses by (relevant, active, useful); `active` by its rule.
    accept_1 = decide(client, {"relevant": True}, {"posts_last_90_days": 5})  # + r+ n?
    accept_2 = decide(client, {"relevant": True, "useful": True})  # a+ n? a+
    decline_1 = decide(client, {"relevant": False}, {"posts_last_90_days": 0})  # a- r- n?
    review_1 = decide(client, {"useful": True})  # n? n? a+
    review_2 = decide(client, {"relevant": True, "useful": False})  # a+ n? a-
    review_3 = decide(client, {}, {"posts_last_90_days": 9})  # n? r+ n?
    assert [d["decision"] for d in (accept_1, accept_2, decline_1)] == ["accept"] * 2 + ["decline"]
    assert {d["decision"] for d in (review_1, review_2, review_3)} == {"review"}
    # Verdicts: the person disagrees with accept_1's rule, confirms accept_2, overrides
    # decline_1, resolves review_1 (and replaces that verdict), leaves the others waiting.
    give(
        client,
        accept_1["id"],
        {"decision": "decline", "reason": "x", "criteria": {"active": False}},
    )
    give(
        client, accept_2["id"], {"decision": "accept", "reason": "x", "criteria": {"useful": True}}
    )
    give(
        client,
        decline_1["id"],
        {"decision": "accept", "reason": "x", "criteria": {"relevant": True, "active": True}},
    )
    give(client, review_1["id"], {"decision": "decline", "reason": "x"})
    give(client, review_1["id"], {"decision": "accept", "reason": "y"}, If_Match='"v1"')
    decide(client, {"pertinence": True}, criteria_set="pipu")  # another set: not counted

    stats = client.get("/stats", params={"criteria_set": "triage"})

    assert stats.status_code == 200, stats.text
    figures = stats.json()
    assert figures["decisions"] == {
        "total": 6,
        "machine": {"accept": 2, "decline": 1, "review": 3},
        "final": {"accept": 3, "decline": 1, "review": 2},
        "by_day": None,
    }
    assert figures["criteria"] == [
        {"key": "relevant", "met": 3, "not_met": 1, "unknown": 2,
         "source": {"answer": 4, "rules": 0, "none": 2}},
        {"key": "active", "met": 2, "not_met": 1, "unknown": 3,
         "source": {"answer": 0, "rules": 3, "none": 3}},
        {"key": "useful", "met": 2, "not_met": 1, "unknown": 3,
         "source": {"answer": 3, "rules": 0, "none": 3}},
    ]  # fmt: skip
    verdicts = figures["verdicts"]
    assert (verdicts["count"], verdicts["replaced"]) == (4, 1)
    assert verdicts["agreement"] == {
        "accept": {"accept": 1, "decline": 1},
        "decline": {"accept": 1, "decline": 0},
        "review": {"accept": 1, "decline": 0},
    }
    assert verdicts["agreement_rate"] == pytest.approx(1 / 3)
    assert verdicts["criteria"] == [
        {"key": "active", "judged": 2, "met_by_human_only": 1, "met_by_machine_only": 1},
        {"key": "relevant", "judged": 1, "met_by_human_only": 1, "met_by_machine_only": 0},
        {"key": "useful", "judged": 1, "met_by_human_only": 0, "met_by_machine_only": 0},
    ]
    assert verdicts["leaves"] == [
        {"criterion": "active", "leaf": "posts_last_90_days gte 3", "contradicted": 2}
    ]
    queue = figures["queue"]
    assert queue["open"] == 2
    assert queue["oldest_age_seconds"] > 0
    assert 0 < queue["median_seconds_to_verdict"] == queue["p90_seconds_to_verdict"]


def test_stats_by_day_and_filters(client: TestClient, triage: str) -> None:
    first = review_one(client)
    time.sleep(0.01)
    middle = datetime.now(UTC).isoformat()
    decide(client, {"relevant": True, "useful": True})
    give(client, first["id"])
    today = datetime.now(UTC).date().isoformat()

    by_day = client.get("/stats", params={"criteria_set": "triage", "bucket": "day"}).json()
    later = client.get("/stats", params={"criteria_set": "triage", "since": middle}).json()
    earlier = client.get("/stats", params={"criteria_set": "triage", "until": middle}).json()
    v1 = client.get("/stats", params={"criteria_set": "triage", "version": 1}).json()
    v2 = client.get("/stats", params={"criteria_set": "triage", "version": 2}).json()

    [day] = by_day["decisions"]["by_day"]
    assert day == {
        "day": today,
        "machine": {"accept": 1, "decline": 0, "review": 1},
        "final": {"accept": 2, "decline": 0, "review": 0},
    }
    assert later["decisions"]["machine"] == {"accept": 1, "decline": 0, "review": 0}
    assert later["verdicts"]["count"] == 0
    assert earlier["decisions"]["machine"] == {"accept": 0, "decline": 0, "review": 1}
    assert earlier["verdicts"]["count"] == 1
    assert earlier["queue"]["open"] == 0
    assert v1["decisions"]["total"] == 2
    assert v2["decisions"]["total"] == 0


def test_stats_need_a_set_when_several_exist(client: TestClient, triage: str) -> None:
    several = client.get("/stats")
    unknown = client.get("/stats", params={"criteria_set": "nope"})

    assert several.status_code == 422
    assert several.json()["errors"][0]["field"] == "criteria_set"
    assert "pipu, triage" in several.json()["errors"][0]["message"]
    assert unknown.status_code == 404
    assert client.get("/stats", params={"bucket": "week"}).status_code == 422
    backwards = {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    assert client.get("/stats", params={"criteria_set": "triage", **backwards}).status_code == 422


def test_stats_default_to_the_only_set(client: TestClient) -> None:
    decide(client, {"pertinence": True, "utilite": True}, criteria_set="pipu")

    stats = client.get("/stats").json()

    assert stats["criteria_set"] == "pipu"
    assert stats["decisions"]["machine"]["accept"] == 1
    assert [c["key"] for c in stats["criteria"]] == [
        "pertinence",
        "interaction",
        "prescription",
        "utilite",
    ]


# --- the same person again --------------------------------------------------------


def test_a_decision_links_to_the_subjects_previous_one(client: TestClient, triage: str) -> None:
    ref = "https://example.org/in/ada"
    first = decide(client, {"relevant": True}, {"headline": "Dentist"}, ref=ref)
    second = decide(
        client, {"relevant": True, "useful": True}, {"headline": "Workshop manager"}, ref=ref
    )
    third = decide(
        client,
        {"relevant": True, "useful": True},
        {"headline": "Workshop manager", "posts_last_90_days": 4},
        ref=ref,
    )

    assert (first["previous_id"], first["changes"]) == (None, None)
    assert second["previous_id"] == first["id"]
    assert second["changes"] == {
        "attributes": ["headline"],
        "criteria": [{"key": "useful", "was": None, "now": True}],
        "decision": True,
    }
    assert third["previous_id"] == second["id"]
    assert third["changes"] == {
        "attributes": ["posts_last_90_days"],
        "criteria": [{"key": "active", "was": None, "now": True}],
        "decision": False,
    }
    assert client.get(f"/evaluations/{third['id']}").json() == third


def test_a_new_version_of_the_set_still_links_by_criterion_key(
    client: TestClient, triage: str
) -> None:
    ref = "https://example.org/in/fay"
    first = decide(client, {"relevant": True, "useful": False}, ref=ref)
    replaced = make_criteria_set(
        "triage",
        criteria=[make_criterion("useful"), make_criterion("relevant"), make_criterion("new")],
        review_at=1,
    )
    body = {k: v for k, v in replaced.items() if k != "slug"}
    assert client.put("/criteria/triage", json=body, headers={"If-Match": '"v1"'}).is_success

    second = decide(client, {"relevant": True, "useful": True, "new": True}, ref=ref)

    assert second["criteria_set"]["version"] == 2
    assert second["previous_id"] == first["id"]
    assert second["changes"]["criteria"] == [{"key": "useful", "was": False, "now": True}]


def test_only_the_same_subject_under_the_same_set_is_linked(
    client: TestClient, triage: str
) -> None:
    ref = "https://example.org/in/bob"
    decide(client, {"relevant": True}, ref=ref)

    other_set = decide(client, {"pertinence": True}, ref=ref, criteria_set="pipu")
    other_subject = decide(client, {"relevant": True}, ref=ref + "/2")
    no_ref = decide(client, {"relevant": True})

    assert other_set["previous_id"] is None
    assert other_subject["previous_id"] is None
    assert no_ref["previous_id"] is None


def test_a_batch_links_the_same_subject_in_order(client: TestClient, triage: str) -> None:
    ref = "https://example.org/in/cleo"
    before = decide(client, {"relevant": True}, ref=ref)
    items = [
        {"criteria_set": "triage", "subject": {"ref": ref}, "answers": {"relevant": False}},
        {"criteria_set": "triage", "subject": {"ref": "https://example.org/in/dan"}},
        {"criteria_set": "triage", "subject": {"ref": ref}, "answers": {"relevant": True}},
    ]

    result = client.post("/evaluate/batch", json={"items": items}).json()["items"]

    first, other, last = (item["evaluation"] for item in result)
    assert first["previous_id"] == before["id"]
    assert first["changes"]["criteria"] == [{"key": "relevant", "was": True, "now": False}]
    assert other["previous_id"] is None
    assert last["previous_id"] == first["id"]
    assert last["changes"]["criteria"] == [{"key": "relevant", "was": False, "now": True}]
    assert client.get(f"/evaluations/{last['id']}").json() == last
    history = client.get("/evaluations", params={"subject": ref}).json()["items"]
    assert [item["previous_id"] for item in history] == [first["id"], before["id"], None]


def test_a_replayed_idempotent_request_answers_with_its_link(
    client: TestClient, triage: str
) -> None:
    ref = "https://example.org/in/eve"
    before = decide(client, ref=ref)
    body = {"criteria_set": "triage", "subject": {"ref": ref}, "answers": {"useful": True}}
    headers = {"Idempotency-Key": "eve-2"}

    sent = client.post("/evaluate", json=body, headers=headers)
    replayed = client.post("/evaluate", json=body, headers=headers)

    assert sent.json()["previous_id"] == before["id"]
    assert replayed.content == sent.content
