"""The same person again: each stored decision linked to its subject's previous one.

`Link` is a step of the decision writer (`evaluations.writer.Step`): in the transaction that
stores a unit's decisions, each decision with a `subject.ref` gets `previous_id`, the last
decision stored for that ref under the same criteria set (earlier in the same batch
included), and `changes`, what differs from it: the attributes, the criteria's statuses,
the decision. Both go into the row and into the answer it keeps, so the caller, the log and
an auditor read the same thing. A subject without a ref is never linked. Refs are matched
by their keyed hash (`subject_key`), so minimised decisions link too; where either of the
two keeps no attributes (`minimal`), no attribute is said to have changed.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Connection, Table, bindparam, func, select

from app.evaluations.models import EvaluationRecord
from app.privacy import Privacy

_EVALUATION: Table = EvaluationRecord.__table__  # type: ignore[attr-defined]
_MET = {"+": True, "-": False, "?": None}


@dataclass(frozen=True, slots=True)
class Previous:
    """What linking needs of a subject's last decision, as stored (its attributes as JSON
    text or as read: parsed only if another decision of the subject follows)."""

    id: Any
    attributes: str | dict[str, Any]
    decision: str
    version_id: int
    statuses: str
    privacy: str


@dataclass(frozen=True, slots=True)
class Link:
    """Link `rows` (of `EvaluationRecord`) to their subjects' previous decisions."""

    rows: Sequence[dict[str, Any]]

    def run(self, connection: Connection) -> None:
        refs = {row["subject_key"] for row in self.rows if row["subject_key"] is not None}
        if not refs:
            return None
        latest = _latest(connection, refs)
        for row in self.rows:
            if row["subject_key"] is None:
                continue
            key = (row["criteria_set_slug"], row["subject_key"])
            previous = latest.get(key)
            if previous is not None:
                answer = json.loads(row["answer"])
                was = _statuses(connection, previous, row["criteria_version_id"], answer)
                answer["previous_id"] = str(previous.id)
                attributes = None if row["privacy"] != Privacy.FULL else row["attributes"]
                answer["changes"] = changes(previous, was, attributes, answer)
                row["previous_id"] = previous.id
                row["answer"] = to_json(answer).decode()
            latest[key] = Previous(
                row["id"],
                row["attributes"],
                row["decision"],
                row["criteria_version_id"],
                row["statuses"],
                row["privacy"],
            )
        return None


def changes(
    previous: Previous,
    was: dict[str, bool | None],
    attributes: str | None,
    answer: dict[str, Any],
) -> dict[str, Any]:
    """What differs between `previous` (whose criteria were `was`, by key) and a decision's
    attributes (their JSON; None if not kept) and answer: the JSON of a `Changes`. A
    criterion only one has is left out; attributes are compared only if both kept them."""
    changed: list[str] = []
    if attributes is not None and previous.privacy == Privacy.FULL:
        before, now = _as_dict(previous.attributes), json.loads(attributes)
        changed = sorted(
            name
            for name in before.keys() | now.keys()
            if name not in before or name not in now or not _same(before[name], now[name])
        )
    flips = [
        {"key": criterion["key"], "was": was[criterion["key"]], "now": criterion["met"]}
        for criterion in answer["criteria"]
        if criterion["key"] in was and was[criterion["key"]] is not criterion["met"]
    ]
    return {
        "attributes": changed,
        "criteria": flips,
        "decision": previous.decision != answer["decision"],
    }


def _same(a: Any, b: Any) -> bool:
    """Whether two JSON values are the same JSON (in Python `1 == True == 1.0`)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict | list):
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    return bool(a == b)


def _statuses(
    connection: Connection, previous: Previous, version_id: int, answer: dict[str, Any]
) -> dict[str, bool | None]:
    """Whether each criterion of `previous` was met, by key. Decided with the same version
    (`version_id`), its statuses are read in this decision's order; with another, from its
    stored answer."""
    if previous.version_id == version_id:
        keys = [criterion["key"] for criterion in answer["criteria"]]
        return {key: _MET[previous.statuses[2 * i]] for i, key in enumerate(keys)}
    stored = connection.execute(_ANSWER, {"id": previous.id}).scalar_one()
    return {criterion["key"]: criterion["met"] for criterion in json.loads(stored)["criteria"]}


def _as_dict(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


def _latest(connection: Connection, refs: set[str]) -> dict[tuple[str, str], Previous]:
    """The last decision of each of `refs`, per criteria set, as stored."""
    ids = [row.id for row in connection.execute(_LATEST_IDS, {"refs": list(refs)})]
    if not ids:
        return {}
    return {
        (row.criteria_set_slug, row.subject_key): Previous(
            row.id,
            row.attributes,
            row.decision,
            row.criteria_version_id,
            row.statuses,
            row.privacy,
        )
        for row in connection.execute(_BY_ID, {"ids": ids})
    }


# Built once. The ranking reads the subject index and ids only; the rows are read after,
# and only those that are some subject's last, without their answers.
_e = _EVALUATION.c
_ranked = (
    select(
        _e.id,
        func.row_number()
        .over(
            partition_by=(_e.criteria_set_slug, _e.subject_key),
            order_by=(_e.created_at.desc(), _e.id.desc()),
        )
        .label("rank"),
    )
    .where(_e.subject_key.in_(bindparam("refs", expanding=True)))
    .subquery()
)
_LATEST_IDS = select(_ranked.c.id).where(_ranked.c.rank == 1)
_BY_ID = select(
    _e.id,
    _e.criteria_set_slug,
    _e.subject_key,
    _e.attributes,
    _e.decision,
    _e.criteria_version_id,
    _e.statuses,
    _e.privacy,
).where(_e.id.in_(bindparam("ids", expanding=True)))
_ANSWER = select(_e.answer).where(_e.id == bindparam("id"))
