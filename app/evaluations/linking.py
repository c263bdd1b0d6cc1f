"""The same person again: each stored decision linked to its subject's previous one.

`Link` is a step of the decision writer (`evaluations.writer.Step`): in the transaction that
stores a unit's decisions, each decision with a `subject.ref` gets `previous_id`, the last
decision stored for that ref under the same criteria set (earlier in the same batch
included), and `changes`, what differs from it: the attributes, the criteria's statuses,
the decision. Both go into the row and into the answer it keeps, so the caller, the log and
an auditor read the same thing. A subject without a ref is never linked.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Connection, Table, bindparam, func, select

from app.evaluations.models import EvaluationRecord

_EVALUATION: Table = EvaluationRecord.__table__  # type: ignore[attr-defined]
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Previous:
    """What linking needs of a subject's last decision: its attributes and answer, as JSON
    text or as read (parsed only if another decision of the subject follows)."""

    id: Any
    attributes: str | dict[str, Any]
    answer: str | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Link:
    """Link `rows` (of `EvaluationRecord`) to their subjects' previous decisions."""

    rows: Sequence[dict[str, Any]]

    def run(self, connection: Connection) -> None:
        refs = {row["subject_ref"] for row in self.rows if row["subject_ref"] is not None}
        if not refs:
            return None
        latest = _latest(connection, refs)
        for row in self.rows:
            if row["subject_ref"] is None:
                continue
            key = (row["criteria_set_slug"], row["subject_ref"])
            previous = latest.get(key)
            if previous is not None:
                answer = json.loads(row["answer"])
                answer["previous_id"] = str(previous.id)
                answer["changes"] = changes(previous, json.loads(row["attributes"]), answer)
                row["previous_id"] = previous.id
                row["answer"] = to_json(answer).decode()
            latest[key] = Previous(row["id"], row["attributes"], row["answer"])
        return None


def changes(
    previous: Previous, attributes: dict[str, Any], answer: dict[str, Any]
) -> dict[str, Any]:
    """What differs between `previous` and a decision's attributes and answer: the JSON of
    a `Changes`. Criteria are compared by key; one that only one of them has is left out."""
    before, previous_answer = _as_dict(previous.attributes), _as_dict(previous.answer)
    changed = sorted(
        name
        for name in before.keys() | attributes.keys()
        if _canonical(before.get(name, _MISSING)) != _canonical(attributes.get(name, _MISSING))
    )
    was = {criterion["key"]: criterion["met"] for criterion in previous_answer["criteria"]}
    flips = [
        {"key": criterion["key"], "was": was[criterion["key"]], "now": criterion["met"]}
        for criterion in answer["criteria"]
        if criterion["key"] in was and was[criterion["key"]] is not criterion["met"]
    ]
    return {
        "attributes": changed,
        "criteria": flips,
        "decision": previous_answer["decision"] != answer["decision"],
    }


def _canonical(value: Any) -> str | None:
    """A value as comparable JSON text (in Python `1 == True == 1.0`; in JSON they differ)."""
    return None if value is _MISSING else json.dumps(value, sort_keys=True)


def _latest(connection: Connection, refs: set[str]) -> dict[tuple[str, str], Previous]:
    """The last decision of each of `refs`, per criteria set, as stored."""
    ids = [row.id for row in connection.execute(_LATEST_IDS, {"refs": list(refs)})]
    if not ids:
        return {}
    return {
        (row.criteria_set_slug, row.subject_ref): Previous(row.id, row.attributes, row.answer)
        for row in connection.execute(_BY_ID, {"ids": ids})
    }


def _as_dict(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


# Built once. The ranking reads the subject index and ids only; the rows are read after,
# and only those that are some subject's last.
_e = _EVALUATION.c
_ranked = (
    select(
        _e.id,
        func.row_number()
        .over(
            partition_by=(_e.criteria_set_slug, _e.subject_ref),
            order_by=(_e.created_at.desc(), _e.id.desc()),
        )
        .label("rank"),
    )
    .where(_e.subject_ref.in_(bindparam("refs", expanding=True)))
    .subquery()
)
_LATEST_IDS = select(_ranked.c.id).where(_ranked.c.rank == 1)
_BY_ID = select(_e.id, _e.criteria_set_slug, _e.subject_ref, _e.attributes, _e.answer).where(
    _e.id.in_(bindparam("ids", expanding=True))
)
