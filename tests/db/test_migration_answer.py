"""Revision 7a3589ca3731: a decision stored before it reads back as it did, and back again."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text

from app.migrate import alembic_config
from tests.db.servers import fresh_postgres

BEFORE = "536d0a7ca417"
REVISION = "7a3589ca3731"
VERDICTS = "0917d9202cf4"
DECISION_ID = uuid.UUID("019ac1c2-5f7e-7d43-9a57-2d1c8f0f6a11")
RESULTS = [
    {
        "key": "pertinence",
        "label": "Pertinence",
        "met": True,
        "source": "rules",
        "reasons": ['industry is "Software", one of target_industries'],
        "evidence": [
            {
                "attribute": "industry",
                "operator": "in",
                "expected": None,
                "param": "target_industries",
                "actual": "Software",
                "result": True,
                "reason": 'industry is "Software", one of target_industries',
            }
        ],
    }
]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (
        f"sqlite:///{tmp_path}/answer.db"
        if request.param == "sqlite"
        else fresh_postgres("reflexe_migration_answer")
    )
    engine = create_engine(url)
    yield engine
    engine.dispose()


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def store_an_old_decision(engine: Engine) -> None:
    """A decision as revision 536d0a7ca417 stored it."""
    migrate(engine, BEFORE)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO criteria_set (id, slug, current_version, is_default, created_at) "
                "VALUES (1, 'pipu', 1, true, '2026-11-25 20:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO criteria_version (id, criteria_set_id, version, name, description, "
                "locale, criteria, policy, params, created_at) VALUES (1, 1, 1, 'PIPU', '', 'fr', "
                "'[]', '{}', '{}', '2026-11-25 20:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO evaluation (id, criteria_version_id, criteria_set_slug, "
                "criteria_set_version, subject_ref, subject_name, answers, attributes, results, "
                "decision, met, score, needed, summary, to_change, created_at, api_key_id) "
                "VALUES (:id, 1, 'pipu', 1, 'https://example.org/in/a', 'A', '{}', "
                "'{\"industry\": \"Software\"}', :results, 'decline', 1, 1.0, 2.0, "
                "'Decline: 1 of 4 criteria met (Pertinence); 2 needed.', :to_change, "
                "'2026-11-25 20:44:36.379968', NULL)"
            ),
            {
                "id": DECISION_ID.hex if engine.dialect.name == "sqlite" else DECISION_ID,
                "results": json.dumps(RESULTS),
                "to_change": json.dumps(["Interaction would make it accept"]),
            },
        )


def test_an_old_decision_reads_back_as_it_did(engine: Engine) -> None:
    store_an_old_decision(engine)
    migrate(engine, REVISION)

    with engine.connect() as connection:
        answer = connection.execute(text("SELECT answer FROM evaluation")).scalar_one()
    document = json.loads(answer)
    assert list(document) == [
        "id",
        "decision",
        "criteria_set",
        "subject",
        "met",
        "score",
        "needed",
        "criteria",
        "summary",
        "to_change",
        "created_at",
        "api_key_id",
    ]
    assert document["id"] == str(DECISION_ID)
    assert document["subject"] == {"ref": "https://example.org/in/a", "name": "A"}
    assert document["criteria_set"] == {"slug": "pipu", "version": 1}
    assert (document["met"], document["score"], document["needed"]) == (1, 1.0, 2.0)
    assert document["criteria"][0]["evidence"][0]["actual_shortened"] is False
    assert document["criteria"][0]["reasons"] == RESULTS[0]["reasons"]
    assert document["created_at"] == "2026-11-25T20:44:36.379968Z"
    assert document["to_change"] == ["Interaction would make it accept"]

    migrate(engine, BEFORE, down=True)

    with engine.connect() as connection:
        row = connection.execute(text("SELECT met, summary, needed FROM evaluation")).one()
    assert tuple(row) == (1, "Decline: 1 of 4 criteria met (Pertinence); 2 needed.", 2.0)


def test_verdicts_revision_completes_old_answers_and_back(engine: Engine) -> None:
    store_an_old_decision(engine)
    migrate(engine, REVISION)

    migrate(engine, VERDICTS)

    with engine.connect() as connection:
        answer, statuses, previous, day = connection.execute(
            text("SELECT answer, statuses, previous_id, created_on FROM evaluation")
        ).one()
        assert connection.execute(text("SELECT count(*) FROM verdict")).scalar_one() == 0
        assert connection.execute(text("SELECT count(*) FROM review_queue")).scalar_one() == 0
    assert str(day) == "2026-11-25"
    document = json.loads(answer)
    assert list(document)[-4:] == ["previous_id", "changes", "verdict", "final_decision"]
    assert (document["previous_id"], document["changes"], document["verdict"]) == (None,) * 3
    assert document["final_decision"] == "decline"
    assert statuses == "+r"
    assert previous is None

    migrate(engine, REVISION, down=True)

    with engine.connect() as connection:
        answer = connection.execute(text("SELECT answer FROM evaluation")).scalar_one()
    assert "final_decision" not in json.loads(answer)
    assert json.loads(answer)["decision"] == "decline"
