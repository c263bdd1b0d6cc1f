"""Criterion rules: JSON condition trees compiled once into fast three-valued tests.

A tree is a group `{"all": [...]}`, `{"any": [...]}`, `{"not": {...}}` or a leaf
`{"attribute": "mutual_connections", "operator": "gte", "value": 5}`. A leaf whose
attribute is missing, null or of a type the operator cannot judge is unknown (None);
groups follow Kleene's three-valued logic. `compile_rule` checks a tree and reports every
problem with the path of the faulty node; the compiled `Rule` tests a profile and explains
which leaves decided the outcome.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import re2

from app.engine.text import KeywordSet, fold

Profile = Mapping[str, Any]
Verdict = bool | None
Test = Callable[[Profile], Verdict]
FieldProblem = tuple[str, str]

MAX_DEPTH = 8
MAX_LEAVES = 200
MAX_LIST = 500
MAX_TEXT = 200
MAX_PATTERN = 200
# RE2's own measure of a compiled expression: counted repetitions make it grow fast, and
# with it the time a search may take.
MAX_PROGRAM_SIZE = 2000
# Evidence quotes at most this much of an attribute's value; the stored inputs keep it all.
QUOTED_TEXT = 100
QUOTED_ITEMS = 10
# A leaf keeps the evidence of this many values it has seen (industries, counts, flags come
# back again and again), then starts over: memory stays flat over any number of profiles.
CACHED_EVIDENCE = 1024
# Reasons name at most this many keywords found (or missing), then say how many more.
NAMED_KEYWORDS = 5
OPERATORS = (
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "not_in",
    "contains_any",
    "contains_all",
    "matches",
    "exists",
)
_LEAF_FIELDS = frozenset({"attribute", "operator", "value", "reason"})
Comparison = Callable[[Any, Any], bool]
_COMPARISONS: dict[str, tuple[Comparison, str, str]] = {
    "lt": (lambda a, b: a < b, "less than", "not less than"),
    "lte": (lambda a, b: a <= b, "at most", "more than"),
    "gt": (lambda a, b: a > b, "more than", "not more than"),
    "gte": (lambda a, b: a >= b, "at least", "less than"),
}
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_OPTIONS.max_mem = 1 << 20


@dataclass(frozen=True, slots=True)
class Evidence:
    """One leaf that decided a criterion, with the value it saw."""

    attribute: str
    operator: str
    expected: Any
    param: str | None
    actual: Any
    result: Verdict
    reason: str
    actual_shortened: bool = False
    # The reason without the profile's value: what a minimised log keeps (app.privacy).
    masked_reason: str = ""


@dataclass(frozen=True, slots=True)
class Leaf:
    attribute: str
    operator: str
    expected: Any
    param: str | None
    reason: str | None
    read: Callable[[Profile], Any]
    test: Test
    keywords: KeywordSet | None = None
    target: str = field(init=False)
    _explained: dict[tuple[Any, ...], Evidence] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # How the expected value reads in reasons, worked out once at compile time.
        if self.param is None:
            target = _show(self.expected)
        elif isinstance(self.expected, list):
            target = self.param
        else:
            target = f"{_show(self.expected)} ({self.param})"
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "_explained", {})

    def explain(self, profile: Profile, result: Verdict) -> list[Evidence]:
        """Evidence for this leaf, whose verdict on `profile` is `result`."""
        actual = self.read(profile)
        key = _evidence_key(actual, result)
        if key is None:
            return [self._evidence(actual, result)]
        explained = self._explained
        evidence = explained.get(key)
        if evidence is None:
            evidence = self._evidence(actual, result)
            if len(explained) >= CACHED_EVIDENCE:
                explained.clear()
            explained[key] = evidence
        return [evidence]

    def judge(self, profile: Profile) -> tuple[Verdict, list[Evidence]]:
        """This leaf's verdict on `profile`, with its evidence."""
        verdict = self.test(profile)
        return verdict, self.explain(profile, verdict)

    def _evidence(self, actual: Any, result: Verdict) -> Evidence:
        if result is True and self.reason:
            reason = masked = self.reason  # the rule's own words
        else:
            reason = self._describe(actual, result)
            masked = self._describe(actual, result, show_value=False)
        quoted, shortened = quote(actual)
        return Evidence(
            self.attribute,
            self.operator,
            self.expected,
            self.param,
            quoted,
            result,
            reason,
            shortened,
            masked,
        )

    def _describe(self, actual: Any, result: Verdict, *, show_value: bool = True) -> str:
        """The verdict in words; without `show_value`, the profile's value is left out and
        only the rule's own values (thresholds, keywords, patterns) remain."""
        name, op = self.attribute, self.operator
        if op == "exists":
            present = actual is not None
            return f"{name} is {'present' if present else 'missing'}"
        if actual is None:
            return f"{name} is missing"
        seen = f"{name} is {_show(actual)}" if show_value else name
        target = self.target
        if result is None:
            return f"{seen}, which {op} cannot judge"
        if op in _COMPARISONS:
            held, failed = _COMPARISONS[op][1:]
            return f"{seen}, {held if result else failed} {target}"
        if op in ("eq", "ne"):
            equal = result is (op == "eq")
            return f"{seen}, {'equal to' if equal else 'not'} {target}"
        if op in ("in", "not_in"):
            member = result is (op == "in")
            return f"{seen}, {'one of' if member else 'not one of'} {target}"
        if op == "matches":
            return f"{seen}, {'matching' if result else 'not matching'} /{self.expected}/"
        assert self.keywords is not None
        hits = self.keywords.found(actual) or ()
        return f"{seen}, {_keyword_clause(self.keywords, op, target, result, hits)}"


@dataclass(frozen=True, slots=True)
class Group:
    kind: str  # "all", "any" or "not"
    children: tuple["Rule", ...]
    test: Test

    def explain(self, profile: Profile, verdict: Verdict) -> list[Evidence]:
        """The evidence of the children that decided `verdict`, this group's verdict."""
        if self.kind == "not":
            child = self.children[0]
            return child.explain(profile, None if verdict is None else not verdict)
        values = [child.test(profile) for child in self.children]
        return self._evidence(profile, values, verdict)

    def judge(self, profile: Profile) -> tuple[Verdict, list[Evidence]]:
        """This group's verdict on `profile`, with its evidence: each child is tested once."""
        if self.kind == "not":
            verdict, evidence = self.children[0].judge(profile)
            return (None if verdict is None else not verdict), evidence
        values = [child.test(profile) for child in self.children]
        # What `test` finds by short-circuiting, from every child's value (Kleene logic).
        decisive = self.kind == "any"
        verdict = decisive if decisive in values else None if None in values else not decisive
        return verdict, self._evidence(profile, values, verdict)

    def _evidence(
        self, profile: Profile, values: list[Verdict], verdict: Verdict
    ) -> list[Evidence]:
        everything = (self.kind == "all") is (verdict is True) and verdict is not None
        evidence: list[Evidence] = []
        for child, value in zip(self.children, values, strict=True):
            if everything or value is verdict:
                evidence.extend(child.explain(profile, value))
        return evidence


Rule = Leaf | Group


def leaves_of(rule: Rule) -> Iterator[Leaf]:
    """Every leaf of `rule`, in order."""
    if isinstance(rule, Leaf):
        yield rule
        return
    for child in rule.children:
        yield from leaves_of(child)


@dataclass
class _Compiler:
    params: Mapping[str, Any]
    problems: list[FieldProblem] = field(default_factory=list)
    leaves: int = 0

    def rule(self, node: Any, path: str, depth: int = 1) -> Rule | None:
        if depth > MAX_DEPTH:
            return self._fail(path, f"nested deeper than {MAX_DEPTH} levels")
        if not isinstance(node, Mapping):
            return self._fail(path, "must be an object: a group (all, any, not) or a leaf")
        groups = [key for key in ("all", "any", "not") if key in node]
        if groups:
            if len(node) != 1:
                return self._fail(path, "a group has exactly one key: all, any or not")
            return self._group(groups[0], node[groups[0]], f"{path}.{groups[0]}", depth)
        return self._leaf(node, path)

    def _group(self, kind: str, body: Any, path: str, depth: int) -> Rule | None:
        if kind == "not":
            child = self.rule(body, path, depth + 1)
            return None if child is None else Group("not", (child,), _not(child.test))
        if not isinstance(body, list) or not body:
            return self._fail(path, "must be a non-empty list of conditions")
        children = [self.rule(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(body)]
        compiled = tuple(child for child in children if child is not None)
        if len(compiled) < len(children):
            return None
        tests = tuple(child.test for child in compiled)
        return Group(kind, compiled, _group(tests, decisive=kind == "any"))

    def _leaf(self, node: Mapping[str, Any], path: str) -> Rule | None:
        self.leaves += 1
        if self.leaves == MAX_LEAVES + 1:
            self._fail(path, f"a set holds at most {MAX_LEAVES} conditions")
        before = len(self.problems)
        for key in node:
            if key not in _LEAF_FIELDS:
                self._fail(f"{path}.{key}", "unknown field")
        attribute, operator = node.get("attribute"), node.get("operator")
        if not isinstance(attribute, str) or not _is_path(attribute):
            self._fail(f"{path}.attribute", "must be an attribute name or dotted path")
        if not isinstance(operator, str) or operator not in OPERATORS:
            known = ", ".join(OPERATORS)
            self._fail(f"{path}.operator", f"unknown operator {operator!r}: use one of {known}")
        reason = node.get("reason")
        if reason is not None and (not isinstance(reason, str) or not 0 < len(reason) <= 300):
            self._fail(f"{path}.reason", "must be a text of 1 to 300 characters")
        if len(self.problems) > before or not isinstance(attribute, str):
            return None
        operator = str(operator)
        value, param = node.get("value", True if operator == "exists" else None), None
        if isinstance(value, Mapping) and set(value) == {"param"}:
            param = value["param"]
            if not isinstance(param, str) or param not in self.params:
                return self._fail(f"{path}.value.param", f"the set has no param {param!r}")
            value = self.params[param]
        problem = _check_value(operator, value)
        if problem is not None:
            if param is None:
                return self._fail(f"{path}.value", problem)
            return self._fail(f"{path}.value.param", f"{problem} (param {param!r})")
        read = _reader(attribute)
        keywords = KeywordSet(value) if operator in _KEYWORD_OPERATORS else None
        test = _leaf_test(operator, value, read, keywords)
        return Leaf(attribute, operator, value, param, reason, read, test, keywords)

    def _fail(self, path: str, message: str) -> Rule | None:
        self.problems.append((path, message))
        return None


def compile_rule(
    node: Any, params: Mapping[str, Any], path: str, *, leaves_before: int = 0
) -> tuple[Rule | None, list[FieldProblem], int]:
    """Compile a JSON tree; returns the rule, every problem found, and the leaf count so far."""
    compiler = _Compiler(params, leaves=leaves_before)
    rule = compiler.rule(node, path)
    return (rule if not compiler.problems else None), compiler.problems, compiler.leaves


def check_params(params: Mapping[str, Any]) -> list[FieldProblem]:
    """Problems with a set's named values: scalars or lists of scalars, bounded."""
    problems = []
    for name, value in params.items():
        if isinstance(value, list):
            if len(value) > MAX_LIST:
                problems.append((f"params.{name}", f"at most {MAX_LIST} entries"))
            elif not all(_is_scalar(v) and not isinstance(v, bool) for v in value):
                problems.append((f"params.{name}", "a list may hold only texts and numbers"))
            elif any(isinstance(v, str) and len(v) > MAX_TEXT for v in value):
                problems.append((f"params.{name}", f"texts of at most {MAX_TEXT} characters"))
        elif not _is_scalar(value):
            problems.append((f"params.{name}", "must be a text, number, boolean or list"))
        elif isinstance(value, str) and len(value) > MAX_TEXT:
            problems.append((f"params.{name}", f"texts of at most {MAX_TEXT} characters"))
    return problems


# --- value checks ---------------------------------------------------------------


def _check_value(operator: str, value: Any) -> str | None:
    if operator in _COMPARISONS:
        return None if _is_number(value) else f"{operator} compares numbers, not {_kind(value)}"
    if operator in ("eq", "ne"):
        if not _is_scalar(value):
            return f"{operator} needs a text, number or boolean, not {_kind(value)}"
        return _check_text(value)
    if operator in ("in", "not_in"):
        if not isinstance(value, list) or not all(_is_scalar(v) for v in value):
            return f"{operator} needs a list of texts or numbers, not {_kind(value)}"
        return _check_list(value)
    if operator in ("contains_any", "contains_all"):
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            return f"{operator} needs a non-empty list of keywords"
        return _check_list(value)
    if operator == "matches":
        if not isinstance(value, str):
            return f"matches needs a regular expression, not {_kind(value)}"
        if len(value) > MAX_PATTERN:
            return f"a regular expression has at most {MAX_PATTERN} characters"
        try:
            size = re2.compile(value, options=_RE2_OPTIONS).programsize
        except re2.error as exc:
            message = exc.args[0].decode() if isinstance(exc.args[0], bytes) else exc.args[0]
            return f"invalid regular expression: {message}"
        if size > MAX_PROGRAM_SIZE:
            return (
                f"the regular expression is too complex: its RE2 program size is {size}, "
                f"at most {MAX_PROGRAM_SIZE} (counted repetitions such as {{0,100}} grow it)"
            )
        return None
    return None if isinstance(value, bool) else "exists takes true or false"


def _check_list(values: list[Any]) -> str | None:
    if len(values) > MAX_LIST:
        return f"at most {MAX_LIST} entries"
    return next((p for p in map(_check_text, values) if p), None)


def _check_text(value: Any) -> str | None:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return f"texts of at most {MAX_TEXT} characters"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _is_path(attribute: str) -> bool:
    parts = attribute.split(".")
    return 0 < len(attribute) <= MAX_TEXT and all(parts)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a text"
    return "a list" if isinstance(value, list) else "an object"


# --- compiled tests -----------------------------------------------------------------


def _reader(attribute: str) -> Callable[[Profile], Any]:
    if "." not in attribute:
        return lambda profile: profile.get(attribute)
    parts = tuple(attribute.split("."))

    def read(profile: Profile) -> Any:
        value: Any = profile
        for part in parts:
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    return read


def _leaf_test(
    operator: str, expected: Any, read: Callable[[Profile], Any], keywords: KeywordSet | None
) -> Test:
    if operator == "exists":
        return lambda profile: (read(profile) is not None) is expected
    if keywords is not None:
        judge = _contains(keywords, require_all=operator == "contains_all")
    else:
        judge = _JUDGES[operator](expected)

    def test(profile: Profile) -> Verdict:
        actual = read(profile)
        return None if actual is None else judge(actual)

    return test


def _equals(expected: Any) -> Callable[[Any], Verdict]:
    if isinstance(expected, str):
        folded = fold(expected)
        return lambda actual: isinstance(actual, str) and fold(actual) == folded
    if isinstance(expected, bool):
        return lambda actual: actual is expected
    return lambda actual: _is_number(actual) and actual == expected


def _not_equals(expected: Any) -> Callable[[Any], Verdict]:
    equals = _equals(expected)
    return lambda actual: not equals(actual)


def _compare(operator: str) -> Callable[[Any], Callable[[Any], Verdict]]:
    op = _COMPARISONS[operator][0]

    def build(expected: Any) -> Callable[[Any], Verdict]:
        return lambda actual: op(actual, expected) if _is_number(actual) else None

    return build


def _member_key(value: Any) -> Any:
    return fold(value) if isinstance(value, str) else value


def _membership(negate: bool) -> Callable[[Any], Callable[[Any], Verdict]]:
    def build(expected: Sequence[Any]) -> Callable[[Any], Verdict]:
        members = frozenset(_member_key(v) for v in expected if not isinstance(v, bool))

        def judge(actual: Any) -> Verdict:
            if isinstance(actual, list):
                hit = any(
                    _is_scalar(v) and not isinstance(v, bool) and _member_key(v) in members
                    for v in actual
                )
            elif _is_scalar(actual) and not isinstance(actual, bool):
                hit = _member_key(actual) in members
            else:
                return None
            return hit is not negate

        return judge

    return build


def _contains(keywords: KeywordSet, require_all: bool) -> Callable[[Any], Verdict]:
    combine = all if require_all else any

    def judge(actual: Any) -> Verdict:
        found = keywords.found(actual)
        return None if found is None else combine(found)

    return judge


def _matches(pattern: str) -> Callable[[Any], Verdict]:
    regex = re2.compile(pattern, options=_RE2_OPTIONS)
    return lambda actual: regex.search(actual) is not None if isinstance(actual, str) else None


_JUDGES: dict[str, Callable[[Any], Callable[[Any], Verdict]]] = {
    "eq": _equals,
    "ne": _not_equals,
    **{op: _compare(op) for op in _COMPARISONS},
    "in": _membership(negate=False),
    "not_in": _membership(negate=True),
    "matches": _matches,
}
_KEYWORD_OPERATORS = frozenset({"contains_any", "contains_all"})


def _group(tests: tuple[Test, ...], decisive: bool) -> Test:
    """Kleene `all` (decisive False) or `any` (decisive True), short-circuiting."""

    def test(profile: Profile) -> Verdict:
        verdict: Verdict = not decisive
        for child in tests:
            value = child(profile)
            if value is decisive:
                return decisive
            if value is None:
                verdict = None
        return verdict

    return test


def _not(inner: Test) -> Test:
    def test(profile: Profile) -> Verdict:
        value = inner(profile)
        return None if value is None else not value

    return test


# --- explanation helpers ------------------------------------------------------------

# Integers beyond 64 bits are rare and long to write out: their evidence is not kept.
_CACHED_INT = 1 << 64


def _evidence_key(actual: Any, result: Verdict) -> tuple[Any, ...] | None:
    """An exact key for a leaf's evidence on `actual`, or None if it is not worth keeping.

    Keyed by type as well, since 1, 1.0 and True are equal but read differently; a float by
    its hex form, since 0.0 and -0.0 are equal too. Lists and objects are never kept.
    """
    kind = type(actual)
    if kind is str:
        return (kind, actual, result) if len(actual) <= QUOTED_TEXT else None
    if kind is bool or actual is None:
        return (kind, actual, result)
    if kind is int:
        return (kind, actual, result) if -_CACHED_INT < actual < _CACHED_INT else None
    if kind is float:
        return (kind, actual.hex(), result)
    return None


@lru_cache(maxsize=4096)
def _keyword_clause(
    keywords: KeywordSet, operator: str, target: str, result: bool, hits: tuple[bool, ...]
) -> str:
    """How the keywords found read; texts differ, but the same few combinations recur."""
    if operator == "contains_any":
        if result:
            found = [k for k, hit in zip(keywords.keywords, hits, strict=True) if hit]
            return f"which contains {_name_keywords(found)}"
        return f"which contains none of {target}"
    if result:
        return f"which contains all of {target}"
    missing = [k for k, hit in zip(keywords.keywords, hits, strict=True) if not hit]
    return f"which lacks {_name_keywords(missing)}"


def _name_keywords(keywords: Sequence[str]) -> str:
    named = ", ".join(map(_show, keywords[:NAMED_KEYWORDS]))
    more = len(keywords) - NAMED_KEYWORDS
    return f"{named}, … {more} more" if more > 0 else named


def quote(value: Any, depth: int = 0) -> tuple[Any, bool]:
    """`value` as evidence quotes it, and whether anything was left out.

    Texts keep their first `QUOTED_TEXT` characters and end with "…"; lists and objects
    keep their first `QUOTED_ITEMS` entries, two levels deep.
    """
    if isinstance(value, str):
        if len(value) <= QUOTED_TEXT:
            return value, False
        return value[:QUOTED_TEXT] + "…", True
    if isinstance(value, list | dict):
        if depth >= 2:
            return ("[…]" if isinstance(value, list) else "{…}"), bool(value)
        entries = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        shortened = len(entries) > QUOTED_ITEMS
        kept = []
        for key, item in entries[:QUOTED_ITEMS]:
            quoted, cut = quote(item, depth + 1)
            if isinstance(key, str) and len(key) > QUOTED_TEXT:
                key, cut = key[:QUOTED_TEXT] + "…", True
            kept.append((key, quoted))
            shortened = shortened or cut
        if isinstance(value, dict):
            return dict(kept), shortened
        return [item for _, item in kept], shortened
    return value, False


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value[:77]}..."' if len(value) > 80 else f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        shown = ", ".join(_show(v) for v in value[:5])
        more = f", … {len(value) - 5} more" if len(value) > 5 else ""
        return f"[{shown}{more}]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if _is_number(value) else _kind(value)
