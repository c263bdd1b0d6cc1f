"""Problems as HTTP answers: the one rendering of RFC 9457 documents, and the handlers.

`problem_response` is how every problem is sent (application/problem+json); the handlers
installed by `install_error_handlers` turn domain errors (`app.errors`), framework errors
and anything unexpected into one. No traceback ever reaches a client.
"""

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route

from app.errors import (
    DATABASE_ERRORS,
    MALFORMED_DETAIL,
    FieldError,
    InvalidInput,
    MalformedBody,
    Problem,
    ReflexeError,
    ServiceUnavailable,
    field_path,
    problem_of,
)
from app.monitoring.requestids import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    """The answer carrying `problem`: its status, the problem+json media type, and the
    request's id (the `X-Request-ID` header, app.monitoring.middleware)."""
    body = problem.model_dump(mode="json", exclude_none=True)
    request_id = current_request_id.get()
    if request_id is not None:
        body["request_id"] = request_id
    return JSONResponse(
        body,
        status_code=problem.status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def error_response(error: ReflexeError, instance: str | None = None) -> JSONResponse:
    """The answer to a domain error, with the headers it asks for (Retry-After, ...)."""
    return problem_response(error.problem(instance), error.headers)


async def render_error(request: Request, exc: Exception) -> JSONResponse:
    """The problem document of a domain or database error, for code outside the handlers."""
    if isinstance(exc, ReflexeError):
        return error_response(exc, request.url.path)
    return await _handle_database_unavailable(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ClientDisconnect, _handle_client_gone)
    app.add_exception_handler(ReflexeError, _handle_reflexe_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_error)
    for database_error in DATABASE_ERRORS:
        app.add_exception_handler(database_error, _handle_database_unavailable)
    app.add_exception_handler(Exception, _handle_unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry that documents a route's problem documents in OpenAPI."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


# --- handlers ------------------------------------------------------------------


async def _handle_reflexe_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ReflexeError)
    return error_response(exc, request.url.path)


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(error["type"] == "json_invalid" for error in exc.errors()):
        return error_response(MalformedBody(MALFORMED_DETAIL), request.url.path)
    return error_response(InvalidInput(_validation_errors(exc)), request.url.path)


def _validation_errors(exc: RequestValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors():
        location, *loc = error["loc"] or ("body",)
        errors.append(
            FieldError(field=field_path(loc), location=str(location), message=error["msg"])
        )
    return errors


# What FastAPI raises when a body it reads as JSON is not text at all (not UTF-8).
_UNPARSABLE_BODY = "There was an error parsing the body"


async def _handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
        return error_response(MalformedBody(MALFORMED_DETAIL), request.url.path)
    detail = exc.detail if exc.detail != HTTPStatus(exc.status_code).phrase else None
    if exc.status_code == 404 and detail is None:
        detail = f"No resource at {request.url.path}."
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
        # The router only names the methods of the first route it matched; a path served by
        # several routes (GET and POST /criteria) must list them all.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    detail = detail or HTTPStatus(exc.status_code).description
    return problem_response(problem_of(exc.status_code, detail, request.url.path), headers)


def _allowed_methods(request: Request) -> list[str]:
    """The methods of every operation whose path matches, and of the routes the document
    leaves out (the documentation's own); HEAD wherever GET is (HeadAsGetMiddleware)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        # Templates hold only letters, "/", "_" and "{param}": no other regex syntax.
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, request.url.path):
            methods.update(method.upper() for method in operations)
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.matches(request.scope)[0] is not Match.NONE:
            methods.update(route.methods or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _handle_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Connection refused, pool exhausted, server gone: the client may retry later.
    # The class names only: a driver's message quotes the statement and its parameters,
    # which may hold profile data.
    cause = getattr(exc, "orig", None) or exc.__cause__
    logger.warning(
        "database unavailable on %s %s: %s%s",
        request.method,
        request.url.path,
        exc.__class__.__name__,
        f" ({cause.__class__.__name__})" if cause is not None else "",
    )
    error = ServiceUnavailable("The database is unavailable; retry shortly.")
    return error_response(error, request.url.path)


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    problem = problem_of(500, "An unexpected error occurred.", request.url.path)
    return problem_response(problem)


async def _handle_client_gone(request: Request, exc: Exception) -> Response:
    # The client went away while its body was read (or the body limit cut it off, and the
    # 413 is sent already): nobody is left to read an answer.
    logger.debug("client gone on %s %s", request.method, request.url.path)
    return Response(status_code=400)
