"""HTTP routes for API keys: /keys (admin only)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from app.auth import service
from app.auth.dependencies import AdminKey, GuardDep
from app.auth.models import KEY_ID_PATTERN, ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyPublic
from app.problems import problem_responses
from app.routing import GatedRoute
from app.runtime import runtime_of
from app.sessions import SessionDep, WriteSessionDep

router = APIRouter(
    prefix="/keys",
    tags=["keys"],
    responses=problem_responses(401, 403, 429, 503),
    route_class=GatedRoute,
)

KeyIdPath = Annotated[str, Path(pattern=KEY_ID_PATTERN, description="The key's public id.")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {"headers": {"Location": {"schema": {"type": "string"}}}},
        # 409: in development mode without REFLEXE_SECRET_KEY, no key can be created.
        **problem_responses(400, 409, 413, 422),
    },
)
def create_api_key(
    _: AdminKey, request: Request, session: WriteSessionDep, response: Response, body: ApiKeyCreate
) -> ApiKeyCreated:
    """Create an API key. The key is in this response and never shown again."""
    created = service.create_key(session, runtime_of(request.app).secret, body)
    response.headers["Location"] = f"/keys/{created.id}"
    return created


@router.get("")
def list_api_keys(_: AdminKey, session: SessionDep) -> ApiKeyList:
    """List every API key, newest first, revoked ones included; never the keys themselves."""
    return ApiKeyList(items=service.list_keys(session))


@router.get("/{key_id}", responses=problem_responses(404, 422))
def get_api_key(_: AdminKey, session: SessionDep, key_id: KeyIdPath) -> ApiKeyPublic:
    """Get one API key's description."""
    return service.get_key(session, key_id)


@router.delete("/{key_id}", responses=problem_responses(404, 409, 422))
def revoke_api_key(
    _: AdminKey, session: WriteSessionDep, guard: GuardDep, key_id: KeyIdPath
) -> ApiKeyPublic:
    """Revoke an API key for good; the last active admin key cannot be revoked here."""
    revoked = service.revoke_key(session, key_id)
    guard.forget(key_id)
    return revoked
