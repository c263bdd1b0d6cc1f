"""Checks that run once a request is routed, before its body is read.

Unknown query parameters are refused there too.

FastAPI reads and parses a JSON body before it solves a route's dependencies, so no plain
dependency can refuse a request before its body is parsed: a caller with the wrong role
would learn from a 400 or 422 how its body was judged, and make the service parse it.

A `Gate` is a dependency that can. The routes of `GatedRoute` pass each request through
the gates their dependencies declare, in order, before the framework reads a byte of the
body; a gate refuses by raising a `ReflexeError`, and what it holds (a slot, say) is
released once the route has answered. When FastAPI then solves the dependencies, the gate
only returns what it admitted.

`LeanRoute` is a gated route for the hot path (POST /evaluate): FastAPI documents it from
the endpoint's signature as usual, but the route solves that signature itself, without
the framework's per-request walk of the dependency tree.
"""

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

from fastapi._compat import ModelField
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.params import Header
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from app.errors import (
    CODING_DETAIL,
    JSON_ONLY_DETAIL,
    MALFORMED_DETAIL,
    InvalidInput,
    MalformedBody,
    UnsupportedMediaType,
)
from app.jsonvalues import (
    BODY_TOO_DEEP_MESSAGE,
    LONG_INTEGER_MESSAGE,
    is_json_media_type,
    nests_deeper,
)
from app.problems import problem_responses

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class Gate(ABC):
    """A dependency whose `admit` runs before the request body is read."""

    @abstractmethod
    def admit(self, request: Request) -> AbstractAsyncContextManager[None]:
        """Refuse the request (raise), or hold what it needs until it is answered."""

    def provide(self, request: Request) -> Any:
        """What the dependency gives the endpoint once `request` is admitted."""
        return None


@asynccontextmanager
async def admitted() -> AsyncIterator[None]:
    """An admission that holds nothing, for gates that only check."""
    yield


def _gates(dependant: Dependant) -> Iterator[Gate]:
    for dependency in dependant.dependencies:
        yield from _gates(dependency)
        if isinstance(dependency.call, Gate):
            yield dependency.call


def _query_parameters(dependant: Dependant) -> Iterator[str]:
    yield from (field.alias for field in dependant.query_params)
    for dependency in dependant.dependencies:
        yield from _query_parameters(dependency)


class GatedRoute(APIRoute):
    """A route that passes requests through its gates first, and refuses unknown query
    parameters (a misspelled filter would otherwise be ignored, and match everything).
    A route with a JSON body documents its 415, for a body sent as anything else."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self.body_field is not None:
            self.responses = {**self.responses, **problem_responses(415)}

    def get_route_handler(self) -> Handler:
        handler = self.admitted_handler()
        gates = list(dict.fromkeys(_gates(self.dependant)))
        known = frozenset(_query_parameters(self.dependant))
        reads_json = self.body_field is not None

        async def gated(request: Request) -> Response:
            async with AsyncExitStack() as stack:
                for gate in gates:
                    await stack.enter_async_context(gate.admit(request))
                unknown = [
                    name
                    for name in (request.query_params if request.scope["query_string"] else ())
                    if name not in known
                ]
                if unknown:
                    raise InvalidInput(
                        [(name, _unknown_parameter(known)) for name in dict.fromkeys(unknown)],
                        location="query",
                    )
                _check_repeated(request)
                _check_coding(request)
                if reads_json:
                    await _check_body(request)
                return await handler(request)

        return gated

    def admitted_handler(self) -> Handler:
        """What answers a request once its gates admitted it: FastAPI's own handler."""
        return super().get_route_handler()


class LeanRoute(GatedRoute):
    """A gated route whose endpoint takes only what the hot path needs, solved directly.

    The endpoint may take the request, gate dependencies (each gives what its `provide`
    returns), header parameters and one JSON body, and must return a `Response`. Headers
    and body are validated with the very fields FastAPI built from the signature, so the
    OpenAPI document and every error (location, message) are those of a plain route. Any
    other kind of parameter is refused when the route is built.
    """

    def admitted_handler(self) -> Handler:
        dependant = self.dependant
        if dependant.path_params or dependant.query_params or dependant.cookie_params:
            raise TypeError(f"{self.path}: a lean route takes no path, query or cookie values")
        provided: list[tuple[str, Gate]] = []
        for dependency in dependant.dependencies:
            if not isinstance(dependency.call, Gate) or dependency.name is None:
                raise TypeError(f"{self.path}: a lean route's dependencies must be gates")
            provided.append((dependency.name, dependency.call))
        headers = [(field, _header_name(field)) for field in dependant.header_params]
        body_field = self.body_field
        if body_field is not None and not body_field.field_info.is_required():
            raise TypeError(f"{self.path}: a lean route's body is required")
        body_name = dependant.body_params[0].name if body_field is not None else None
        request_name = dependant.request_param_name
        endpoint = self.endpoint

        async def lean(request: Request) -> Response:
            values: dict[str, Any] = {}
            errors: list[Any] = []
            for field, name in headers:
                value = request.headers.get(name)
                if value is not None:
                    values[field.name], found = field.validate(value, loc=("header", name))
                    errors += found
                elif field.field_info.is_required():
                    errors.append(
                        {"type": "missing", "loc": ("header", name), "msg": "Field required"}
                    )
                else:
                    values[field.name] = field.default
            if body_field is not None and not errors:
                data = await _json_body(request)
                if data is None:
                    errors = [{"type": "missing", "loc": ("body",), "msg": "Field required"}]
                else:
                    values[body_name], errors = body_field.validate(data, loc=("body",))  # type: ignore[index]
            if errors:
                raise RequestValidationError(errors)
            for name, gate in provided:
                values[name] = gate.provide(request)
            if request_name is not None:
                values[request_name] = request
            response: Response = await endpoint(**values)
            return response

        return lean


def _header_name(field: ModelField) -> str:
    """The header a parameter reads, as FastAPI names it (`x_token` reads `x-token`)."""
    info = field.field_info
    assert isinstance(info, Header)
    if info.convert_underscores and field.alias == field.name:
        return field.alias.replace("_", "-")
    return field.alias


async def _json_body(request: Request) -> Any:
    """The body as FastAPI reads it: JSON when declared so, the bytes otherwise.

    An empty body is missing (None, refused by a required field); bytes that do not parse
    are a `json_invalid` error at their position, as FastAPI reports it.
    """
    body = await request.body()
    if not body:
        return None
    if not is_json_media_type(request.headers.get("content-type")):
        return body
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
        raise RequestValidationError([{**error, "input": {}, "ctx": {"error": exc.msg}}]) from exc
    except UnicodeDecodeError as exc:  # not UTF-8, -16 or -32 text, which JSON must be
        raise MalformedBody(MALFORMED_DETAIL) from exc
    except ValueError as exc:  # an integer longer than Python converts
        raise InvalidInput([("(root)", LONG_INTEGER_MESSAGE)]) from exc


def _check_repeated(request: Request) -> None:
    """422 for a query parameter given twice: every one takes one value, and the router
    would silently keep the last (`?decision=accept&decision=decline` lists declines)."""
    if not request.scope["query_string"]:
        return
    params = request.query_params
    repeated = [name for name in dict.fromkeys(params) if len(params.getlist(name)) > 1]
    if repeated:
        raise InvalidInput(
            [(name, f"given {len(params.getlist(name))} times: give it once") for name in repeated],
            location="query",
        )


def _check_coding(request: Request) -> None:
    """415 for a body in a content coding (gzip...): bodies are read as they are sent."""
    coding = request.headers.get("content-encoding")
    if coding is not None and coding.strip().lower() not in ("", "identity"):
        raise UnsupportedMediaType(CODING_DETAIL, headers={"Accept-Encoding": "identity"})


async def _check_body(request: Request) -> None:
    """415 for a body that is not sent as JSON (an empty one is missing: the body field
    says so); 422 for one nested too deeply for any parser to be given it (app.jsonvalues)."""
    body = await request.body()
    if not is_json_media_type(request.headers.get("content-type")):
        if body:
            raise UnsupportedMediaType(JSON_ONLY_DETAIL)
    elif nests_deeper(body):
        raise InvalidInput([("(root)", BODY_TOO_DEEP_MESSAGE)])


def _unknown_parameter(known: frozenset[str]) -> str:
    if not known:
        return "unknown query parameter: this endpoint takes none"
    return f"unknown query parameter: this endpoint takes {', '.join(sorted(known))}"


# If-Match is read as optional, so that its absence is answered 428 Precondition Required
# rather than the framework's 422, and documented by hand as the required header it is
# (app.etags.if_match_docs).
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=512, include_in_schema=False)]
