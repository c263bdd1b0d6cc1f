"""The application factory: settings, database, routers, error handling."""

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.types import ASGIApp

from app import __version__
from app.auth.middleware import AuthenticationMiddleware
from app.auth.redaction import install_redaction
from app.auth.router import router as keys_router
from app.changes.router import router as changes_router
from app.criteria.router import router as criteria_router
from app.criteria.rules_schema import RULE_SCHEMAS
from app.docs import install_docs
from app.evaluations.models import BatchRequest
from app.evaluations.router import evaluate_router
from app.evaluations.router import router as evaluations_router
from app.health import router as health_router
from app.memory import limit_arenas
from app.middleware import BodyLimitMiddleware, HeadAsGetMiddleware, SecurityHeadersMiddleware
from app.monitoring.middleware import RequestContextMiddleware
from app.monitoring.requestids import REQUEST_ID_HEADER
from app.monitoring.router import router as monitoring_router
from app.problems import PROBLEM_MEDIA_TYPE, install_error_handlers
from app.reviews.router import router as reviews_router
from app.runtime import Runtime
from app.settings import Settings, get_settings
from app.subjects.router import router as subjects_router
from app.webhooks.router import router as webhooks_router

logger = logging.getLogger("reflexe")

DESCRIPTION = """
Reflexe judges professional-network invitations with a *reflex method*: a short set of
yes/no criteria, such as PIPU (Pertinent, Interaction, Prescriber, Useful), and a policy
that turns the criteria met into `accept`, `decline` or `review`. Every decision is
stored with its reasons. Errors are RFC 9457 problem documents.
"""


REQUEST_ID_DOC = {
    "description": "The request's id: the caller's own `X-Request-ID` if it sent one of 1 "
    "to 128 characters of `A-Za-z0-9._:-`, a new one otherwise. Also in problem documents "
    "(`request_id`) and in the logs.",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
}


def _operation_id(route: APIRoute) -> str:
    return route.name


@cache
def _tune_interpreter() -> None:
    """Fewer, cheaper collections, and the event loop's turn sooner. Once per process.

    Collections were the source of the latency spikes under load: everything built so far
    (app, routes, compiled criteria) is moved out of the collector's sight, and young
    collections run every 50,000 allocations instead of 700; request garbage is acyclic
    and freed by reference counting anyway.

    Costly decisions run in worker threads (evaluations.service). A thread that computes
    keeps the interpreter until another asks for it and the switch interval passes: at
    Python's default of 5 ms, the event loop, which needs it several times per request,
    would wait tens of milliseconds to answer a health check. 1 ms keeps it responsive.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    sys.setswitchinterval(0.001)
    limit_arenas()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings)
        app.state.runtime = runtime
        _tune_interpreter()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Reflexe",
        version=__version__,
        summary="Decide on connection invitations with a reflex method such as PIPU.",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # served by install_docs, with assets of its own
        redoc_url=None,
    )
    install_redaction()
    install_error_handlers(app)
    # Innermost first: authentication runs after CORS (a preflight has no key), and every
    # answer, its 401s included, gets the security headers. Bodies are read, up to their
    # limit, only by a route that has admitted the request (app.routing).
    app.add_middleware(HeadAsGetMiddleware, routes=app.router.routes)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits={
            "/evaluate/batch": settings.max_batch_body_bytes,
            "/criteria": settings.max_criteria_body_bytes,
        },
    )
    app.add_middleware(AuthenticationMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=[
                "Content-Type",
                "If-Match",
                "Authorization",
                "Idempotency-Key",
                REQUEST_ID_HEADER,
            ],
            expose_headers=["ETag", "Location", "Retry-After", REQUEST_ID_HEADER],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    app.include_router(evaluate_router)  # first: the hot path matches sooner
    app.include_router(evaluations_router)
    app.include_router(reviews_router)
    app.include_router(criteria_router)
    app.include_router(changes_router)
    app.include_router(keys_router)
    app.include_router(webhooks_router)
    app.include_router(subjects_router)
    app.include_router(health_router)
    if settings.metrics_enabled:
        app.include_router(monitoring_router)
    install_docs(app)
    _wrap_stack(app, settings)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _wrap_stack(app: FastAPI, settings: Settings) -> None:
    """Put the request's id, metrics and access log around the whole middleware stack.

    Outside Starlette's ServerErrorMiddleware, which `add_middleware` cannot reach: a 500
    carries the id, and is counted, like any other answer.
    """
    build = app.build_middleware_stack

    def build_with_context() -> ASGIApp:
        return RequestContextMiddleware(
            build(),
            app.router.routes,
            metrics=settings.metrics_enabled,
            access_log=settings.log_format == "json",
        )

    app.build_middleware_stack = build_with_context  # type: ignore[method-assign]


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated document, with error responses served only as problem+json."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        schema["components"]["schemas"].update(RULE_SCHEMAS)
        # POST /evaluate/batch reads its body itself (see its route).
        schema["components"]["schemas"]["BatchRequest"] = BatchRequest.model_json_schema()
        schema["components"]["headers"] = {REQUEST_ID_HEADER: REQUEST_ID_DOC}
        request_id = {"$ref": f"#/components/headers/{REQUEST_ID_HEADER}"}
        for operation in (op for path in schema["paths"].values() for op in path.values()):
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                if status[0] in "45" and PROBLEM_MEDIA_TYPE in content:
                    content.pop("application/json", None)
                response.setdefault("headers", {})[REQUEST_ID_HEADER] = request_id
        app.openapi_schema = schema
    return app.openapi_schema
