"""HTTP routes for changing a method safely: impact reports, shadow versions, and cases
made from stored decisions."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Request, Response, status
from fastapi.responses import JSONResponse

from app.auth.dependencies import AdminKey, ReviewReaderKey
from app.changes import impact, jobs, promote, shadow
from app.changes.models import (
    CaseRequest,
    ImpactJobPublic,
    ImpactReport,
    ImpactRequest,
    PendingCasePublic,
    ShadowPublic,
    ShadowReport,
    ShadowRequest,
)
from app.criteria.dependencies import RegistryDep
from app.criteria.models import ShortText, Slug
from app.problems import problem_responses
from app.routing import GatedRoute
from app.runtime import runtime_of
from app.sessions import SessionDep, WriteSessionDep

router = APIRouter(
    tags=["changes"], responses=problem_responses(401, 403, 429, 503), route_class=GatedRoute
)
SlugPath = Annotated[Slug, Path(description="The set's slug, e.g. `pipu`.")]
JOB_LINK = {
    "GetImpactJob": {
        "operationId": "get_impact_job",
        "parameters": {"path.slug": "$request.path.slug", "path.job_id": "$response.body#/id"},
        "description": "Poll the job until its status is `done`.",
    }
}


@router.post(
    "/criteria/{slug}/impact",
    response_model=ImpactReport,
    responses={
        200: {"description": "The report, for a window small enough to replay at once."},
        202: {
            "model": ImpactJobPublic,
            "description": "A larger window (or `Prefer: respond-async`): a job to poll at "
            "`Location`.",
            "headers": {"Location": {"schema": {"type": "string"}}},
            "links": JOB_LINK,
        },
        **problem_responses(400, 404, 413, 422),
    },
)
def impact_report(
    caller: AdminKey,
    session: SessionDep,
    request: Request,
    slug: SlugPath,
    body: ImpactRequest,
    prefer: Annotated[
        str | None,
        Header(description="`respond-async`: always answer 202 with a job, however small."),
    ] = None,
) -> Response | ImpactReport:
    """Replay the set's stored decisions of a window through a draft or a stored version.

    Each decision is decided again from its stored inputs; the report counts the outcomes
    old by new, each criterion's flips, the agreement with human verdicts before and after,
    and lists a sample of the changed decisions, a page at a time (`sample_cursor`).
    """
    runtime = runtime_of(request.app)
    candidate = impact.candidate_for(session, slug, body)
    total = impact.window_size(session, slug, body)
    wants_job = prefer is not None and "respond-async" in prefer.lower()
    if not wants_job and total <= runtime.settings.impact_sync_limit:
        session.close()  # the replay reads on connections of its own
        return impact.run(runtime.engine, candidate, body)
    session.close()
    job = runtime.impact_jobs.submit(candidate, body, total, caller.key_id)
    return JSONResponse(
        jobs.public(job).model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"/criteria/{slug}/impact/{job.id}"},
    )


@router.get("/criteria/{slug}/impact/{job_id}", responses=problem_responses(404, 422))
def get_impact_job(
    _: AdminKey,
    session: SessionDep,
    slug: SlugPath,
    job_id: Annotated[uuid.UUID, Path(description="The job, from the 202's `Location`.")],
) -> ImpactJobPublic:
    """An impact job: how far it is, and its report once done."""
    return jobs.get_job(session, slug, job_id)


@router.put("/criteria/{slug}/shadow", responses=problem_responses(400, 404, 409, 413, 422))
def put_shadow(
    _: AdminKey,
    session: WriteSessionDep,
    registry: RegistryDep,
    slug: SlugPath,
    body: Annotated[ShadowRequest, Body()],
) -> ShadowPublic:
    """Shadow the current version with a candidate: a stored version, or a draft saved as
    the set's next version (not current). Every stored evaluation of the set is also
    decided by the candidate; its decision is stored, never answered. Replaces any shadow.
    Promote the candidate with an ordinary PUT /criteria/{slug}."""
    started = shadow.start(session, slug, body)
    registry.refresh()
    return started


@router.get("/criteria/{slug}/shadow", responses=problem_responses(404, 422))
def get_shadow(_: ReviewReaderKey, session: SessionDep, slug: SlugPath) -> ShadowReport:
    """How the shadow compares so far: outcomes old by shadow, each criterion's flips, and
    the agreement of each with the human verdicts."""
    return shadow.report(session, slug)


@router.delete(
    "/criteria/{slug}/shadow",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 422),
)
def delete_shadow(
    _: AdminKey, session: WriteSessionDep, registry: RegistryDep, slug: SlugPath
) -> None:
    """Stop the shadow; what it decided stays stored. Without a shadow, nothing changes."""
    shadow.stop(session, slug)
    registry.refresh()


@router.post(
    "/evaluations/{evaluation_id}/case",
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {"headers": {"Location": {"schema": {"type": "string"}}}},
        **problem_responses(400, 404, 409, 413, 422),
    },
)
def make_case(
    caller: AdminKey,
    session: WriteSessionDep,
    response: Response,
    evaluation_id: Annotated[uuid.UUID, Path(description="Id of the stored decision.")],
    body: Annotated[CaseRequest | None, Body()] = None,
) -> PendingCasePublic:
    """Turn a stored decision into a test case of its set's next version.

    Its inputs are the decision's stored inputs; its expectation is the current human
    verdict (its decision, and the criteria it judged), or else the decision as made. The
    case is pending: every version saved from now on must pass it, and the next current
    one keeps it. `passes_current` says whether today's version would.
    """
    made = promote.make_case(session, evaluation_id, body or CaseRequest(), caller.key_id)
    response.headers["Location"] = f"/criteria/{made.slug}"
    return made


@router.delete(
    # `:path`: a case's name may hold a `/`, sent percent-encoded (`%2F`).
    "/criteria/{slug}/pending-cases/{name:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 422),
)
def delete_pending_case(
    _: AdminKey,
    session: WriteSessionDep,
    slug: SlugPath,
    name: Annotated[ShortText, Path(description="The pending case's name.")],
) -> None:
    """Drop a pending case, so that the next version need not pass it."""
    promote.drop_case(session, slug, name)
