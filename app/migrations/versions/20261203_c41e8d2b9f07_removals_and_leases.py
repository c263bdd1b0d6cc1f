"""the record of erasures and purges, the scheduled jobs' lease, the outbox by decision

Revision ID: c41e8d2b9f07
Revises: a7659af3f0df
Create Date: 2026-12-03 16:00:00

`removal` records each erasure and retention purge (when, who, how many of each kind),
nothing of the people. `lease` lets one process of all take the daily purge. The outbox's
events get an index on their decision, by which an erasure or a purge finds them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db

revision: str = "c41e8d2b9f07"
down_revision: str | None = "a7659af3f0df"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "removal",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("api_key_id", sa.String(length=12), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "sets",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("largest_chunk", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_removal")),
    )
    op.create_table(
        "lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("until", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_lease")),
    )
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_event_evaluation_id"), ["evaluation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_event_evaluation_id"))
    op.drop_table("lease")
    op.drop_table("removal")
