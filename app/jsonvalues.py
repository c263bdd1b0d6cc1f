"""Checks on the free-form JSON a client sends: profile attributes, rule trees, params.

Three kinds of value are refused before anything is stored or judged:
- text holding U+0000, which PostgreSQL cannot store (refused on every backend alike);
- numbers JSON does not have (`NaN`, `Infinity`, `-Infinity`): Python's parser reads them,
  but they cannot be stored as JSON and would come back as null;
- objects and lists nested deeper than `MAX_DEPTH` levels: serialisers and recursive code
  fail long before the JSON parser's own limit.

The walk is iterative, so no input can exhaust the stack.
"""

import math
from typing import Any

from pydantic import ConfigDict

MAX_DEPTH = 32
NUL_MESSAGE = "must not contain the character U+0000"
NON_FINITE_MESSAGE = "NaN and Infinity are not JSON numbers; send a finite number or null"
TOO_DEEP_MESSAGE = f"nested deeper than {MAX_DEPTH} levels of objects and lists"

Location = tuple[str | int, ...]

# The configuration of every request model: unknown fields are refused, and so are numbers
# JSON does not have in the model's own number fields.
REQUEST_MODEL = ConfigDict(extra="forbid", allow_inf_nan=False)


def find_problem(value: Any, loc: Location = ()) -> tuple[Location, str] | None:
    """A value in `value` that cannot be accepted, with where it is and why; None if all can.

    `value` itself, if an object or a list, is the first level of nesting.
    """
    stack: list[tuple[Any, Location, int]] = [(value, loc, 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where, NUL_MESSAGE
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
                stack.append((child, (*where, key), depth + 1))
    return None
