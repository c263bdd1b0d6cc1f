"""privacy per criteria set, retention, and each decision's subject key

Revision ID: a7659af3f0df
Revises: 5286f133f63e
Create Date: 2026-12-03 14:50:00

A set (and each of its versions) says what the log keeps of its decisions (`privacy`) and
for how long (`retention_days`). Every decision with a ref gets its keyed hash
(`subject_key`, under REFLEXE_SECRET_KEY), by which a person's decisions are found, linked
and erased, and which replaces the ref's index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.privacy import SubjectKeys
from app.settings import get_settings

revision: str = "a7659af3f0df"
down_revision: str | None = "5286f133f63e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 1000


def upgrade() -> None:
    for table in ("criteria_set", "criteria_version"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("privacy", sa.String(length=16), nullable=False, server_default="full")
            )
            batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_key", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("privacy", sa.String(length=16), nullable=False, server_default="full")
        )
    _key_subjects()
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_subject_ref_created_at")
        batch_op.create_index(
            "ix_evaluation_subject_key_created_at", ["subject_key", "created_at"], unique=False
        )


def _key_subjects() -> None:
    """Each stored ref's keyed hash, a chunk of refs at a time."""
    keys = SubjectKeys.from_settings(get_settings())
    evaluation = sa.table(
        "evaluation",
        sa.column("subject_ref", sa.String()),
        sa.column("subject_key", sa.String()),
    )
    connection = op.get_bind()
    refs = [
        ref
        for (ref,) in connection.execute(
            sa.select(evaluation.c.subject_ref)
            .where(evaluation.c.subject_ref.is_not(None))
            .distinct()
        )
    ]
    update = (
        evaluation.update()
        .where(evaluation.c.subject_ref == sa.bindparam("ref"))
        .values(subject_key=sa.bindparam("key"))
    )
    for start in range(0, len(refs), _CHUNK):
        chunk = refs[start : start + _CHUNK]
        connection.execute(update, [{"ref": ref, "key": keys.of(ref)} for ref in chunk])


def downgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_subject_key_created_at")
        batch_op.create_index(
            "ix_evaluation_subject_ref_created_at", ["subject_ref", "created_at"], unique=False
        )
        batch_op.drop_column("privacy")
        batch_op.drop_column("subject_key")
    for table in ("criteria_version", "criteria_set"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("retention_days")
            batch_op.drop_column("privacy")
