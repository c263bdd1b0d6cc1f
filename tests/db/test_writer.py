"""The decision writer as a unit: what becomes of each unit of a group, on both backends."""

import asyncio
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select, text

from app.criteria.registry import CriteriaRegistry, ResolvedCriteria
from app.db import RowInsert, utcnow
from app.errors import InvalidInput, ServiceUnavailable
from app.evaluations.linking import Link
from app.evaluations.models import EvaluationRecord
from app.evaluations.writer import (
    Answered,
    DecisionWriter,
    Refused,
    Stale,
    Stored,
    WriteOutcome,
)
from app.idempotency.service import Idempotent, Replay
from app.privacy import SubjectKeys


@pytest.fixture
def pipu(engine: Engine) -> ResolvedCriteria:
    return CriteriaRegistry(engine).load(None, None)


def row(resolved: ResolvedCriteria, **overrides: Any) -> dict[str, Any]:
    """A row of every column of the evaluation table."""
    ref = overrides.get("subject_ref", "https://example.org/in/a")
    return {
        "id": uuid.uuid4(),
        "criteria_version_id": resolved.version_id,
        "criteria_set_slug": resolved.slug,
        "criteria_set_version": resolved.version,
        "subject_ref": "https://example.org/in/a",
        "subject_name": "Ada",
        "subject_key": None if ref is None else SubjectKeys(None).of(ref),
        "privacy": "full",
        "decision": "accept",
        "created_at": utcnow(),
        "api_key_id": None,
        "answers": '{"pertinence": true}',
        "attributes": '{"headline": "Générale"}',
        "answer": '{"decision": "accept"}',
        "statuses": "+a",
        "previous_id": None,
        "created_on": utcnow().date(),
        "shadow_version": None,
        "shadow_decision": None,
        "shadow_statuses": None,
        **overrides,
    }


def kept(status: int, response: str, location: str | None) -> Any:
    """What a Remember step is given: the answer to keep, when it runs."""
    return lambda: Replay(status, response, location)


def write(engine: Engine, *units: tuple[list[Any], list[dict[str, Any]], list[Any]]) -> Any:
    """Hand `units` to a writer at once, so that they share one transaction."""

    async def run() -> list[WriteOutcome | BaseException]:
        writer = DecisionWriter(engine, CriteriaRegistry(engine))
        writer.start()
        try:
            waits = [writer.store(checks, rows, steps) for checks, rows, steps in units]
            return await asyncio.gather(*waits, return_exceptions=True)
        finally:
            await writer.stop()

    return asyncio.run(run())


def stored_ids(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        found = connection.execute(text("SELECT id FROM evaluation")).scalars()
        return {str(uuid.UUID(str(value))) for value in found}


class Answer:
    """A step that answers instead of storing."""

    def run(self, connection: Connection) -> str:
        return "instead"


class Refuse:
    """A step that refuses its unit."""

    def run(self, connection: Connection) -> None:
        raise InvalidInput([("x", "no")])


def test_the_insert_is_every_column_of_the_table(engine: Engine) -> None:
    insert = RowInsert(EvaluationRecord.__table__, engine.dialect)  # type: ignore[attr-defined]

    assert insert.columns == tuple(EvaluationRecord.model_fields)
    assert insert.sql.startswith(f"INSERT INTO evaluation ({', '.join(insert.columns)})")


def test_a_unit_is_stored_with_every_value_as_the_orm_reads_it(
    engine: Engine, pipu: ResolvedCriteria
) -> None:
    decision = row(pipu)

    [outcome] = write(engine, ([pipu], [decision], []))

    assert outcome == Stored()
    from sqlmodel import Session

    with Session(engine) as session:
        record = session.get(EvaluationRecord, decision["id"])
    assert record is not None
    assert record.created_at == decision["created_at"]
    assert record.attributes == {"headline": "Générale"}
    assert record.answer == decision["answer"]


def test_each_unit_of_a_group_has_its_own_outcome(engine: Engine, pipu: ResolvedCriteria) -> None:
    kept, answered, refused, plain = (row(pipu) for _ in range(4))

    outcomes = write(
        engine,
        ([pipu], [kept], []),
        ([pipu], [answered], [Answer()]),
        ([pipu], [refused], [Refuse()]),
        ([pipu], [plain], []),
    )

    assert outcomes[0] == outcomes[3] == Stored()
    assert outcomes[1] == Answered("instead")
    assert isinstance(outcomes[2], Refused)
    assert outcomes[2].error.status_code == 422
    assert stored_ids(engine) == {str(kept["id"]), str(plain["id"])}


def test_a_unit_decided_with_a_replaced_version_is_stale(
    engine: Engine, pipu: ResolvedCriteria
) -> None:
    with engine.begin() as connection:  # another process publishes version 2
        connection.execute(text("UPDATE criteria_set SET current_version = 2"))

    [outcome] = write(engine, ([pipu], [row(pipu)], []))

    assert outcome == Stale()
    assert stored_ids(engine) == set()


def test_a_failed_commit_fails_every_unit_of_its_group(
    engine: Engine, pipu: ResolvedCriteria
) -> None:
    broken = row(pipu, criteria_version_id=999_999)  # no such version: the foreign key fails

    outcomes = write(engine, ([pipu], [row(pipu)], []), ([pipu], [broken], []))

    assert all(isinstance(outcome, ServiceUnavailable) for outcome in outcomes)
    assert stored_ids(engine) == set()


def test_one_idempotency_key_twice_in_a_group_stores_once(
    engine: Engine, pipu: ResolvedCriteria
) -> None:
    key = Idempotent.of("caller", "invite-1", b'{"answers": {}}')
    first, second = row(pipu), row(pipu)

    outcomes = write(
        engine,
        ([pipu], [first], [key.remember(kept(201, '{"id": "first"}', "/evaluations/first"))]),
        ([pipu], [second], [key.remember(kept(201, '{"id": "second"}', "/evaluations/second"))]),
    )

    assert outcomes[0] == Stored()
    assert outcomes[1] == Answered(Replay(201, '{"id": "first"}', "/evaluations/first"))
    assert stored_ids(engine) == {str(first["id"])}


def test_a_key_with_another_body_refuses_its_unit(engine: Engine, pipu: ResolvedCriteria) -> None:
    first = Idempotent.of("caller", "k", b"one")
    other = Idempotent.of("caller", "k", b"two")
    write(engine, ([pipu], [row(pipu)], [first.remember(kept(201, "{}", None))]))

    [outcome] = write(engine, ([pipu], [row(pipu)], [other.remember(kept(201, "{}", None))]))

    assert isinstance(outcome, Refused)
    assert outcome.error.errors()[0].field == "Idempotency-Key"  # type: ignore[index]
    assert len(stored_ids(engine)) == 1


def test_units_after_stop_are_refused(engine: Engine, pipu: ResolvedCriteria) -> None:
    async def run() -> None:
        writer = DecisionWriter(engine, CriteriaRegistry(engine))
        writer.start()
        await writer.stop()
        with pytest.raises(ServiceUnavailable):
            await writer.store([pipu], [row(pipu)])

    asyncio.run(run())
    assert stored_ids(engine) == set()


def test_keys_older_than_a_day_are_purged(engine: Engine, pipu: ResolvedCriteria) -> None:
    from app.idempotency.service import purge

    for name in ("old", "new"):
        key = Idempotent.of("caller", name, b"{}")
        write(engine, ([pipu], [row(pipu)], [key.remember(kept(201, "{}", None))]))
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE idempotency_key SET created_at = :when WHERE key = 'old'"),
            {"when": "2000-01-01 00:00:00.000000"},
        )

    purged = purge(engine)

    with engine.connect() as connection:
        left = connection.execute(text("SELECT key FROM idempotency_key")).scalars().all()
    assert (purged, left) == (1, ["new"])


def linked(resolved: ResolvedCriteria, ref: str, met: bool, headline: str) -> dict[str, Any]:
    answer = {"id": None, "decision": "accept" if met else "decline", "previous_id": None,
              "changes": None, "criteria": [{"key": "pertinence", "met": met}]}  # fmt: skip
    return row(
        resolved,
        subject_ref=ref,
        subject_key=ref.encode().hex()[-64:],
        attributes=json.dumps({"headline": headline}),
        answer=json.dumps(answer),
    )


def test_units_of_one_group_link_to_the_rows_stored_before_them(
    engine: Engine, pipu: ResolvedCriteria
) -> None:
    """The Link step of a unit sees the rows of the units before it in the transaction."""
    ref = "https://example.org/in/same"
    first, second = linked(pipu, ref, True, "CEO"), linked(pipu, ref, False, "CTO")
    refused = linked(pipu, ref, True, "CFO")  # its unit is refused: no one links to it
    third = linked(pipu, ref, True, "CTO")

    outcomes = write(
        engine,
        ([pipu], [first], [Link([first])]),
        ([pipu], [second], [Link([second])]),
        ([pipu], [refused], [Link([refused]), Refuse()]),
        ([pipu], [third], [Link([third])]),
    )

    assert [type(o).__name__ for o in outcomes] == ["Stored", "Stored", "Refused", "Stored"]
    assert first["previous_id"] is None
    assert second["previous_id"] == first["id"]
    assert json.loads(second["answer"])["changes"] == {
        "attributes": ["headline"],
        "criteria": [{"key": "pertinence", "was": True, "now": False}],
        "decision": True,
    }
    assert third["previous_id"] == second["id"]
    assert json.loads(third["answer"])["changes"]["attributes"] == []
    table = EvaluationRecord.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        found = connection.execute(
            select(table.c.previous_id).where(table.c.id == third["id"])
        ).scalar_one()
    assert found == second["id"]
