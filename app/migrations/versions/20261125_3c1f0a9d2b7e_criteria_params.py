"""Named params on criteria versions, referred to by criterion rules.

Revision ID: 3c1f0a9d2b7e
Revises: 6b5a26df9eca
Create Date: 2026-11-25 21:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "3c1f0a9d2b7e"
down_revision: str | None = "6b5a26df9eca"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("criteria_version", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "params",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("criteria_version", schema=None) as batch_op:
        batch_op.drop_column("params")
