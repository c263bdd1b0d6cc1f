"""HTTP routes for evaluation and the decision log: /evaluate, /evaluations."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response, status

from app.auth.dependencies import EvaluatorKey, ReaderKey
from app.auth.guard import Principal
from app.auth.models import KEY_ID_PATTERN, Role
from app.criteria.models import Slug
from app.engine import Decision
from app.evaluations import log, service
from app.evaluations.dependencies import BatchSlotDep
from app.evaluations.examples import EVALUATE_EXAMPLES
from app.evaluations.models import (
    BatchResult,
    EvaluationInputs,
    EvaluationPage,
    EvaluationPublic,
    EvaluationRequest,
    IsoDateTime,
    LookupRef,
    check_window,
)
from app.evaluations.repository import EvaluationFilter
from app.idempotency.service import Idempotent
from app.problems import problem_responses
from app.routing import GatedRoute, LeanRoute
from app.runtime import runtime_of
from app.sessions import SessionDep

router = APIRouter(
    tags=["evaluations"], responses=problem_responses(401, 403, 429, 503), route_class=GatedRoute
)
# The hot path: routes that solve their own parameters (app.routing.LeanRoute), included
# in the app first, directly (a router within a router is matched level by level).
evaluate_router = APIRouter(
    tags=["evaluations"], responses=problem_responses(401, 403, 429, 503), route_class=LeanRoute
)
JSON = "application/json"


def _link(operation_id: str, description: str) -> dict[str, Any]:
    """An OpenAPI link to `operation_id`, for the decision this response holds."""
    return {
        "operationId": operation_id,
        "parameters": {"path.evaluation_id": "$response.body#/id"},
        "description": description,
    }


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retry safely: the same key and body give the same answer and store "
        "one decision. Kept 24 hours.",
    ),
]


@evaluate_router.post(
    "/evaluate",
    status_code=status.HTTP_201_CREATED,
    response_model=EvaluationPublic,
    responses={
        200: {"model": EvaluationPublic, "description": "Dry run: decided, not stored."},
        201: {
            "description": "Decided and stored.",
            "headers": {"Location": {"schema": {"type": "string"}}},
            "links": {
                "GetEvaluation": _link(
                    "get_evaluation", "Read the stored decision back from the log."
                ),
                "PutVerdict": _link("put_verdict", "Give the decision a human verdict."),
            },
        },
        **problem_responses(400, 404, 409, 413, 422, 503),
    },
)
async def evaluate(
    caller: EvaluatorKey,
    request: Request,
    body: Annotated[EvaluationRequest, Body(openapi_examples=EVALUATE_EXAMPLES)],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Judge a profile against a criteria set and store the decision."""
    runtime = runtime_of(request.app)
    idempotent = await _idempotent(request, caller, idempotency_key)
    answer = await service.evaluate(body, runtime.evaluator, caller.key_id, idempotent)
    return _response(answer)


@evaluate_router.post(
    "/evaluate/batch",
    response_model=BatchResult,
    responses=problem_responses(400, 409, 413, 415, 422, 503),
    # The body is read here and parsed in a worker thread, a piece at a time
    # (evaluations.batch_body): FastAPI would parse it in one go on the event loop.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/BatchRequest"}}},
        }
    },
)
async def evaluate_batch(
    caller: EvaluatorKey,
    _: BatchSlotDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Judge up to 1,000 profiles; the valid ones are stored in one transaction.

    The batch counts as its number of items against the caller's rate limit.
    """
    runtime = runtime_of(request.app)
    body = await request.body()

    async def count_items(items: int) -> None:
        await runtime.guard.limit_batch(caller, items)

    answer = await service.evaluate_batch(
        body,
        request.headers.get("content-type"),
        runtime.evaluator,
        caller.key_id,
        await _idempotent(request, caller, idempotency_key),
        on_items=count_items,
    )
    return _response(answer)


async def _idempotent(request: Request, caller: Principal, key: str | None) -> Idempotent | None:
    """The request's Idempotency-Key, if it sent one: keys are each API key's own."""
    if key is None:
        return None
    return Idempotent.of(caller.scope, key, await request.body())


def _response(answer: service.Answer) -> Response:
    headers = None if answer.location is None else {"Location": answer.location}
    return Response(answer.body, status_code=answer.status, headers=headers, media_type=JSON)


@router.get("/evaluations", response_model=EvaluationPage, responses=problem_responses(422))
def list_evaluations(
    caller: ReaderKey,
    request: Request,
    session: SessionDep,
    decision: Annotated[Decision | None, Query(description="Only this decision.")] = None,
    criteria_set: Annotated[Slug | None, Query(description="Only this set's slug.")] = None,
    subject: Annotated[
        LookupRef | None,
        Query(
            description="Only this subject ref (found by its keyed hash, minimised decisions "
            "included)."
        ),
    ] = None,
    since: Annotated[
        IsoDateTime | None, Query(description="Made at or after (ISO 8601 with zone).")
    ] = None,
    until: Annotated[
        IsoDateTime | None, Query(description="Made before (ISO 8601 with zone).")
    ] = None,
    api_key: Annotated[
        str | None,
        Query(pattern=KEY_ID_PATTERN, description="Only those asked for by this API key id."),
    ] = None,
    final_decision: Annotated[
        Decision | None,
        Query(description="Only this final decision: the verdict's, else the machine's."),
    ] = None,
    has_verdict: Annotated[
        bool | None, Query(description="Only those with (true) or without (false) a verdict.")
    ] = None,
    verdict_agrees: Annotated[
        bool | None,
        Query(
            description="Only those whose verdict agrees (true) or not (false) with the "
            "machine's decision (a verdict on a `review` does neither)."
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
) -> Response:
    """List stored decisions, newest first, with cursor pagination.

    An evaluator key sees only the decisions it asked for.
    """
    check_window(since, until)
    if caller.role == Role.evaluator:
        if api_key is not None and api_key != caller.key_id:
            return Response(b'{"items":[],"next_cursor":null}', media_type=JSON)
        api_key = caller.key_id
    filters = EvaluationFilter(
        decision=decision.value if decision else None,
        criteria_set=criteria_set,
        subject_key=log.subject_key_of(runtime_of(request.app).subject_keys, subject),
        since=since,
        until=until,
        api_key_id=api_key,
        final_decision=final_decision.value if final_decision else None,
        has_verdict=has_verdict,
        verdict_agrees=verdict_agrees,
    )
    page = log.list_evaluations(session, filters, limit=limit, cursor=cursor)
    return Response(page, media_type=JSON)


@router.get(
    "/evaluations/{evaluation_id}",
    response_model=EvaluationPublic,
    responses={
        200: {
            "links": {
                "GetVerdict": _link("get_verdict", "Read the decision's current verdict."),
                "ListVerdicts": _link("list_verdicts", "Every verdict on the decision."),
            }
        },
        **problem_responses(404, 422),
    },
)
def get_evaluation(caller: ReaderKey, session: SessionDep, evaluation_id: uuid.UUID) -> Response:
    """Get a stored decision, exactly as POST /evaluate returned it, with its current
    verdict (`verdict`, `final_decision`) if a person gave one.

    An evaluator key finds only the decisions it asked for (404 for the others).
    """
    owner = caller.key_id if caller.role == Role.evaluator else None
    return Response(log.get_evaluation(session, evaluation_id, owner=owner), media_type=JSON)


@router.get("/evaluations/{evaluation_id}/inputs", responses=problem_responses(404, 422))
def get_evaluation_inputs(
    caller: ReaderKey, session: SessionDep, evaluation_id: uuid.UUID
) -> EvaluationInputs:
    """Get what a stored decision was made from: its subject, answers and attributes.

    The values are whole, as sent (evidence quotes long ones shortened). An evaluator key
    finds only the decisions it asked for (404 for the others).
    """
    owner = caller.key_id if caller.role == Role.evaluator else None
    return log.get_inputs(session, evaluation_id, owner=owner)
