"""What the HTTP server must refuse before the application sees a request.

uvicorn parses requests with httptools (llhttp), which holds a request's head (its request
line and headers) in memory until the head is complete, however long it grows: a client
could send a header of 50 MB before the application saw a byte. `BoundedHttpToolsProtocol`
counts the bytes of each head as they arrive and answers 431 once they pass
`REFLEXE_MAX_HEADER_BYTES`, then closes the connection. `reflexe serve` runs uvicorn with
it; with uvicorn's other parser, h11, `h11_max_incomplete_event_size` does the same (400).
"""

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.errors import HeadersTooLarge
from app.monitoring.requestids import REQUEST_ID_HEADER, new_request_id
from app.settings import get_settings


def _refusal(limit: int) -> bytes:
    error = HeadersTooLarge(f"The request's line and headers are larger than {limit} bytes.")
    # A new id: the head that would carry the caller's own is what is refused.
    request_id = new_request_id()
    problem = error.problem().model_copy(update={"request_id": request_id})
    body = problem.model_dump_json(exclude_none=True).encode()
    return b"".join(
        [
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
            b"content-type: application/problem+json\r\n",
            f"{REQUEST_ID_HEADER}: {request_id}\r\n".encode(),
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head over the limit."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head over the configured size.

    Two counts, because the parser reports a header only once it is whole: the bytes of
    every read that ends inside a head (a head that never ends is refused as it grows),
    and the bytes of the request line and headers the parser has reported (a head that
    arrives in one read).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_limit = get_settings().max_header_bytes
        self._in_head = True
        self._read_in_head = 0  # bytes of the reads that ended inside the current head
        self._parsed_head = 0  # bytes of the current head the parser has reported
        self._heads = 0  # heads completed on this connection
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        was_in_head, heads_before = self._in_head, self._heads
        super().data_received(data)
        # Only a read that began and ended inside one head counts: bytes that follow a head
        # (a body, a pipelined request) or end a message are not head.
        if was_in_head and self._in_head and self._heads == heads_before and not self._refused:
            self._read_in_head += len(data)
            if self._read_in_head > self._head_limit:
                self._refuse()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._parsed_head = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head, self._read_in_head = False, 0
        self._heads += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True  # the next bytes on this connection start a new request
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # The parser stopped because a callback refused the head: say why.
        if self._refused:
            self._refuse()
            return
        super().send_400_response(msg)

    def _count(self, size: int) -> None:
        self._parsed_head += size
        if self._parsed_head > self._head_limit:
            self._refused = True
            raise _HeadTooLarge  # the parser stops; uvicorn then calls send_400_response

    def _refuse(self) -> None:
        self._refused = True
        self.logger.warning("Request head over %d bytes refused.", self._head_limit)
        self.transport.write(_refusal(self._head_limit))
        self.transport.close()
