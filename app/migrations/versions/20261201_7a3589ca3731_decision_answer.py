"""a decision keeps the answer it was given, byte for byte

Revision ID: 7a3589ca3731
Revises: 536d0a7ca417
Create Date: 2026-12-01 20:30:00

The explanation of a decision (its criteria, summary, what would change it) was stored in
columns and assembled again on every read. It is now stored once, as the JSON document the
caller received (`answer`), which reads return as they are. The columns the log filters on
stay, and so do its inputs. Existing rows get the document their reads returned.
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db

revision: str = "7a3589ca3731"
down_revision: str | None = "536d0a7ca417"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
EXPLANATION = ("results", "met", "score", "needed", "summary", "to_change")


def _table(*names: str) -> sa.TableClause:
    """The evaluation table as this revision reads and writes it, typed as stored."""
    columns: dict[str, Any] = {
        "id": sa.Uuid(),
        "decision": sa.String(),
        "criteria_set_slug": sa.String(),
        "criteria_set_version": sa.Integer(),
        "subject_ref": sa.String(),
        "subject_name": sa.String(),
        "results": JSON_TYPE,
        "met": sa.Integer(),
        "score": sa.Float(),
        "needed": sa.Float(),
        "summary": sa.String(),
        "to_change": JSON_TYPE,
        "created_at": app.db.UTCDateTime(timezone=True),
        "api_key_id": sa.String(),
        "answer": sa.Text(),
    }
    return sa.table("evaluation", *(sa.column(name, columns[name]) for name in names))


def _evidence(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "attribute": item["attribute"],
        "operator": item["operator"],
        "expected": item.get("expected"),
        "param": item.get("param"),
        "actual": item.get("actual"),
        "actual_shortened": item.get("actual_shortened", False),
        "result": item.get("result"),
        "reason": item["reason"],
    }


def _answer(row: Any) -> str:
    """The document a read of `row` returned before this revision, field for field."""
    subject = (
        None
        if row.subject_ref is None and row.subject_name is None
        else {"ref": row.subject_ref, "name": row.subject_name}
    )
    criteria = [
        {
            "key": result["key"],
            "label": result["label"],
            "met": result["met"],
            "source": result["source"],
            "reasons": result["reasons"],
            "evidence": [_evidence(item) for item in result.get("evidence", [])],
        }
        for result in row.results
    ]
    document = {
        "id": str(row.id),
        "decision": row.decision,
        "criteria_set": {"slug": row.criteria_set_slug, "version": row.criteria_set_version},
        "subject": subject,
        "met": row.met,
        "score": float(row.score),
        "needed": float(row.needed),
        "criteria": criteria,
        "summary": row.summary,
        "to_change": row.to_change,
        "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
        "api_key_id": row.api_key_id,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def upgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer", sa.Text(), nullable=True))
    connection = op.get_bind()
    old = _table("id", *(name for name in _READ if name != "id"))
    target = _table("id", "answer")
    for row in connection.execute(sa.select(old)).all():
        connection.execute(target.update().where(target.c.id == row.id).values(answer=_answer(row)))
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.alter_column("answer", existing_type=sa.Text(), nullable=False)
        for name in EXPLANATION:
            batch_op.drop_column(name)


_READ = (
    "id",
    "decision",
    "criteria_set_slug",
    "criteria_set_version",
    "subject_ref",
    "subject_name",
    "results",
    "met",
    "score",
    "needed",
    "summary",
    "to_change",
    "created_at",
    "api_key_id",
)


def downgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("results", JSON_TYPE, nullable=True))
        batch_op.add_column(sa.Column("met", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("needed", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("summary", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("to_change", JSON_TYPE, nullable=True))
    connection = op.get_bind()
    table = _table("id", "answer", *EXPLANATION)
    for identifier, answer in connection.execute(sa.select(table.c.id, table.c.answer)).all():
        document = json.loads(answer)
        connection.execute(
            table.update()
            .where(table.c.id == identifier)
            .values(
                results=document["criteria"],
                met=document["met"],
                score=document["score"],
                needed=document["needed"],
                summary=document["summary"],
                to_change=document["to_change"],
            )
        )
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        for name in EXPLANATION:
            batch_op.alter_column(name, existing_type=table.c[name].type, nullable=False)
        batch_op.drop_column("answer")
