"""HTTP routes for criteria sets: /criteria."""

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request, Response, status

from app.auth.dependencies import AdminKey, ReaderKey
from app.criteria import links, service
from app.criteria.dependencies import RegistryDep
from app.criteria.examples import CREATE_EXAMPLES, REPLACE_EXAMPLES
from app.criteria.files import YAML_MEDIA_TYPE
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
from app.privacy import Privacy
from app.problems import problem_responses
from app.routing import GatedRoute, IfMatch
from app.runtime import runtime_of
from app.sessions import SessionDep, WriteSessionDep
from app.setfiles import FileFormat, export_text

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
FormatQuery = Annotated[
    FileFormat | None,
    Query(
        alias="format",
        description="Answer the set's file instead (`reflexe check`, `push`): its slug and "
        "content, without the server's fields, as YAML (with a comment naming the version "
        "and its content hash) or JSON. `Accept: application/yaml` asks for YAML too.",
    ),
]
# The file form, as `format` or Accept asks for it: the YAML document holds what the JSON
# one does, a criteria set's file (the body POST /criteria takes).
FILE_CONTENT = {
    YAML_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/CriteriaSetCreate"}},
}
YAML_MEDIA_TYPES = frozenset({YAML_MEDIA_TYPE, "application/x-yaml", "text/yaml"})


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
    request: Request,
    session: WriteSessionDep,
    registry: RegistryDep,
    response: Response,
    body: Annotated[CriteriaSetCreate, Body(openapi_examples=CREATE_EXAMPLES)],
) -> CriteriaSetPublic:
    """Create a criteria set as its version 1 (its `privacy`, when absent, is the
    deployment's REFLEXE_PRIVACY_DEFAULT)."""
    default = Privacy(runtime_of(request.app).settings.privacy_default)
    created = service.create_set(session, body, default_privacy=default)
    registry.refresh()
    response.headers["Location"] = f"/criteria/{created.slug}"
    response.headers["ETag"] = etag(created.version)
    return created


@router.get(
    "/{slug}",
    response_model=CriteriaSetPublic | CriteriaSetCreate,
    responses={
        200: {
            "description": "The set at its current version; its file with `format` or "
            "`Accept: application/yaml`.",
            "headers": {"ETag": ETAG_HEADER},
            "links": links.READ,
            "content": FILE_CONTENT,
        },
        **problem_responses(404, 422),
    },
)
def get_criteria_set(
    _: ReaderKey,
    session: SessionDep,
    request: Request,
    response: Response,
    slug: SlugPath,
    file_format: FormatQuery = None,
) -> CriteriaSetPublic | Response:
    """Get the current version of a criteria set, with its ETag, or the set's file."""
    found = service.get_set(session, slug)
    headers = {"ETag": etag(found.version), "Vary": "Accept"}
    wanted = _file_format(request, file_format)
    if wanted is not None:
        return _file_response(found, wanted, headers)
    response.headers.update(headers)
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


@router.get(
    "/{slug}/versions/{version}",
    response_model=CriteriaVersionPublic | CriteriaSetCreate,
    responses={
        200: {
            "description": "The version; its file with `format` or `Accept: application/yaml`.",
            "content": FILE_CONTENT,
        },
        **problem_responses(404, 422),
    },
)
def get_criteria_version(
    _: ReaderKey,
    session: SessionDep,
    request: Request,
    response: Response,
    slug: SlugPath,
    version: Annotated[int, Path(ge=1, le=MAX_VERSION, description="Version number.")],
    file_format: FormatQuery = None,
) -> CriteriaVersionPublic | Response:
    """Get one immutable version of a criteria set, or its file."""
    found = service.get_version(session, slug, version)
    wanted = _file_format(request, file_format)
    if wanted is not None:
        return _file_response(found, wanted, {"Vary": "Accept"})
    response.headers["Vary"] = "Accept"
    return found


def _file_format(request: Request, asked: FileFormat | None) -> FileFormat | None:
    """The file form the request asks for: `format`, else YAML if Accept prefers it."""
    if asked is not None:
        return asked
    return (
        FileFormat.YAML if _preferred(request.headers.get("accept")) in YAML_MEDIA_TYPES else None
    )


def _preferred(accept: str | None) -> str | None:
    """The media range an Accept header ranks first (highest q; the first of equals)."""
    best, best_q = None, 0.0
    for media_range in (accept or "").split(","):
        media, *parameters = (part.strip() for part in media_range.split(";"))
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q:
            best, best_q = media.lower(), q
    return best


def _file_response(
    version: CriteriaVersionPublic, file_format: FileFormat, headers: dict[str, str]
) -> Response:
    media_type = YAML_MEDIA_TYPE if file_format is FileFormat.YAML else "application/json"
    return Response(export_text(version, file_format), media_type=media_type, headers=headers)
