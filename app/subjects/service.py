"""A subject's access and erasure requests, and the record of every removal.

A subject is found by its ref's keyed hash (app.privacy), so that its minimised decisions,
which keep no ref, are found too. An erasure removes everything hanging off its decisions
(app.subjects.removal) in one transaction that also records it, then makes it physical
(app.subjects.physical). Erasing a subject with nothing stored is done at once: zero counts.
"""

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlmodel import Session, col

from app.criteria import repository as criteria_repository
from app.db import utcnow
from app.evaluations import repository as evaluations
from app.evaluations.log import answers_of, decode_cursor, encode_cursor, encode_position, inputs_of
from app.evaluations.models import EvaluationPublic
from app.evaluations.repository import EvaluationFilter
from app.privacy import SubjectKeys
from app.reviews import repository as reviews
from app.subjects import physical, removal
from app.subjects.models import (
    ErasureResult,
    Removal,
    RemovalCounts,
    RemovalKind,
    RemovalPage,
    RemovalPublic,
    RemovalSource,
    SubjectCase,
    SubjectDecision,
    SubjectDelivery,
    SubjectEvent,
    SubjectRecords,
)
from app.webhooks import outbox

_REMOVALS = Removal.__table__  # type: ignore[attr-defined]


def show_subject(
    session: Session,
    keys: SubjectKeys,
    ref: str,
    *,
    limit: int,
    cursor: str | None,
    chunk: int,
    cursor_in: str = "query",
) -> SubjectRecords:
    """Everything stored about a subject: a page of its decisions, newest first, each with
    its inputs, verdicts, queue entry, webhook events and pending cases; the counts of all.
    A bad cursor is a 422 for `cursor` where `cursor_in` says it came from."""
    key = keys.of(ref)
    after = decode_cursor(cursor, cursor_in) if cursor else None
    found = evaluations.list_page(
        session, EvaluationFilter(subject_key=key), limit=limit + 1, after=after
    )
    page, more = found[:limit], len(found) > limit
    ids = [record.id for record in page]
    connection = session.connection()
    verdicts = reviews.histories(session, ids)
    queued = reviews.queued(session, ids)
    events: dict[uuid.UUID, list[SubjectEvent]] = defaultdict(list)
    for event, deliveries in outbox.events_about(connection, ids):
        events[event.evaluation_id].append(_event(event, deliveries))
    cases: dict[uuid.UUID, list[SubjectCase]] = defaultdict(list)
    for slug, case in criteria_repository.pending_from(session, ids):
        cases[case.evaluation_id].append(
            SubjectCase(slug=slug, name=case.name, case=case.case, created_at=case.created_at)
        )
    decisions = [
        SubjectDecision(
            evaluation=EvaluationPublic.model_validate_json(answer),
            inputs=inputs_of(record),
            verdicts=[verdict.public() for verdict in verdicts[record.id]],
            in_review_queue=record.id in queued,
            events=events[record.id],
            pending_cases=cases[record.id],
        )
        for record, answer in zip(page, answers_of(session, page), strict=True)
    ]
    return SubjectRecords(
        counts=removal.count_all(connection, evaluations.of_subject(key), chunk),
        decisions=decisions,
        next_cursor=encode_cursor(page[-1]) if more else None,
    )


def _event(event: Any, deliveries: list[Any]) -> SubjectEvent:
    return SubjectEvent(
        id=event.id,
        type=event.type,
        created_at=event.created_at,
        data=event.data,
        deliveries=[
            SubjectDelivery(
                id=d.id, subscription_id=d.subscription_id, state=d.state, attempts=d.attempts
            )
            for d in deliveries
        ],
    )


def erase_subject(
    engine: Engine,
    write_engine: Engine,
    keys: SubjectKeys,
    ref: str,
    *,
    source: RemovalSource,
    api_key_id: str | None,
    vacuum: bool,
    chunk: int,
) -> ErasureResult:
    """Remove everything stored about a subject, record that it happened, then checkpoint
    SQLite's WAL (and VACUUM PostgreSQL's tables if asked)."""
    key = keys.of(ref)
    with write_engine.begin() as connection:
        counts = removal.remove_all(connection, evaluations.of_subject(key), chunk)
        done = record_removal(
            connection, RemovalKind.ERASURE, source, api_key_id, counts, sets={}, chunks=[]
        )
    return ErasureResult(
        **done.model_dump(),
        checkpointed=physical.checkpoint(engine),
        vacuumed=vacuum and physical.vacuum(engine, list(removal.KINDS)),
    )


def record_removal(
    connection: Connection,
    kind: RemovalKind,
    source: RemovalSource,
    api_key_id: str | None,
    counts: RemovalCounts,
    *,
    sets: dict[str, RemovalCounts],
    chunks: list[int],
) -> RemovalPublic:
    """Keep, in the caller's transaction, that a removal happened (nothing of the people)."""
    done = RemovalPublic(
        id=uuid.uuid4(),
        kind=kind,
        source=source,
        api_key_id=api_key_id,
        created_at=utcnow(),
        counts=counts,
        sets=sets,
        chunks=len(chunks),
        largest_chunk=max(chunks, default=0),
    )
    connection.execute(insert(_REMOVALS).values(**done.model_dump()))
    return done


def list_removals(
    session: Session, kind: RemovalKind | None, *, limit: int, cursor: str | None
) -> RemovalPage:
    """The erasures and purges, newest first."""
    statement = select(_REMOVALS)
    if kind is not None:
        statement = statement.where(_REMOVALS.c.kind == kind.value)
    if cursor:
        created_at, last_id = decode_cursor(cursor)
        statement = statement.where(
            (col(_REMOVALS.c.created_at) < created_at)
            | ((_REMOVALS.c.created_at == created_at) & (_REMOVALS.c.id < last_id))
        )
    rows = session.connection().execute(
        statement.order_by(_REMOVALS.c.created_at.desc(), _REMOVALS.c.id.desc()).limit(limit + 1)
    )
    items = [RemovalPublic.model_validate(row, from_attributes=True) for row in rows]
    more = len(items) > limit
    items = items[:limit]
    return RemovalPage(
        items=items,
        next_cursor=encode_position(items[-1].created_at, items[-1].id) if more else None,
    )
