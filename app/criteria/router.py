"""HTTP routes for criteria sets: /criteria."""

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response, status

from app.auth.dependencies import AdminKey, ReaderKey
from app.criteria import links, service
from app.criteria.dependencies import RegistryDep
from app.criteria.examples import CREATE_EXAMPLES, REPLACE_EXAMPLES
from app.criteria.models import (
    MAX_VERSION,
    CriteriaSetCreate,
    CriteriaSetList,
    CriteriaSetPublic,
    CriteriaSetReplace,
    CriteriaVersionList,
    CriteriaVersionPublic,
    Slug,
)
from app.etags import etag, if_match_docs
from app.problems import problem_responses
from app.routing import GatedRoute, IfMatch
from app.sessions import SessionDep, WriteSessionDep

router = APIRouter(
    prefix="/criteria",
    tags=["criteria"],
    responses=problem_responses(401, 403, 429, 503),
    route_class=GatedRoute,
)

SlugPath = Annotated[Slug, Path(description="The set's slug, e.g. `pipu`.")]
IF_MATCH_DOCS = if_match_docs(
    "The ETag of the version you are changing (from GET or the last write), or `*` for the "
    "current one. Missing: 428; not the current version: 412."
)
ETAG_HEADER = {
    "description": "Identifies this version of the set; send it back in If-Match to change it.",
    "schema": {"type": "string"},
}


@router.get("", responses=problem_responses(422))
def list_criteria_sets(
    _: ReaderKey,
    session: SessionDep,
    include_archived: Annotated[bool, Query(description="Also list archived sets.")] = False,
) -> CriteriaSetList:
    """List the criteria sets, each at its current version."""
    return CriteriaSetList(items=service.list_sets(session, include_archived=include_archived))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {
            "headers": {"Location": {"schema": {"type": "string"}}, "ETag": ETAG_HEADER},
            "links": links.CREATED,
        },
        **problem_responses(400, 409, 413, 422),
    },
)
def create_criteria_set(
    _: AdminKey,
    session: WriteSessionDep,
    registry: RegistryDep,
    response: Response,
    body: Annotated[CriteriaSetCreate, Body(openapi_examples=CREATE_EXAMPLES)],
) -> CriteriaSetPublic:
    """Create a criteria set as its version 1."""
    created = service.create_set(session, body)
    registry.refresh()
    response.headers["Location"] = f"/criteria/{created.slug}"
    response.headers["ETag"] = etag(created.version)
    return created


@router.get(
    "/{slug}",
    responses={
        200: {"headers": {"ETag": ETAG_HEADER}, "links": links.READ},
        **problem_responses(404, 422),
    },
)
def get_criteria_set(
    _: ReaderKey, session: SessionDep, response: Response, slug: SlugPath
) -> CriteriaSetPublic:
    """Get the current version of a criteria set, with its ETag."""
    found = service.get_set(session, slug)
    response.headers["ETag"] = etag(found.version)
    return found


@router.put(
    "/{slug}",
    responses={
        200: {"headers": {"ETag": ETAG_HEADER}, "links": links.REPLACED},
        **problem_responses(400, 404, 409, 412, 413, 422, 428),
    },
    openapi_extra=IF_MATCH_DOCS,
)
def replace_criteria_set(
    _: AdminKey,
    session: WriteSessionDep,
    registry: RegistryDep,
    response: Response,
    slug: SlugPath,
    body: Annotated[CriteriaSetReplace, Body(openapi_examples=REPLACE_EXAMPLES)],
    if_match: IfMatch = None,
) -> CriteriaSetPublic:
    """Replace a criteria set, creating its next version. Requires If-Match.

    The body may be the set as GET returned it, edited: its `slug` must be this one, and
    `version`, `created_at`, `is_default` and `archived_at` are ignored.
    """
    replaced = service.replace_set(session, slug, body, if_match)
    registry.refresh()
    response.headers["ETag"] = etag(replaced.version)
    return replaced


@router.delete(
    "/{slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409, 412, 422, 428),
    openapi_extra=IF_MATCH_DOCS,
)
def archive_criteria_set(
    _: AdminKey,
    session: WriteSessionDep,
    registry: RegistryDep,
    slug: SlugPath,
    if_match: IfMatch = None,
) -> None:
    """Archive a criteria set: no new evaluations, history kept. Requires If-Match."""
    service.archive_set(session, slug, if_match)
    registry.refresh()


@router.post(
    "/{slug}/default",
    responses={200: {"headers": {"ETag": ETAG_HEADER}}, **problem_responses(404, 409, 422)},
)
def make_default_criteria_set(
    _: AdminKey, session: WriteSessionDep, registry: RegistryDep, response: Response, slug: SlugPath
) -> CriteriaSetPublic:
    """Make this set the default, used by evaluations that name no set."""
    made = service.make_default(session, slug)
    registry.refresh()
    response.headers["ETag"] = etag(made.version)
    return made


@router.post(
    "/{slug}/restore",
    responses={
        200: {"headers": {"ETag": ETAG_HEADER}, "links": links.READ},
        **problem_responses(404, 422),
    },
)
def restore_criteria_set(
    _: AdminKey, session: WriteSessionDep, registry: RegistryDep, response: Response, slug: SlugPath
) -> CriteriaSetPublic:
    """Restore an archived criteria set, so that it evaluates again; a set in use is unchanged."""
    restored = service.restore_set(session, slug)
    registry.refresh()
    response.headers["ETag"] = etag(restored.version)
    return restored


@router.get("/{slug}/versions", responses=problem_responses(404, 422))
def list_criteria_versions(
    _: ReaderKey, session: SessionDep, slug: SlugPath
) -> CriteriaVersionList:
    """List every version of a criteria set, oldest first."""
    return CriteriaVersionList(items=service.list_versions(session, slug))


@router.get("/{slug}/versions/{version}", responses=problem_responses(404, 422))
def get_criteria_version(
    _: ReaderKey,
    session: SessionDep,
    slug: SlugPath,
    version: Annotated[int, Path(ge=1, le=MAX_VERSION, description="Version number.")],
) -> CriteriaVersionPublic:
    """Get one immutable version of a criteria set."""
    return service.get_version(session, slug, version)
