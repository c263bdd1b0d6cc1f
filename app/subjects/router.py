"""HTTP routes for a subject's access and erasure requests (/subjects) and the record of
erasures and purges (/erasures)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from app.auth.dependencies import AdminKey, AuditorKey
from app.evaluations.models import LookupRef
from app.problems import problem_responses
from app.routing import GatedRoute
from app.runtime import runtime_of
from app.sessions import SessionDep
from app.subjects import service
from app.subjects.models import (
    ErasureRequest,
    ErasureResult,
    RemovalKind,
    RemovalPage,
    RemovalSource,
    SubjectQuery,
    SubjectRecords,
)

router = APIRouter(
    tags=["subjects"], responses=problem_responses(401, 403, 429, 503), route_class=GatedRoute
)
RefPath = Annotated[
    LookupRef,
    Path(
        description="The subject's ref, URL-encoded (or send it in the body of POST "
        "/subjects or /erasures, which keeps it out of URLs and logs)."
    ),
]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
]
Vacuum = Annotated[
    bool, Query(description="PostgreSQL: VACUUM the tables erased from, afterwards.")
]


@router.get("/subjects/{ref:path}", responses=problem_responses(422))
def get_subject(
    caller: AuditorKey,
    request: Request,
    session: SessionDep,
    ref: RefPath,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> SubjectRecords:
    """Everything stored about a subject: its decisions (minimised ones included), their
    inputs, verdicts, queue entries, webhook events and pending cases, and the counts of
    every kind (what an erasure would remove). An unknown subject has none of them."""
    runtime = runtime_of(request.app)
    return service.show_subject(
        session,
        runtime.subject_keys,
        ref,
        limit=limit,
        cursor=cursor,
        chunk=runtime.settings.purge_chunk,
    )


@router.post("/subjects", responses=problem_responses(400, 413, 422))
def search_subject(
    caller: AuditorKey, request: Request, session: SessionDep, body: SubjectQuery
) -> SubjectRecords:
    """Everything stored about a subject, as GET /subjects/{ref} answers it, named in the
    body so that the ref stays out of URLs and logs."""
    runtime = runtime_of(request.app)
    return service.show_subject(
        session,
        runtime.subject_keys,
        body.ref,
        limit=body.limit,
        cursor=body.cursor,
        chunk=runtime.settings.purge_chunk,
        cursor_in="body",
    )


@router.delete("/subjects/{ref:path}", responses=problem_responses(422))
def erase_subject(
    caller: AdminKey, request: Request, ref: RefPath, vacuum: Vacuum = False
) -> ErasureResult:
    """Erase everything stored about a subject, in one transaction, and record that it
    happened (never who it was). Erasing a subject with nothing stored is a 200 with zero
    counts: the request is idempotent."""
    return _erase(request, caller.key_id, ref, vacuum)


@router.post("/erasures", responses=problem_responses(400, 413, 422))
def erase_subject_by_body(
    caller: AdminKey, request: Request, body: ErasureRequest
) -> ErasureResult:
    """Erase a subject as DELETE /subjects/{ref} does, named in the body so that the ref
    stays out of URLs and logs."""
    return _erase(request, caller.key_id, body.ref, body.vacuum)


def _erase(request: Request, api_key_id: str | None, ref: str, vacuum: bool) -> ErasureResult:
    runtime = runtime_of(request.app)
    return service.erase_subject(
        runtime.engine,
        runtime.write_engine,
        runtime.subject_keys,
        ref,
        source=RemovalSource.API,
        api_key_id=api_key_id,
        vacuum=vacuum,
        chunk=runtime.settings.purge_chunk,
    )


@router.get("/erasures", responses=problem_responses(422))
def list_erasures(
    caller: AuditorKey,
    session: SessionDep,
    kind: Annotated[RemovalKind | None, Query(description="Only erasures, or only purges.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RemovalPage:
    """The erasures and retention purges that happened, newest first: when, who asked,
    how many records of each kind; nothing of the people erased."""
    return service.list_removals(session, kind, limit=limit, cursor=cursor)
