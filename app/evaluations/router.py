"""HTTP routes for evaluation and the decision log: /evaluate, /evaluations."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response, status
from pydantic import AwareDatetime
from pydantic_core import to_json

from app.criteria.models import Slug
from app.db import SessionDep
from app.engine import Decision
from app.errors import problem_responses
from app.evaluations import service
from app.evaluations.examples import EVALUATE_EXAMPLES
from app.evaluations.models import (
    BatchRequest,
    BatchResult,
    EvaluationPage,
    EvaluationPublic,
    EvaluationRequest,
    SubjectRef,
)
from app.evaluations.repository import EvaluationFilter

router = APIRouter(tags=["evaluations"])
JSON = "application/json"


@router.post(
    "/evaluate",
    status_code=status.HTTP_201_CREATED,
    response_model=EvaluationPublic,
    responses={
        200: {"model": EvaluationPublic, "description": "Dry run: decided, not stored."},
        201: {
            "description": "Decided and stored.",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **problem_responses(400, 404, 409, 413, 422, 503),
    },
)
async def evaluate(
    request: Request,
    body: Annotated[EvaluationRequest, Body(openapi_examples=EVALUATE_EXAMPLES)],
) -> Response:
    """Judge a profile against a criteria set and store the decision."""
    # The registry and writer come straight from app.state: on this hot path, resolving
    # them as dependencies costs more than the rest of the routing.
    state = request.app.state
    result = await service.evaluate(body, state.registry, state.writer)
    content = to_json(result)
    if result["id"] is None:
        return Response(content, status_code=status.HTTP_200_OK, media_type=JSON)
    headers = {"Location": f"/evaluations/{result['id']}"}
    return Response(content, status_code=status.HTTP_201_CREATED, headers=headers, media_type=JSON)


@router.post(
    "/evaluate/batch",
    response_model=BatchResult,
    responses=problem_responses(400, 409, 413, 422, 503),
)
async def evaluate_batch(request: Request, body: BatchRequest) -> Response:
    """Judge up to 1,000 profiles; the valid ones are stored in one transaction."""
    state = request.app.state
    result = await service.evaluate_batch(body.items, state.registry, state.writer)
    return Response(to_json(result), media_type=JSON)


@router.get("/evaluations", responses=problem_responses(422))
def list_evaluations(
    session: SessionDep,
    decision: Annotated[Decision | None, Query(description="Only this decision.")] = None,
    criteria_set: Annotated[Slug | None, Query(description="Only this set's slug.")] = None,
    subject: Annotated[SubjectRef | None, Query(description="Only this subject ref.")] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Made at or after (ISO 8601 with zone).")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="Made before (ISO 8601 with zone).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
) -> EvaluationPage:
    """List stored decisions, newest first, with cursor pagination."""
    filters = EvaluationFilter(
        decision=decision.value if decision else None,
        criteria_set=criteria_set,
        subject_ref=subject,
        since=since,
        until=until,
    )
    return service.list_evaluations(session, filters, limit=limit, cursor=cursor)


@router.get("/evaluations/{evaluation_id}", responses=problem_responses(404, 422))
def get_evaluation(session: SessionDep, evaluation_id: uuid.UUID) -> EvaluationPublic:
    """Get a stored decision, exactly as POST /evaluate returned it."""
    return service.get_evaluation(session, evaluation_id)
