"""The error tree and its rendering as RFC 9457 problem details (application/problem+json).

Services and the engine raise `ReflexeError` subclasses; the handlers installed by
`install_error_handlers` turn them, framework errors and anything unexpected into
problem documents. No traceback ever reaches a client.
"""

import logging
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
MALFORMED_DETAIL = "The request body is not valid JSON."


class FieldError(BaseModel):
    field: str = Field(description="Path of the faulty field, e.g. `criteria[1].key`.")
    location: str = Field(description="Where the field is: body, query, path or header.")
    message: str = Field(description="What is wrong with it.")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(description="A URI that identifies the kind of problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong on this request.")
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[FieldError] | None = Field(
        default=None, description="For validation problems: every faulty field."
    )


class ReflexeError(Exception):
    """Base of every error a client can cause or be told about."""

    status_code = 500
    problem_type = "about:blank"
    title = "Internal Server Error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}

    def errors(self) -> list[FieldError] | None:
        return None

    def problem(self, instance: str | None = None) -> "Problem":
        return Problem(
            type=self.problem_type,
            title=self.title,
            status=self.status_code,
            detail=self.detail,
            instance=instance,
            errors=self.errors(),
        )


class Unauthorized(ReflexeError):
    """No API key, or one that is unknown or revoked (RFC 6750's challenge included)."""

    status_code = 401
    problem_type = "urn:reflexe:problem:unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str, *, invalid_token: bool = False) -> None:
        challenge = 'Bearer realm="reflexe"'
        if invalid_token:
            challenge += ', error="invalid_token"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(ReflexeError):
    status_code = 403
    problem_type = "urn:reflexe:problem:forbidden"
    title = "Forbidden"


class NotFound(ReflexeError):
    status_code = 404
    problem_type = "urn:reflexe:problem:not-found"
    title = "Not found"


class Conflict(ReflexeError):
    status_code = 409
    problem_type = "urn:reflexe:problem:conflict"
    title = "Conflict"


class CriteriaSetArchived(Conflict):
    problem_type = "urn:reflexe:problem:criteria-set-archived"
    title = "Criteria set archived"


class PreconditionRequired(ReflexeError):
    status_code = 428
    problem_type = "urn:reflexe:problem:precondition-required"
    title = "Precondition required"


class PreconditionFailed(ReflexeError):
    status_code = 412
    problem_type = "urn:reflexe:problem:precondition-failed"
    title = "Precondition failed"


class MalformedBody(ReflexeError):
    """A request body that is not JSON at all (as opposed to JSON of the wrong shape)."""

    status_code = 400
    problem_type = "urn:reflexe:problem:malformed-json"
    title = "Malformed JSON"


class PayloadTooLarge(ReflexeError):
    status_code = 413
    problem_type = "urn:reflexe:problem:payload-too-large"
    title = "Payload too large"


class TooManyRequests(ReflexeError):
    status_code = 429
    problem_type = "urn:reflexe:problem:rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(ReflexeError):
    status_code = 503
    problem_type = "urn:reflexe:problem:unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class InvalidInput(ReflexeError):
    """Input that is well-formed but breaks a rule; names every faulty field."""

    status_code = 422
    problem_type = "urn:reflexe:problem:validation"
    title = "Invalid request"

    def __init__(self, field_errors: Sequence[tuple[str, str]], location: str = "body") -> None:
        self.field_errors = [
            FieldError(field=f, location=location, message=m) for f, m in field_errors
        ]
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.field_errors))

    def errors(self) -> list[FieldError]:
        return self.field_errors


def problem_response(
    status: int,
    detail: str,
    *,
    problem_type: str = "about:blank",
    title: str | None = None,
    instance: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=problem_type,
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance,
        errors=errors,
    )
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def field_path(loc: Sequence[str | int]) -> str:
    """Render a pydantic location ("criteria", 1, "key") as `criteria[1].key`.

    A name that is not valid Unicode (a lone surrogate sent as `\\ud800`) is shown escaped,
    so that the problem document naming it can be written.
    """
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        name = str(part).encode("utf-8", "backslashreplace").decode()
        path += f".{name}" if path else name
    return path or "(root)"


def _validation_errors(exc: RequestValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors():
        location, *loc = error["loc"] or ("body",)
        errors.append(
            FieldError(field=field_path(loc), location=str(location), message=error["msg"])
        )
    return errors


async def _handle_reflexe_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ReflexeError)
    return JSONResponse(
        exc.problem(request.url.path).model_dump(mode="json", exclude_none=True),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(error["type"] == "json_invalid" for error in exc.errors()):
        return await _handle_reflexe_error(request, MalformedBody(MALFORMED_DETAIL))
    errors = _validation_errors(exc)
    return problem_response(
        422,
        "; ".join(f"{e.field}: {e.message}" for e in errors),
        problem_type=InvalidInput.problem_type,
        title=InvalidInput.title,
        instance=request.url.path,
        errors=errors,
    )


async def _handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if exc.detail != HTTPStatus(exc.status_code).phrase else None
    if exc.status_code == 404 and detail is None:
        detail = f"No resource at {request.url.path}."
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
        # The router only names the methods of the first route it matched; a path served by
        # several routes (GET and POST /criteria) must list them all.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(
        exc.status_code,
        detail or HTTPStatus(exc.status_code).description,
        instance=request.url.path,
        headers=headers,
    )


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        # Templates hold only letters, "/", "_" and "{param}": no other regex syntax.
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, request.url.path):
            methods.update(method.upper() for method in operations)
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
    return await _handle_reflexe_error(
        request, ServiceUnavailable("The database is unavailable; retry shortly.")
    )


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "An unexpected error occurred.", instance=request.url.path)


# Connection refused, pool exhausted, server gone: a 503 the client may retry.
DATABASE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeoutError)


async def render_error(request: Request, exc: Exception) -> JSONResponse:
    """The problem document of a domain or database error, for code outside the handlers."""
    if isinstance(exc, ReflexeError):
        return await _handle_reflexe_error(request, exc)
    return await _handle_database_unavailable(request, exc)


async def _handle_client_gone(request: Request, exc: Exception) -> Response:
    # The client went away while its body was read (or the body limit cut it off, and the
    # 413 is sent already): nobody is left to read an answer.
    logger.debug("client gone on %s %s", request.method, request.url.path)
    return Response(status_code=400)


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
