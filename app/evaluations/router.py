"""HTTP routes for evaluation and the decision log: /evaluate, /evaluations."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status
from pydantic import AwareDatetime

from app.criteria.dependencies import DefinitionsDep
from app.criteria.models import Slug
from app.db import SessionDep
from app.engine import Decision
from app.errors import problem_responses
from app.evaluations import service
from app.evaluations.examples import EVALUATE_EXAMPLES
from app.evaluations.models import EvaluationPage, EvaluationPublic, EvaluationRequest, SubjectRef
from app.evaluations.repository import EvaluationFilter

router = APIRouter(tags=["evaluations"])


@router.post(
    "/evaluate",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": EvaluationPublic, "description": "Dry run: decided, not stored."},
        201: {
            "description": "Decided and stored.",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **problem_responses(400, 404, 409, 413, 422),
    },
)
def evaluate(
    session: SessionDep,
    definitions: DefinitionsDep,
    response: Response,
    body: Annotated[EvaluationRequest, Body(openapi_examples=EVALUATE_EXAMPLES)],
) -> EvaluationPublic:
    """Judge a profile against a criteria set and store the decision."""
    result = service.evaluate(session, body, definitions)
    if result.id is None:
        response.status_code = status.HTTP_200_OK
    else:
        response.headers["Location"] = f"/evaluations/{result.id}"
    return result


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
