"""HTTP routes for human verdicts, the review queue and the statistics."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, Response, status

from app.auth.dependencies import ReaderKey, ReviewerKey, ReviewReaderKey
from app.auth.guard import Principal
from app.auth.models import Role
from app.criteria.models import Slug
from app.etags import if_match_docs
from app.evaluations.models import IsoDateTime, VerdictPublic, check_window
from app.problems import problem_responses
from app.reviews import service, stats
from app.reviews.models import ReviewPage, Stats, VerdictCreate, VerdictHistory
from app.reviews.queue import Scope, list_queue
from app.routing import GatedRoute, IfMatch
from app.sessions import SessionDep, WriteSessionDep

router = APIRouter(
    tags=["reviews"], responses=problem_responses(401, 403, 429, 503), route_class=GatedRoute
)
EvaluationId = Annotated[uuid.UUID, Path(description="Id of the stored decision.")]
Since = Annotated[IsoDateTime | None, Query(description="Made at or after (ISO 8601 with zone).")]
Until = Annotated[IsoDateTime | None, Query(description="Made before (ISO 8601 with zone).")]
ETAG_HEADER = {
    "description": "Identifies the current verdict; send it back in If-Match to replace it.",
    "schema": {"type": "string"},
}
_VERDICT = "$response.body#/evaluation_id"
VERDICT_LINKS = {
    "ReplaceVerdict": {
        "operationId": "put_verdict",
        "parameters": {"path.evaluation_id": _VERDICT, "header.If-Match": "$response.header.ETag"},
        "description": "Replace this verdict, from the one this response returned.",
    },
    "ListVerdicts": {
        "operationId": "list_verdicts",
        "parameters": {"path.evaluation_id": _VERDICT},
        "description": "Every verdict on the decision.",
    },
}


def _owner(caller: Principal) -> str | None:
    """An evaluator key reads only the decisions it asked for."""
    return caller.key_id if caller.role == Role.evaluator else None


@router.put(
    "/evaluations/{evaluation_id}/verdict",
    response_model=VerdictPublic,
    responses={
        200: {
            "description": "The verdict replaced the current one.",
            "headers": {"ETag": ETAG_HEADER},
            "links": VERDICT_LINKS,
        },
        201: {
            "model": VerdictPublic,
            "description": "The decision's first verdict.",
            "headers": {"ETag": ETAG_HEADER, "Location": {"schema": {"type": "string"}}},
            "links": VERDICT_LINKS,
        },
        **problem_responses(400, 404, 412, 413, 422, 428),
    },
    openapi_extra=if_match_docs(
        "To replace a verdict: its ETag (from GET or the last PUT), or `*`. Not needed for "
        "a decision's first verdict; once it has one, missing: 428, not the current: 412.",
        required=False,
    ),
)
def put_verdict(
    caller: ReviewerKey,
    session: WriteSessionDep,
    response: Response,
    evaluation_id: EvaluationId,
    body: Annotated[VerdictCreate, Body()],
    if_match: IfMatch = None,
) -> VerdictPublic:
    """Record a human verdict on a stored decision: a review resolved, or an override.

    The machine's decision never changes; the verdict sits next to it, and every earlier
    verdict stays in the history.
    """
    verdict, first = service.record(session, evaluation_id, body, if_match, caller.key_id)
    if first:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/evaluations/{evaluation_id}/verdict"
    response.headers["ETag"] = service.verdict_etag(verdict)
    return verdict


@router.get(
    "/evaluations/{evaluation_id}/verdict",
    responses={
        200: {"headers": {"ETag": ETAG_HEADER}, "links": VERDICT_LINKS},
        **problem_responses(404, 422),
    },
)
def get_verdict(
    caller: ReaderKey, session: SessionDep, response: Response, evaluation_id: EvaluationId
) -> VerdictPublic:
    """Get a decision's current verdict, with its ETag; 404 if it has none."""
    verdict = service.get_current(session, evaluation_id, owner=_owner(caller))
    response.headers["ETag"] = service.verdict_etag(verdict)
    return verdict


@router.get("/evaluations/{evaluation_id}/verdicts", responses=problem_responses(404, 422))
def list_verdicts(
    caller: ReaderKey, session: SessionDep, evaluation_id: EvaluationId
) -> VerdictHistory:
    """List every verdict on a decision, oldest first; the last is the current one."""
    return service.get_history(session, evaluation_id, owner=_owner(caller))


@router.get("/reviews", responses=problem_responses(422))
def list_reviews(
    _: ReviewReaderKey,
    session: SessionDep,
    criteria_set: Annotated[Slug | None, Query(description="Only this set's slug.")] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
) -> ReviewPage:
    """List the decisions waiting for a person: `review`, no verdict yet, oldest first.

    Each shows the decision with its reasons and what made it `review`.
    """
    check_window(since, until)
    scope = Scope(criteria_set=criteria_set, since=since, until=until)
    return list_queue(session, scope, limit=limit, cursor=cursor)


@router.get("/stats", responses=problem_responses(404, 422))
def get_stats(
    _: ReviewReaderKey,
    session: SessionDep,
    criteria_set: Annotated[
        Slug | None,
        Query(description="The set's slug; required when several sets exist."),
    ] = None,
    version: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="Only this version.")
    ] = None,
    since: Since = None,
    until: Until = None,
    bucket: Annotated[
        Literal["day"] | None, Query(description="`day`: decisions per day (UTC) too.")
    ] = None,
) -> Stats:
    """Decisions by outcome, each criterion's statuses, and where people disagree with them."""
    check_window(since, until)
    scope = Scope(stats.set_of(session, criteria_set), version, since, until)
    return stats.compute(session, scope, by_day=bucket == "day")
