"""Webhook attempts over HTTP/1.1: a POST, its answer's status, nothing else.

Connections are kept alive per origin (scheme, host, port) and used by one attempt at a
time; a kept connection the target closed meanwhile is replaced once, transparently. No
redirect is followed (the answer's `Location` is reported), no proxy is read from the
environment, and one deadline bounds the whole attempt: connecting, sending, the answer.

Why not httpx: sending a delivery is the hot path of an active subscription, and httpx
with httpcore spends about ten times the CPU of this module on a POST to a local receiver
(about 750 µs against 70 µs on the benchmark machine; bench/RESULTS.md). The answer is
parsed by httptools (llhttp), which uvicorn already brings.
"""

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio
import httptools

Origin = tuple[str, str, int]
CLOSE_SECONDS = 1.0  # how long closing the idle connections waits for TLS goodbyes


class Unanswered(Exception):
    """The target gave no answer: it could not be reached, or closed the connection."""


class TimedOut(Unanswered):
    """No complete answer before the deadline."""


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    location: str | None  # of a redirect, which is not followed


class _Stale(Exception):
    """A kept-alive connection closed by the target before it answered anything."""


class _Response:
    """httptools' callbacks: the status, `Location`, whether the connection may serve
    another request (known once the head is read: llhttp forgets it with the message),
    and whether the answer is whole."""

    __slots__ = ("complete", "headers_complete", "keep_alive", "location", "parser")

    def __init__(self) -> None:
        self.complete = False
        self.headers_complete = False
        self.keep_alive = False
        self.location: str | None = None
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"location":
            self.location = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.headers_complete = True
        self.keep_alive = self.parser.should_keep_alive()

    def on_message_complete(self) -> None:
        self.complete = True


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Sender:
    """Per delivery worker: kept-alive connections, at most `keep` idle per origin."""

    def __init__(self, timeout: float, keep: int = 8) -> None:
        self._timeout = timeout
        self._keep = keep
        self._idle: dict[Origin, list[Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(self, url: str, body: bytes, headers: list[tuple[str, str]]) -> Answer:
        """POST `body` to `url`; Unanswered (TimedOut) if no answer came."""
        parts = urlsplit(url)
        https = parts.scheme == "https"
        origin = (parts.scheme, parts.hostname or "", parts.port or (443 if https else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = f"POST {target} HTTP/1.1\r\nhost: {parts.netloc}\r\ncontent-length: {len(body)}\r\n"
        request = (head + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode() + body
        try:
            async with asyncio.timeout(self._timeout):
                return await self._exchange(origin, request)
        except TimeoutError:
            raise TimedOut("timed out") from None
        except (OSError, UnicodeError, httptools.HttpParserError) as exc:
            raise Unanswered(f"{exc.__class__.__name__}: {exc}") from None

    async def _exchange(self, origin: Origin, request: bytes) -> Answer:
        while True:
            reused, connection = await self._connection(origin)
            try:
                answer, keep = await _round_trip(connection, request, reused)
            except _Stale:
                _abort(connection)
                continue  # a new connection is not reused: _Stale happens once at most
            except BaseException:  # a timeout, a reset, a cancellation: never reused
                _abort(connection)
                raise
            idle = self._idle.setdefault(origin, [])
            if keep and len(idle) < self._keep:
                idle.append(connection)
            else:
                _close(connection)
            return answer

    async def _connection(self, origin: Origin) -> tuple[bool, Connection]:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if not connection[0].at_eof() and not connection[1].is_closing():
                return True, connection
            _close(connection)
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        return False, await asyncio.open_connection(
            host, port, ssl=tls, server_hostname=host if tls else None
        )

    async def close(self) -> None:
        """Close the idle connections, waiting a moment for TLS to say goodbye: a TLS
        connection closes only once its shutdown is exchanged, which needs the event loop,
        and one still open when the loop ends would be left to the garbage collector."""
        idle = [connection for connections in self._idle.values() for connection in connections]
        self._idle.clear()
        for connection in idle:
            _close(connection)
        waits = [connection[1].wait_closed() for connection in idle]
        with anyio.move_on_after(CLOSE_SECONDS):
            await asyncio.gather(*waits, return_exceptions=True)
        for connection in idle:
            _abort(connection)  # what did not close in time; nothing for what did


async def _round_trip(connection: Connection, request: bytes, reused: bool) -> tuple[Answer, bool]:
    reader, writer = connection
    try:
        writer.write(request)
        await writer.drain()
    except ConnectionError:
        if reused:
            raise _Stale from None
        raise
    response = _Response()
    parser = response.parser
    received = False
    while not response.complete:
        try:
            data = await reader.read(65536)
        except ConnectionError:
            if reused and not received:
                raise _Stale from None
            raise
        if not data:
            if response.headers_complete:  # an answer whose body ends with the connection
                return Answer(parser.get_status_code(), response.location), False
            if reused and not received:
                raise _Stale
            raise ConnectionResetError("the target closed the connection before answering")
        received = True
        parser.feed_data(data)
    return Answer(parser.get_status_code(), response.location), response.keep_alive


def _close(connection: Connection) -> None:
    """Close a connection that was answered on: TLS sends its goodbye first."""
    connection[1].close()


def _abort(connection: Connection) -> None:
    """Drop a connection at once, for one that failed or was cancelled: nothing is left
    to close later, in TLS either."""
    connection[1].transport.abort()
