"""The outermost layer of every request: its id, its metrics, its access log line.

Pure ASGI, one layer for the three (each added layer costs every request a call and a
closure). asgi-correlation-id does the first alone; it logs a warning for every id it
refuses (a client could fill the logs with them) and would be a second layer around this
one. It wraps the whole stack, Starlette's ServerErrorMiddleware included (app.main), so
that a 500, and the 401, 413 and 429 answered before any route, carry the id too.
"""

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.monitoring.metrics import HTTP_DURATION, HTTP_REQUESTS
from app.monitoring.requestids import REQUEST_ID_HEADER_BYTES, current_request_id, request_id_of

access_logger = logging.getLogger("reflexe.access")

# Methods outside these are counted as "other": a label value a client chooses must not
# grow the metrics without bound.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
UNMATCHED = "unmatched"


class RequestContextMiddleware:
    """Give every answer an `X-Request-ID`, and count and log it once it is sent."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[BaseRoute],
        *,
        metrics: bool = True,
        access_log: bool = False,
    ) -> None:
        self.app = app
        self.routes = routes  # the router's own list: routes added later are seen
        self.metrics = metrics
        self.access_log = access_log
        # (method, route, status) -> the children of the counter and of the histogram.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER_BYTES:
                sent = value
                break
        request_id = request_id_of(sent)
        header = (REQUEST_ID_HEADER_BYTES, request_id.encode())
        token = current_request_id.set(request_id)
        status = 500  # if the app fails before it answers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
            if self.metrics or self.access_log:
                self._record(scope, status, time.perf_counter() - started, request_id)

    def _record(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        route = scope.get("route")
        template = getattr(route, "path", None) or self._template_of(scope)
        if self.metrics:
            key = (method, template, status)
            children = self._children.get(key)
            if children is None:
                labels = (method, template, str(status))
                children = HTTP_REQUESTS.labels(*labels), HTTP_DURATION.labels(*labels)
                self._children[key] = children
            children[0].inc()
            children[1].observe(seconds)
        if self.access_log:
            principal = scope.get("state", {}).get("principal")
            access_logger.info(
                "%s %s %d",
                method,
                template,
                status,
                extra={
                    "request_id": request_id,
                    "key_id": getattr(principal, "key_id", None),
                    "method": method,
                    "route": template,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                },
            )

    def _template_of(self, scope: Scope) -> str:
        """The route of a request answered before routing (401, 413, 429), or none (404)."""
        for route in _flat(self.routes):
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return getattr(route, "path", None) or UNMATCHED
        return UNMATCHED


def _flat(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes themselves, through the routers FastAPI includes (`original_router`)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _flat(included.routes)
        else:
            yield route
