"""What removing stored decisions asks of each package: the decisions to forget (`Doomed`)
and a kind of record that hangs off them (`Kind`), counted or removed in the caller's
transaction.

Each package declares the kinds of its own tables (its SQL stays with it);
`app.subjects.removal` runs them in order, for an erasure and for the retention purge
alike. No web framework here.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Table, delete, func, select


@dataclass(frozen=True, slots=True)
class Doomed:
    """Decisions about to be removed: their ids, their subjects' keys, when they were made."""

    ids: Sequence[uuid.UUID]  # in the log's order: (created_at, id)
    made_at: Sequence[datetime]  # each one's created_at
    subject_keys: Sequence[str]  # distinct, those with a ref
    # What selects every decision of the removal (of which these may be one chunk).
    selection: ColumnElement[bool]

    @property
    def oldest(self) -> datetime:
        return self.made_at[0]

    @property
    def newest(self) -> datetime:
        return self.made_at[-1]

    def made_since(self, moment: datetime) -> list[uuid.UUID]:
        """The ids of those made at or after `moment`."""
        return [i for i, made in zip(self.ids, self.made_at, strict=True) if made >= moment]


class Kind:
    """The rows of one table that hang off `Doomed` decisions, by a condition on them."""

    def __init__(
        self, name: str, table: Table, where: Callable[[Doomed], ColumnElement[bool]]
    ) -> None:
        self.name = name
        self.table = table
        self.where = where

    def count(self, connection: Connection, doomed: Doomed) -> int:
        found = connection.execute(
            select(func.count()).select_from(self.table).where(self.where(doomed))
        )
        return int(found.scalar_one())

    def remove(self, connection: Connection, doomed: Doomed) -> int:
        return int(connection.execute(delete(self.table).where(self.where(doomed))).rowcount)


class Counted(Kind):
    """Rows another kind removes, counted on their own before it does (e.g. the undelivered
    deliveries among the deliveries)."""

    def remove(self, connection: Connection, doomed: Doomed) -> int:
        return self.count(connection, doomed)
