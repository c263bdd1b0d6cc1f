"""Reading the body of a batch: parsed a piece at a time, then checked for its shape.

A batch body may reach several MiB. Python's own parser builds it in one call that holds
the interpreter lock throughout (half a second for 4 MiB of small values), and no other
request could run meanwhile. ijson (with its C backend) parses it in pieces of `CHUNK`
bytes, each asked of a `read` written in Python: between two pieces, a worker thread
running this gives the event loop its turn. ijson also builds deeply nested values without
recursion, so such an item fails alone; a body nested far deeper than any item may be
(`jsonvalues.nests_deeper`) is refused before ijson, whose memory grows with the square of
the depth.
"""

import json
import re

import ijson
from pydantic import ValidationError

from app.errors import (
    JSON_ONLY_DETAIL,
    MALFORMED_DETAIL,
    InvalidInput,
    MalformedBody,
    UnsupportedMediaType,
    field_path,
)
from app.evaluations.models import BatchRequest
from app.jsonvalues import (
    BODY_TOO_DEEP_MESSAGE,
    INTEGER_OVERFLOW_MESSAGE,
    SURROGATE_MESSAGE,
    is_json_media_type,
    nests_deeper,
)

CHUNK = 16 * 1024


def read_batch(body: bytes, content_type: str | None) -> BatchRequest:
    """A batch body, its items as JSON values; 415 if not sent as JSON, 400 if not JSON,
    422 if not a batch (or if it holds an integer beyond 64 bits)."""
    if not body.strip():
        raise InvalidInput([("(root)", "Field required")])
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType(JSON_ONLY_DETAIL)
    body = _as_utf8(body)
    if nests_deeper(body):
        raise InvalidInput([("(root)", BODY_TOO_DEEP_MESSAGE)])
    if _has_lone_surrogate(body):
        raise InvalidInput([("(root)", f"holds a text that {SURROGATE_MESSAGE}")])
    try:
        (document,) = ijson.items(_Pieces(body), "", use_float=True, buf_size=CHUNK)
    except (ijson.JSONError, ValueError) as exc:
        # Strict JSON: NaN and Infinity, which Python's parser would read, are refused too.
        said = _reason(exc)
        if "integer overflow" in said:  # well-formed JSON, more than this parser reads
            raise InvalidInput([("(root)", INTEGER_OVERFLOW_MESSAGE)]) from exc
        raise MalformedBody(f"{MALFORMED_DETAIL[:-1]}: {said}.") from exc
    try:
        return BatchRequest.model_validate(document)
    except ValidationError as exc:
        raise InvalidInput(
            [(field_path(error["loc"]), error["msg"]) for error in exc.errors()]
        ) from exc


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE_PAIR = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _has_lone_surrogate(body: bytes) -> bool:
    """Whether a text escapes half of a surrogate pair (`"\\ud800"`): yajl would read it as
    `?`, so that two refs could become one. Escaped backslashes are no escapes; the pairs
    are removed, then any surrogate escape left is alone (a few ms for 2.5 MB of emoji)."""
    if _SURROGATE_ESCAPE.search(body) is None:
        return False
    unpaired = _SURROGATE_PAIR.sub(b"", body.replace(b"\\\\", b"  "))
    return _SURROGATE_ESCAPE.search(unpaired) is not None


def _as_utf8(body: bytes) -> bytes:
    """The body in UTF-8 without a byte order mark, as POST /evaluate's parser reads any
    of the encodings JSON allows (RFC 8259 §8.1: UTF-8, -16 or -32)."""
    encoding = json.detect_encoding(body)
    if encoding == "utf-8":
        return body
    try:
        return body.decode(encoding).encode()
    except UnicodeError as exc:
        raise MalformedBody(MALFORMED_DETAIL) from exc


def _reason(exc: Exception) -> str:
    """What yajl found wrong, in its first line, without the excerpt of the body."""
    text = str(exc)
    if text.startswith(("b'", 'b"')):  # yajl's message as a bytes object
        text = text[2:-1].encode().decode("unicode_escape", "replace")
    said = text.splitlines()[0].rstrip(".") if text else "it ends too soon"
    if "invalid char" in said:
        return f"{said} (NaN and Infinity are not JSON numbers; texts are quoted)"
    return said


class _Pieces:
    """`body` as a file, read a piece at a time by Python code.

    A file implemented in C (io.BytesIO) would let ijson parse the whole body without once
    running Python code, so without once letting another thread run.
    """

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._at = 0

    def read(self, size: int) -> bytes:
        piece = self._body[self._at : self._at + size]
        self._at += len(piece)
        return piece
