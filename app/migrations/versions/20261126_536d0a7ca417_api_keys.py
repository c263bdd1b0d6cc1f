"""api keys

Revision ID: 536d0a7ca417
Revises: 3f4567a1c6a2
Create Date: 2026-11-26 01:24:25.078497
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "536d0a7ca417"
down_revision: str | None = "3f4567a1c6a2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
    )
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_key_id", sa.String(length=12), nullable=True))
        batch_op.create_index(
            "ix_evaluation_api_key_id_created_at", ["api_key_id", "created_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_evaluation_api_key_id_api_key"), "api_key", ["api_key_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_evaluation_api_key_id_api_key"), type_="foreignkey")
        batch_op.drop_index("ix_evaluation_api_key_id_created_at")
        batch_op.drop_column("api_key_id")

    op.drop_table("api_key")
