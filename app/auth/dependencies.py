"""Request dependencies of the auth domain: the caller, checked for a role."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.guard import KeyGuard, Principal
from app.auth.models import Role
from app.errors import Forbidden
from app.routing import Gate
from app.runtime import runtime_of

# Documents the scheme in OpenAPI. The header itself is read by AuthenticationMiddleware
# (through KeyGuard), so that a header with another scheme is refused rather than taken for
# no header at all, and before any body is read.
bearer = HTTPBearer(
    scheme_name="ApiKey",
    bearerFormat="rfx_<id>_<secret>",
    description="An API key, created with `reflexe keys create` or `POST /keys`.",
    auto_error=False,
)


class RequireRole(Gate):
    """Count the request against the caller's rate limit and check its role, before the
    body is read (see `app.routing`); as a dependency, the caller."""

    def __init__(self, *roles: Role) -> None:
        self.roles = roles

    @asynccontextmanager
    async def admit(self, request: Request) -> AsyncIterator[None]:
        guard = runtime_of(request.app).guard
        # AuthenticationMiddleware recognised the caller before the route was chosen.
        principal: Principal = request.state.principal
        await guard.limit(principal)
        if principal.role not in self.roles:
            allowed = " or ".join(role.value for role in self.roles)
            raise Forbidden(f"This needs an {allowed} key; this key's role is {principal.role}.")
        yield

    def provide(self, request: Request) -> Principal:
        principal: Principal = request.state.principal
        return principal

    async def __call__(
        self,
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        return self.provide(request)


AdminKey = Annotated[Principal, Depends(RequireRole(Role.admin))]
EvaluatorKey = Annotated[Principal, Depends(RequireRole(Role.admin, Role.evaluator))]
ReaderKey = Annotated[
    Principal, Depends(RequireRole(Role.admin, Role.evaluator, Role.auditor, Role.reviewer))
]
# The review queue and the statistics: every decision, no evaluating.
ReviewReaderKey = Annotated[
    Principal, Depends(RequireRole(Role.admin, Role.auditor, Role.reviewer))
]
# A person's records, the erasures and purges: every decision, nothing else.
AuditorKey = Annotated[Principal, Depends(RequireRole(Role.admin, Role.auditor))]
ReviewerKey = Annotated[Principal, Depends(RequireRole(Role.admin, Role.reviewer))]


async def get_guard(request: Request) -> KeyGuard:
    return runtime_of(request.app).guard


GuardDep = Annotated[KeyGuard, Depends(get_guard)]
