"""Liveness and readiness probes."""

import logging

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ServiceUnavailable
from app.migrate import current_revision, head_revision
from app.problems import problem_responses
from app.runtime import runtime_of

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


# HEAD answers as GET does, status and headers, and the server sends no body. Each has its
# own name: operation ids are route names.
@router.head(
    "/healthz",
    name="healthz_head",
    summary="Healthz, headers only",
    description="What GET answers, without the body.",
)
@router.get("/healthz")
def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.head(
    "/readyz",
    name="readyz_head",
    summary="Readyz, headers only",
    description="What GET answers, without the body.",
    responses=problem_responses(503),
)
@router.get("/readyz", responses=problem_responses(503))
def readyz(request: Request) -> Health:
    """The database is reachable and its schema is up to date."""
    try:
        with runtime_of(request.app).engine.connect() as connection:
            revision = current_revision(connection)
    except SQLAlchemyError as exc:
        logger.warning("readiness check failed: %s", exc.__class__.__name__)
        raise ServiceUnavailable("The database is unreachable.") from exc
    expected = head_revision()
    if revision != expected:
        raise ServiceUnavailable(
            f"The database schema is at revision {revision}, not {expected}; run `reflexe migrate`."
        )
    return Health(status="ready")
