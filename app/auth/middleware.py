"""Authenticate every request before the framework reads its body.

FastAPI parses a JSON body before it runs a route's dependencies: left to a dependency, an
anonymous caller could still make the service parse megabytes of JSON, and learn from a 400
or 422 how its request was judged. This middleware answers 401 first; the route's
`RequireRole` dependency then finds the caller on `request.state` and checks its role.

`GET /metrics` also admits the scraper's bearer token (REFLEXE_METRICS_TOKEN), compared in
constant time: there, and nowhere else, it reads as an auditor would.
"""

import hmac

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.guard import SCRAPER
from app.docs import ASSETS_PATH, DOCS_PATH, REDOC_PATH, SCHEMA_PATH
from app.errors import DATABASE_ERRORS, ReflexeError
from app.problems import render_error
from app.runtime import runtime_of

# Probes and the API's own documentation (a set file's schema included) are public;
# everything else needs a key.
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/openapi.json", DOCS_PATH, REDOC_PATH, SCHEMA_PATH}
)
# The documentation's assets: files under this prefix, never a path that climbs out of it.
PUBLIC_PREFIX = ASSETS_PATH + "/"
METRICS_PATH = "/metrics"


def is_public(path: str) -> bool:
    """Whether a request for `path` may go without a key."""
    if path in PUBLIC_PATHS:
        return True
    return path.startswith(PUBLIC_PREFIX) and ".." not in path.split("/")


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        runtime = runtime_of(scope["app"])
        if scope["path"] == METRICS_PATH and runtime.metrics_token is not None:
            if _bears(scope, runtime.metrics_token):
                scope.setdefault("state", {})["principal"] = SCRAPER
                await self.app(scope, receive, send)
                return
        request = Request(scope)
        guard = runtime.guard
        try:
            principal = await guard.authenticate(request)
        except Exception as exc:
            if not isinstance(exc, (ReflexeError, *DATABASE_ERRORS)):
                raise
            response = await render_error(request, exc)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def _bears(scope: Scope, token: bytes) -> bool:
    """Whether the request's Authorization header is `Bearer <token>`."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, sent = value.partition(b" ")
            return scheme.lower() == b"bearer" and hmac.compare_digest(sent.strip(), token)
    return False
