"""ASGI middleware: request body limits, and the headers every response carries."""

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge
from app.problems import error_response

# OWASP's REST security headers. Answers are JSON: nothing in them may run, be framed or
# sniffed as another type. HSTS is ignored by browsers over plain HTTP, and kept once a TLS
# proxy fronts the service.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
# The interactive documentation is the one HTML the service serves: its own scripts and
# styles (and Swagger UI's inline start-up script) may run, nothing from elsewhere.
DOCUMENT_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src blob:; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """Add `SECURITY_HEADERS` to every response, keeping any a route set itself.

    `Cache-Control: no-store`: decisions and the log carry people's profile data, so no
    shared or browser cache may keep them.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", DOCUMENT_POLICY)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadAsGetMiddleware:
    """Answer HEAD on every route that takes GET as GET answers, without the body (RFC 9110
    §9.3.2: general-purpose servers must support HEAD). A route that declares HEAD itself
    (the health probes) answers it; any other route is not documented twice in OpenAPI.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes  # the app's own list: routers included later are in it too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or self._declares_head(scope):
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)

    def _declares_head(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] is Match.FULL for route in self.routes)


class BodyLimitMiddleware:
    """Refuse a request body over the limit with a 413 problem, declared or streamed.

    Nothing is buffered: the limit is checked as the route reads the body, so a request
    that is refused before (401, 403, a full batch queue) is answered without reading it.
    Past the limit the 413 is sent at once and the route sees the client gone. `max_bytes`
    applies everywhere but on the paths of `path_limits` and below them, which set their own.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, path_limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_of(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        # A length that is not a number cannot be trusted to bound the body.
        size = 0 if declared is None else int(declared) if declared.isdigit() else limit + 1
        started = refused = False

        async def receive_within_limit() -> Message:
            nonlocal size, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request" and declared is None:
                size += len(message.get("body", b""))
            if size > limit:
                refused = True
                if not started:
                    await self._refuse(scope, send, limit)
                return {"type": "http.disconnect"}
            return message

        async def send_unless_refused(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, receive_within_limit, send_unless_refused)

    def _limit_of(self, path: str) -> int:
        for prefix, limit in self.path_limits.items():
            if path == prefix or path.startswith(prefix + "/"):
                return limit
        return self.max_bytes

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        error = PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        error.headers["Connection"] = "close"  # the rest of the body stays unread
        response = error_response(error, scope.get("path"))

        async def nothing_to_receive() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing_to_receive, send)
