"""human verdicts, the review queue, each criterion's status, the subject's previous decision

Revision ID: 0917d9202cf4
Revises: 7a3589ca3731
Create Date: 2026-12-02 02:00:00

A decision gains `statuses` (each criterion's status in two characters) and `created_on`
(its day in UTC), which the statistics count from two indexes alone, and `previous_id` (the
subject's decision before it under the same set). Its stored answer gains `previous_id`,
`changes`, `verdict` and `final_decision`, null or the machine's decision for existing
rows, so that every stored answer has the shape POST /evaluate answers today. The indexes on
`decision` and `criteria_set_slug` alone go: the statistics' indexes start with the slug,
and no query reads by decision alone. Verdicts get their tables; every stored `review`
enters the review queue.
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db

revision: str = "0917d9202cf4"
down_revision: str | None = "7a3589ca3731"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_MET = {True: "+", False: "-", None: "?"}
_ADDED = ("previous_id", "changes", "verdict", "final_decision")
_STATS_INDEX = ("criteria_set_slug", "criteria_set_version", "decision", "statuses", "created_at")
_DAYS_INDEX = (
    "criteria_set_slug",
    "created_on",
    "decision",
    "criteria_set_version",
    "statuses",
    "created_at",
)


def _statuses(document: dict[str, Any]) -> str:
    return "".join(_MET[c["met"]] + c["source"][0] for c in document["criteria"])


def upgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("statuses", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("previous_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("created_on", sa.Date(), nullable=True))
    evaluation = sa.table(
        "evaluation",
        sa.column("id", sa.Uuid()),
        sa.column("answer", sa.Text()),
        sa.column("statuses", sa.String()),
    )
    connection = op.get_bind()
    for identifier, answer in connection.execute(
        sa.select(evaluation.c.id, evaluation.c.answer)
    ).all():
        document = json.loads(answer)
        for name in _ADDED:
            document.setdefault(name, document["decision"] if name == "final_decision" else None)
        connection.execute(
            evaluation.update()
            .where(evaluation.c.id == identifier)
            .values(
                answer=json.dumps(document, ensure_ascii=False, separators=(",", ":")),
                statuses=_statuses(document),
            )
        )
    day = (
        "substr(created_at, 1, 10)"
        if connection.dialect.name == "sqlite"
        else "(created_at AT TIME ZONE 'UTC')::date"
    )
    connection.execute(sa.text(f"UPDATE evaluation SET created_on = {day}"))
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.alter_column("statuses", existing_type=sa.String(length=100), nullable=False)
        batch_op.alter_column("created_on", existing_type=sa.Date(), nullable=False)
        batch_op.drop_index("ix_evaluation_decision")
        batch_op.drop_index("ix_evaluation_criteria_set_slug")
        batch_op.create_index("ix_evaluation_stats", list(_STATS_INDEX), unique=False)
        batch_op.create_index("ix_evaluation_days", list(_DAYS_INDEX), unique=False)
    op.create_table(
        "review_queue",
        sa.Column("evaluation_id", sa.Uuid(), nullable=False),
        sa.Column("criteria_set_slug", sa.String(length=64), nullable=False),
        sa.Column("criteria_set_version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("evaluation_id", name=op.f("pk_review_queue")),
    )
    op.create_index("ix_review_queue_created_at", "review_queue", ["created_at", "evaluation_id"])
    op.create_index(
        "ix_review_queue_scope",
        "review_queue",
        ["criteria_set_slug", "criteria_set_version", "created_at", "evaluation_id"],
    )
    connection.execute(
        sa.text(
            "INSERT INTO review_queue (evaluation_id, criteria_set_slug, criteria_set_version, "
            "created_at) SELECT id, criteria_set_slug, criteria_set_version, created_at "
            "FROM evaluation WHERE decision = 'review'"
        )
    )
    op.create_table(
        "verdict",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("evaluation_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("machine_decision", sa.String(length=16), nullable=False),
        sa.Column("agrees", sa.Boolean(), nullable=True),
        sa.Column("criteria", JSON_TYPE, nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("note", sa.String(length=5000), nullable=True),
        sa.Column("api_key_id", sa.String(length=12), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("criteria_set_slug", sa.String(length=64), nullable=False),
        sa.Column("criteria_set_version", sa.Integer(), nullable=False),
        sa.Column("evaluation_created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seconds_to_verdict", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_key.id"], name=op.f("fk_verdict_api_key_id_api_key")
        ),
        sa.ForeignKeyConstraint(
            ["evaluation_id"], ["evaluation.id"], name=op.f("fk_verdict_evaluation_id_evaluation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdict")),
        sa.UniqueConstraint("evaluation_id", "sequence", name=op.f("uq_verdict_evaluation_id")),
    )
    op.create_index(
        "ix_verdict_stats", "verdict", ["criteria_set_slug", "current", "evaluation_created_at"]
    )
    for name, column in (
        (
            "verdict_criterion",
            (
                sa.Column("human_met", sa.Boolean(), nullable=False),
                sa.Column("machine_met", sa.Boolean(), nullable=True),
                sa.Column("machine_source", sa.String(length=8), nullable=False),
            ),
        ),
        ("verdict_leaf", (sa.Column("leaf", sa.String(length=300), nullable=False),)),
    ):
        op.create_table(
            name,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("verdict_id", sa.Uuid(), nullable=False),
            sa.Column("criterion_key", sa.String(length=64), nullable=False),
            *column,
            sa.ForeignKeyConstraint(
                ["verdict_id"], ["verdict.id"], name=op.f(f"fk_{name}_verdict_id_verdict")
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        )
        op.create_index(op.f(f"ix_{name}_verdict_id"), name, ["verdict_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_review_queue_scope", table_name="review_queue")
    op.drop_index("ix_review_queue_created_at", table_name="review_queue")
    op.drop_table("review_queue")
    for name in ("verdict_leaf", "verdict_criterion"):
        op.drop_index(op.f(f"ix_{name}_verdict_id"), table_name=name)
        op.drop_table(name)
    op.drop_index("ix_verdict_stats", table_name="verdict")
    op.drop_table("verdict")
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_days")
        batch_op.drop_index("ix_evaluation_stats")
        batch_op.create_index("ix_evaluation_criteria_set_slug", ["criteria_set_slug"])
        batch_op.create_index("ix_evaluation_decision", ["decision"])
        batch_op.drop_column("created_on")
        batch_op.drop_column("previous_id")
        batch_op.drop_column("statuses")
    evaluation = sa.table("evaluation", sa.column("id", sa.Uuid()), sa.column("answer", sa.Text()))
    connection = op.get_bind()
    for identifier, answer in connection.execute(
        sa.select(evaluation.c.id, evaluation.c.answer)
    ).all():
        document = {k: v for k, v in json.loads(answer).items() if k not in _ADDED}
        connection.execute(
            evaluation.update()
            .where(evaluation.c.id == identifier)
            .values(answer=json.dumps(document, ensure_ascii=False, separators=(",", ":")))
        )
