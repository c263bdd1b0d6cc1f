"""Database sessions for routes: one per request, closed before the answer is sent."""

import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.runtime import runtime_of

logger = logging.getLogger(__name__)


def _session(engine: Engine) -> Iterator[Session]:
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        try:
            session.close()
        except SQLAlchemyError as exc:
            # The connection died once the work was done (a killed backend, a restart):
            # the answer stands, and the pool has already discarded the connection.
            logger.warning("closing a database session failed: %s", exc.__class__.__name__)


def get_session(request: Request) -> Iterator[Session]:
    yield from _session(runtime_of(request.app).engine)


def get_write_session(request: Request) -> Iterator[Session]:
    """A session whose transaction takes SQLite's write lock first (see begin_immediately)."""
    yield from _session(runtime_of(request.app).write_engine)


# Closed when the route returns, before the response is sent: whatever the closing meets
# becomes part of this request's answer, never an error after the answer has started.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
WriteSessionDep = Annotated[Session, Depends(get_write_session, scope="function")]
