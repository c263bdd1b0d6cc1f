"""Remove decisions and everything hanging off them, in the caller's transaction: one
implementation for an erasure and for the retention purge (app.forgetting).

Each package names the records of its own tables that hang off a decision; they are
removed in an order that keeps every foreign key satisfied, decisions last.
"""

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection

from app.changes import jobs
from app.criteria import repository as criteria
from app.evaluations import repository as evaluations
from app.forgetting import Doomed, Kind
from app.idempotency import service as idempotency
from app.reviews import repository as reviews
from app.subjects.models import RemovalCounts
from app.webhooks import outbox

KINDS: Sequence[Kind] = (
    *reviews.FORGOTTEN,
    *criteria.FORGOTTEN,
    *outbox.FORGOTTEN,
    *idempotency.FORGOTTEN,
    *jobs.FORGOTTEN,
    *evaluations.FORGOTTEN,
)
assert {kind.name for kind in KINDS} == set(RemovalCounts.model_fields)


def count(connection: Connection, doomed: Doomed) -> RemovalCounts:
    """What removing `doomed` would remove, of each kind."""
    return RemovalCounts(**{kind.name: kind.count(connection, doomed) for kind in KINDS})


def remove(connection: Connection, doomed: Doomed) -> RemovalCounts:
    """Remove `doomed` and what hangs off it; how many of each kind. The caller commits."""
    return RemovalCounts(**{kind.name: kind.remove(connection, doomed) for kind in KINDS})


def count_all(connection: Connection, where: ColumnElement[bool], chunk: int) -> RemovalCounts:
    """What removing every decision `where` selects would remove, `chunk` at a time (each
    statement's list of ids stays bounded)."""
    total = RemovalCounts()
    for doomed in evaluations.each_chunk(connection, where, chunk):
        total = total.plus(count(connection, doomed))
    return total


def remove_all(connection: Connection, where: ColumnElement[bool], chunk: int) -> RemovalCounts:
    """Remove every decision `where` selects, `chunk` at a time, in the caller's transaction."""
    total = RemovalCounts()
    for doomed in evaluations.each_chunk(connection, where, chunk):
        total = total.plus(remove(connection, doomed))
    return total
