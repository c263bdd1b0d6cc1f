"""Request ids: the caller's own when it is sane, a new one otherwise; no web framework.

A sane id is 1 to 128 characters of `A-Z a-z 0-9 . _ : -`: what proxies and tracing
systems send (uuids, `$request_id`, W3C trace ids), and nothing that could split a log
line, forge a JSON field or a header. Any other value is replaced, silently: a warning per
request would let a client fill the logs.
"""

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.lower().encode()
_SANE = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")

# The id of the request being answered, for problem documents and log records.
current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    """A fresh id: a random uuid, as 32 hex digits."""
    return uuid.uuid4().hex


def request_id_of(sent: bytes | None) -> str:
    """The id to answer with, given the `X-Request-ID` header the caller sent (or None)."""
    if sent is not None and _SANE.fullmatch(sent):
        return sent.decode("ascii")
    return new_request_id()
