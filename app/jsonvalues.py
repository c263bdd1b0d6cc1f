"""Checks on the free-form JSON a client sends: profile attributes, rule trees, params.

Three kinds of value are refused before anything is stored or judged:
- text holding U+0000, which PostgreSQL cannot store (refused on every backend alike), or
  a lone surrogate (`"\ud800"`), which JSON's escapes allow but no UTF-8 text can hold;
- numbers JSON does not have (`NaN`, `Infinity`, `-Infinity`): Python's parser reads them,
  but they cannot be stored as JSON and would come back as null;
- objects and lists nested deeper than `MAX_DEPTH` levels: serialisers and recursive code
  fail long before the JSON parser's own limit;
- where a caller gives a `max_values`, more values than that (every text, number, object
  and list counts one): copying and serialising them holds the interpreter, and a profile
  of two million numbers would hold it for a quarter of a second.

The walk is iterative, so no input can exhaust the stack. Before any parser sees a body,
`nests_deeper` bounds its nesting as a whole: Python's parser recurses (a 2 KB body of
a thousand brackets would exhaust it) and ijson keeps each value's path, so its memory
grows with the square of the depth (60 KB of brackets would take gigabytes).
"""

import math
from array import array
from itertools import accumulate
from typing import Any

from pydantic import ConfigDict
from pydantic_core import PydanticCustomError

MAX_DEPTH = 32
MAX_PROFILE_VALUES = 10_000  # in the attributes of one evaluation request
NUL_MESSAGE = "must not contain the character U+0000"
SURROGATE_MESSAGE = "must be valid Unicode: a lone surrogate (such as \\ud800) is not"
NON_FINITE_MESSAGE = "NaN and Infinity are not JSON numbers; send a finite number or null"
TOO_DEEP_MESSAGE = f"nested deeper than {MAX_DEPTH} levels of objects and lists"
# A whole body's bound, checked before it is parsed: below it, a value nested too deeply is
# refused by its field (MAX_DEPTH); beyond, the body is refused as a whole, before Python's
# parser would run out of stack (at about 900 levels) and ijson out of memory.
BODY_MAX_DEPTH = 512
BODY_TOO_DEEP_MESSAGE = f"nested deeper than {BODY_MAX_DEPTH} levels of objects and lists"
# Integers a body may hold: a batch's parser (yajl) reads 64 bits; Python's, 4,300 digits.
INTEGER_OVERFLOW_MESSAGE = (
    "holds an integer beyond 64 bits (-9223372036854775807 to 9223372036854775807), which a "
    "batch cannot carry: send it as a decimal (1e30), or through POST /evaluate"
)
LONG_INTEGER_MESSAGE = "holds an integer of more than 4,300 digits: send such a number as text"
_STRUCTURE = b'"[]{}'
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)
# Each bracket as a signed byte: +1 opens, -1 (0xFF) closes.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_ROUNDS = 4
_PIECE = 64 * 1024

Location = tuple[str | int, ...]

# The configuration of every request model: unknown fields are refused, and so are numbers
# JSON does not have in the model's own number fields.
REQUEST_MODEL = ConfigDict(extra="forbid", allow_inf_nan=False)


def storable_text(text: str) -> str:
    """A pydantic AfterValidator for a text no database may refuse: no U+0000 (PostgreSQL
    cannot store it), no lone surrogate (not Unicode)."""
    found = find_problem(text)
    if found is not None:
        raise PydanticCustomError("string_unstorable", found[1])
    return text


def is_json_media_type(content_type: str | None) -> bool:
    """Whether a Content-Type is JSON: `application/json` or `application/*+json`.

    Read as the standard library's email parser (and so FastAPI) reads it: parameters
    dropped, case ignored, and anything but one `type/subtype` taken for `text/plain`.
    """
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    if media.count("/") != 1:
        return False
    maintype, subtype = media.split("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


# A criteria set's content is hashed as RFC 8785 JSON, which holds integers of I-JSON's
# range alone (RFC 7493: what an IEEE double holds exactly).
MAX_SAFE_INTEGER = 2**53 - 1
WIDE_INTEGER_MESSAGE = (
    f"an integer beyond ±{MAX_SAFE_INTEGER:,} (2^53 - 1), more than a set's canonical JSON "
    "holds exactly: send it as a decimal (1e16)"
)


def find_wide_integer(value: Any, loc: Location = ()) -> Location | None:
    """Where `value` holds an integer beyond ±MAX_SAFE_INTEGER; None if it holds none.
    Iterative, as find_problem; booleans are not integers here."""
    stack: list[tuple[Any, Location]] = [(value, loc)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, int) and not isinstance(item, bool):
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                return where
        elif isinstance(item, dict | list):
            children = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((child, (*where, key)) for key, child in reversed(list(children)))
    return None


def nests_deeper(body: bytes, limit: int = BODY_MAX_DEPTH) -> bool:
    """Whether the JSON text `body` opens more than about `limit` objects and lists inside
    one another, found without parsing it, in steps of C work between which other threads
    run: escapes and strings dropped, the innermost pairs of brackets removed a few times
    (which empties an ordinary body: a few milliseconds for a 4 MiB batch), then what is
    left counted a piece at a time (at most about 200 ms for 4 MiB of brackets).

    The pairs removed first hide a few levels (`_ROUNDS` to twice as many), so a body up
    to that much deeper than `limit` passes. Brackets that do not balance are the parser's
    to refuse: the count stops once more have closed than opened.
    """
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(unescaped.translate(None, _NOT_STRUCTURE).split(b'"')[::2])
    for _ in range(_ROUNDS):
        brackets = brackets.replace(b"[]", b"").replace(b"{}", b"")
    depth = 0
    for start in range(0, len(brackets), _PIECE):
        steps = array("b", brackets[start : start + _PIECE].translate(_STEPS))
        if max(accumulate(steps, initial=depth)) > limit:
            return True
        depth += sum(steps)
        if depth < 0:
            return False
    return False


def find_problem(
    value: Any, loc: Location = (), max_values: int | None = None
) -> tuple[Location, str] | None:
    """A value in `value` that cannot be accepted, with where it is and why; None if all can.

    `value` itself, if an object or a list, is the first level of nesting. The walk stops
    at `max_values` values, so it is bounded too.
    """
    if not _is_refused(value, max_values):
        return None
    # Something is wrong: walk again, keeping track of where, to say which value it is.
    stack: list[tuple[Any, Location, int]] = [(value, loc, 1)]
    seen = 0
    while stack:
        item, where, depth = stack.pop()
        seen += 1
        if max_values is not None and seen > max_values:
            return loc, f"holds more than {max_values:,} values (texts, numbers, objects, lists)"
        if isinstance(item, str):
            if "\x00" in item:
                return where, NUL_MESSAGE
            if not _is_unicode(item):
                return where, SURROGATE_MESSAGE
        elif isinstance(item, float):
            if not math.isfinite(item):
                return where, NON_FINITE_MESSAGE
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return where, TOO_DEEP_MESSAGE
            children = list(item.items() if isinstance(item, dict) else enumerate(item))
            for key, child in reversed(children):
                if isinstance(key, str) and "\x00" in key:
                    return (*where, key), NUL_MESSAGE
                if isinstance(key, str) and not _is_unicode(key):
                    return (*where, key), SURROGATE_MESSAGE
                stack.append((child, (*where, key), depth + 1))
    return None


_INFINITY = math.inf


def _is_refused(value: Any, max_values: int | None) -> bool:
    """Whether `find_problem` would find something: the same walk, without locations.

    Written for speed, as it sees every value of every request: scalars are judged where
    they are met rather than stacked, and numbers, booleans and null not at all.
    """
    if not isinstance(value, dict | list):
        if isinstance(value, str):
            return "\x00" in value or not _is_unicode(value)
        return isinstance(value, float) and not math.isfinite(value)
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen = 1  # `value`; each container adds its children
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        seen += len(item)
        if max_values is not None and seen > max_values:
            return True
        if type(item) is dict:
            if any("\x00" in key or not _is_unicode(key) for key in item):
                return True
            children = item.values()
        else:
            children = item
        for child in children:
            kind = type(child)
            if kind is str:
                if "\x00" in child or not _is_unicode(child):
                    return True
            elif kind is float:
                if child != child or child == _INFINITY or child == -_INFINITY:
                    return True
            elif kind is dict or kind is list:
                stack.append((child, depth + 1))
    return False


def _is_unicode(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (a lone surrogate cannot)."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
