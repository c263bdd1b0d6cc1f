"""criteria sets and the decision log

Revision ID: 6b5a26df9eca
Revises:
Create Date: 2026-11-25 20:43:44.016492
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db

revision: str = "6b5a26df9eca"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "criteria_set",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("archived_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criteria_set")),
        sa.UniqueConstraint("slug", name=op.f("uq_criteria_set_slug")),
    )
    with op.batch_alter_table("criteria_set", schema=None) as batch_op:
        batch_op.create_index(
            "uq_criteria_set_is_default",
            ["is_default"],
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )

    op.create_table(
        "criteria_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("criteria_set_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("locale", sa.String(), nullable=False),
        sa.Column(
            "criteria",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "policy",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["criteria_set_id"],
            ["criteria_set.id"],
            name=op.f("fk_criteria_version_criteria_set_id_criteria_set"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criteria_version")),
        sa.UniqueConstraint(
            "criteria_set_id", "version", name=op.f("uq_criteria_version_criteria_set_id")
        ),
    )
    with op.batch_alter_table("criteria_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_criteria_version_criteria_set_id"), ["criteria_set_id"], unique=False
        )

    op.create_table(
        "evaluation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("criteria_version_id", sa.Integer(), nullable=False),
        sa.Column("criteria_set_slug", sa.String(length=64), nullable=False),
        sa.Column("criteria_set_version", sa.Integer(), nullable=False),
        sa.Column("subject_ref", sa.String(length=2048), nullable=True),
        sa.Column("subject_name", sa.String(length=200), nullable=True),
        sa.Column(
            "answers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "results",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("met", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("needed", sa.Float(), nullable=False),
        sa.Column("summary", sa.String(), nullable=False),
        sa.Column(
            "to_change",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["criteria_version_id"],
            ["criteria_version.id"],
            name=op.f("fk_evaluation_criteria_version_id_criteria_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation")),
    )
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.create_index("ix_evaluation_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_evaluation_criteria_set_slug"), ["criteria_set_slug"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_evaluation_criteria_version_id"), ["criteria_version_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_evaluation_decision"), ["decision"], unique=False)
        batch_op.create_index(
            "ix_evaluation_subject_ref_created_at", ["subject_ref", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_subject_ref_created_at")
        batch_op.drop_index(batch_op.f("ix_evaluation_decision"))
        batch_op.drop_index(batch_op.f("ix_evaluation_criteria_version_id"))
        batch_op.drop_index(batch_op.f("ix_evaluation_criteria_set_slug"))
        batch_op.drop_index("ix_evaluation_created_at_id")

    op.drop_table("evaluation")
    with op.batch_alter_table("criteria_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_criteria_version_criteria_set_id"))

    op.drop_table("criteria_version")
    with op.batch_alter_table("criteria_set", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_criteria_set_is_default",
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )

    op.drop_table("criteria_set")
