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
"""

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from app.errors import InvalidInput


class Gate(ABC):
    """A dependency whose `admit` runs before the request body is read."""

    @abstractmethod
    def admit(self, request: Request) -> AbstractAsyncContextManager[None]:
        """Refuse the request (raise), or hold what it needs until it is answered."""


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
    parameters (a misspelled filter would otherwise be ignored, and match everything)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        gates = list(dict.fromkeys(_gates(self.dependant)))
        known = frozenset(_query_parameters(self.dependant))

        async def gated(request: Request) -> Response:
            async with AsyncExitStack() as stack:
                for gate in gates:
                    await stack.enter_async_context(gate.admit(request))
                unknown = [name for name in request.query_params if name not in known]
                if unknown:
                    raise InvalidInput(
                        [(name, _unknown_parameter(known)) for name in dict.fromkeys(unknown)],
                        location="query",
                    )
                return await handler(request)

        return gated


def _unknown_parameter(known: frozenset[str]) -> str:
    if not known:
        return "unknown query parameter: this endpoint takes none"
    return f"unknown query parameter: this endpoint takes {', '.join(sorted(known))}"
