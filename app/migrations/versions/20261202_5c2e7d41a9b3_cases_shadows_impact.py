"""test cases, shadow versions, pending cases and impact jobs

Revision ID: 5c2e7d41a9b3
Revises: 0917d9202cf4
Create Date: 2026-12-02 11:00:00

A criteria version gains `cases` (none for existing versions) and `coverage` (what its
cases reach per criterion: nothing, for existing versions). A set gains its shadow version.
A decision gains what the shadow decided, with a partial index that only shadowed
decisions enter. Cases made from stored decisions wait in `criteria_pending_case`; impact
reports worked out in the background are `impact_job` rows.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db

revision: str = "5c2e7d41a9b3"
down_revision: str | None = "0917d9202cf4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_SHADOW_INDEX = (
    "criteria_set_slug",
    "shadow_version",
    "criteria_set_version",
    "decision",
    "shadow_decision",
    "statuses",
    "shadow_statuses",
)
_SHADOWED = sa.text("shadow_version IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("criteria_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cases", JSON_TYPE, nullable=True))
        batch_op.add_column(sa.Column("coverage", JSON_TYPE, nullable=True))
    version = sa.table(
        "criteria_version",
        sa.column("id", sa.Integer()),
        sa.column("criteria", JSON_TYPE),
        sa.column("cases", JSON_TYPE),
        sa.column("coverage", JSON_TYPE),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(version.c.id, version.c.criteria)).all():
        criteria = row.criteria if isinstance(row.criteria, list) else json.loads(row.criteria)
        coverage = [
            {"key": c["key"], "met": False, "not_met": False, "unknown": False} for c in criteria
        ]
        connection.execute(
            version.update().where(version.c.id == row.id).values(cases=[], coverage=coverage)
        )
    with op.batch_alter_table("criteria_version", schema=None) as batch_op:
        batch_op.alter_column("cases", existing_type=JSON_TYPE, nullable=False)
        batch_op.alter_column("coverage", existing_type=JSON_TYPE, nullable=False)

    with op.batch_alter_table("criteria_set", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shadow_version", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("shadow_since", app.db.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shadow_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("shadow_decision", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("shadow_statuses", sa.String(length=50), nullable=True))
    op.create_index(
        "ix_evaluation_shadow",
        "evaluation",
        list(_SHADOW_INDEX),
        unique=False,
        sqlite_where=_SHADOWED,
        postgresql_where=_SHADOWED,
    )

    op.create_table(
        "criteria_pending_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("criteria_set_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("case", JSON_TYPE, nullable=False),
        sa.Column("evaluation_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.String(length=12), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["criteria_set_id"],
            ["criteria_set.id"],
            name=op.f("fk_criteria_pending_case_criteria_set_id_criteria_set"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criteria_pending_case")),
        sa.UniqueConstraint(
            "criteria_set_id", "name", name=op.f("uq_criteria_pending_case_criteria_set_id")
        ),
    )
    op.create_index(
        op.f("ix_criteria_pending_case_criteria_set_id"),
        "criteria_pending_case",
        ["criteria_set_id"],
        unique=False,
    )

    op.create_table(
        "impact_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("criteria_set_slug", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request", JSON_TYPE, nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("compared", sa.Integer(), nullable=False),
        sa.Column("report", JSON_TYPE, nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("api_key_id", sa.String(length=12), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impact_job")),
    )
    op.create_index(
        op.f("ix_impact_job_criteria_set_slug"), "impact_job", ["criteria_set_slug"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_impact_job_criteria_set_slug"), table_name="impact_job")
    op.drop_table("impact_job")
    op.drop_index(
        op.f("ix_criteria_pending_case_criteria_set_id"), table_name="criteria_pending_case"
    )
    op.drop_table("criteria_pending_case")
    op.drop_index("ix_evaluation_shadow", table_name="evaluation")
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_column("shadow_statuses")
        batch_op.drop_column("shadow_decision")
        batch_op.drop_column("shadow_version")
    with op.batch_alter_table("criteria_set", schema=None) as batch_op:
        batch_op.drop_column("shadow_since")
        batch_op.drop_column("shadow_version")
    with op.batch_alter_table("criteria_version", schema=None) as batch_op:
        batch_op.drop_column("coverage")
        batch_op.drop_column("cases")
