"""Free-form JSON checks (app.jsonvalues): the quick walk and the locating one agree; JSON
media types are recognised as FastAPI recognises them."""

import email.message
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.jsonvalues import (
    MAX_DEPTH,
    NON_FINITE_MESSAGE,
    NUL_MESSAGE,
    TOO_DEEP_MESSAGE,
    find_problem,
    is_json_media_type,
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and infinities included
    st.text(alphabet=st.sampled_from("ab\x00é")),
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.sampled_from("k\x00"), max_size=2), children, max_size=3
        )
    ),
    max_leaves=40,
)


def refused(value: Any, depth: int = 1) -> bool:
    """The rule, written as plainly as possible."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return depth > MAX_DEPTH or any(
            "\x00" in key or refused(child, depth + 1) for key, child in value.items()
        )
    if isinstance(value, list):
        return depth > MAX_DEPTH or any(refused(child, depth + 1) for child in value)
    return False


def count(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(count(child) for child in value.values())
    if isinstance(value, list):
        return 1 + sum(count(child) for child in value)
    return 1


@settings(max_examples=500, deadline=None)
@given(values)
def test_a_value_is_refused_exactly_when_it_breaks_a_rule(value: Any) -> None:
    assert (find_problem(value) is not None) is refused(value)


@settings(max_examples=300, deadline=None)
@given(values, st.integers(min_value=1, max_value=30))
def test_the_value_count_is_every_text_number_object_and_list(value: Any, limit: int) -> None:
    found = find_problem(value, ("x",), max_values=limit)

    if count(value) > limit and not refused(value):
        assert found is not None
        assert found[1].startswith(f"holds more than {limit:,} values")
    elif count(value) <= limit:
        assert (found is not None) is refused(value)


@pytest.mark.parametrize(
    ("value", "where", "message"),
    [
        ({"a": [1, "x\x00"]}, ("r", "a", 1), NUL_MESSAGE),
        ({"a\x00": 1}, ("r", "a\x00"), NUL_MESSAGE),
        ([1.5, float("-inf")], ("r", 1), NON_FINITE_MESSAGE),
        ({"a": {"b": math.nan}}, ("r", "a", "b"), NON_FINITE_MESSAGE),
    ],
)
def test_a_refused_value_is_located(value: Any, where: tuple[Any, ...], message: str) -> None:
    assert find_problem(value, ("r",)) == (where, message)


def test_nesting_is_bounded_without_recursion() -> None:
    value: Any = 1
    for _ in range(100_000):
        value = [value]

    found = find_problem(value, ("r",))

    assert found == (("r", *[0] * MAX_DEPTH), TOO_DEEP_MESSAGE)


def _email_reads_json(content_type: str) -> bool:
    """How FastAPI decides that a body is JSON: the standard library's email parser."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        " application/json ;charset=latin-1",
        "application/merge-patch+json",
        "application/problem+json; q=1",
        "application/vnd.api+json",
        "application/jsonx",
        "application/json-seq",
        "text/json",
        "text/plain",
        "json",
        "application",
        "application/",
        "/json",
        "application/a/b+json",
        "application/json/",
        "",
        ";application/json",
        "multipart/form-data; boundary=x",
    ],
)
def test_json_media_types_are_read_as_fastapi_reads_them(content_type: str) -> None:
    assert is_json_media_type(content_type) is _email_reads_json(content_type)


def test_no_content_type_is_not_json() -> None:
    assert is_json_media_type(None) is False
