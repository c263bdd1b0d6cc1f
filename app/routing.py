"""Checks that run once a request is routed, before its body is read.

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


class GatedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        gates = list(dict.fromkeys(_gates(self.dependant)))
        if not gates:
            return handler

        async def gated(request: Request) -> Response:
            async with AsyncExitStack() as stack:
                for gate in gates:
                    await stack.enter_async_context(gate.admit(request))
                return await handler(request)

        return gated
