"""Criteria sets as files: read and check them offline as the API would, run their cases,
and render a stored version as the file that exports it.

No web framework and no HTTP client: the criteria router renders exports with it, the
command line checks and tests files with it (`reflexe check`, `reflexe test`), and
`app.setclient` validates a file with it before sending it anywhere.
"""

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.criteria.cases import CaseRun, check_cases, coverage, failures, run_cases
from app.criteria.files import content_hash, file_of, to_json, to_yaml
from app.criteria.models import (
    CriteriaContent,
    CriteriaSetReplace,
    CriteriaVersionPublic,
    CriterionCoverage,
)
from app.criteria.service import build_definition, build_version
from app.errors import CaseFailure, FailingCases, FieldError, InvalidInput, field_path
from app.jsonvalues import BODY_TOO_DEEP_MESSAGE, LONG_INTEGER_MESSAGE, nests_deeper
from app.privacy import Privacy

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class FileFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"


class FileLoader(yaml.SafeLoader):
    """YAML's safe loader, but a date stays the string it is written as: the API receives
    JSON, which has no dates, and a file must mean what the same JSON body would; and a key
    written twice in one mapping is an error, not the last one silently kept."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # an unhashable key: the safe loader says so itself
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


FileLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class UnreadableFile(Exception):
    """A file that cannot be read, or is not YAML or JSON at all."""


@dataclass(frozen=True, slots=True)
class SetFile:
    """A file's criteria set, validated by the model of PUT /criteria/{slug}."""

    slug: str
    content: CriteriaContent

    def data(self) -> dict[str, Any]:
        """The file's set as JSON values, without the server's fields: what push sends
        (`privacy` and `retention_days` only if the file names them: else the set keeps its
        own)."""
        named = self.content.model_dump(mode="json", include=set(self._named()))
        return {**file_of(self.slug, self.content), **named}

    @property
    def content_hash(self) -> str:
        return content_hash(self.slug, self.content)

    def content_hash_over(self, current: dict[str, Any]) -> str:
        """The hash of the version this file would make over `current` (a set as GET
        returns it), which lends the privacy and retention the file does not name."""
        named = self._named()
        lent: dict[str, Any] = {}
        if "privacy" not in named:
            lent["privacy"] = Privacy(current["privacy"])
        if "retention_days" not in named:
            lent["retention_days"] = current["retention_days"]
        return content_hash(self.slug, self.content.model_copy(update=lent))

    def _named(self) -> list[str]:
        return [name for name in _INHERITED if name in self.content.model_fields_set]


# What a new version takes from its set when its body does not name it.
_INHERITED = ("privacy", "retention_days")


@dataclass(frozen=True, slots=True)
class CaseResults:
    """What running a valid set's cases gives: each run, the failures, the coverage."""

    runs: list[CaseRun]
    failures: list[CaseFailure]
    coverage: list[CriterionCoverage]

    @property
    def passed(self) -> int:
        return len(self.runs) - len(self.failures)


def load_data(path: Path) -> Any:
    """The JSON values a file holds: JSON for `.json`, YAML otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UnreadableFile(f"cannot read the file: {reason}") from exc
    if nests_deeper(text.encode()):
        raise UnreadableFile(BODY_TOO_DEEP_MESSAGE)
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.load(text, Loader=FileLoader)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from exc
    except yaml.YAMLError as exc:
        raise UnreadableFile(f"not valid YAML: {_yaml_problem(exc)}") from exc
    except RecursionError:  # YAML nested by indentation rather than brackets
        raise UnreadableFile(BODY_TOO_DEEP_MESSAGE) from None
    except ValueError as exc:  # an integer longer than Python converts
        raise UnreadableFile(LONG_INTEGER_MESSAGE) from exc


def parse_set(data: Any) -> SetFile:
    """Validate a file's values as PUT /criteria/{slug} validates its body, the slug
    required; 422's field paths and messages in InvalidInput."""
    try:
        body = CriteriaSetReplace.model_validate(data)
    except ValidationError as exc:
        problems = [(field_path(error["loc"]), error["msg"]) for error in exc.errors()]
        if isinstance(data, dict) and "slug" not in data:
            problems.append(("slug", "Field required"))
        raise InvalidInput(problems) from None
    if body.slug is None:
        raise InvalidInput([("slug", "Field required")])
    return SetFile(body.slug, body)


def read_set(path: Path) -> SetFile:
    """A file's set: UnreadableFile, or InvalidInput naming each faulty field."""
    return parse_set(load_data(path))


def check_set(found: SetFile) -> None:
    """Compile the set and run its cases as a save would: InvalidInput or FailingCases."""
    build_version(found.content)


def run_set_cases(found: SetFile) -> CaseResults:
    """Compile the set and run every case, failing or not; InvalidInput for a set or case
    that cannot run at all."""
    definition = build_definition(found.content)
    check_cases(found.content.cases, definition)
    runs = run_cases(found.content.cases, definition)
    return CaseResults(runs, failures(runs), coverage(runs, definition))


def failure_errors(failed: list[CaseFailure]) -> list[FieldError]:
    """Failing cases as the API's problem lists them in `errors`: `cases[i]` and a message."""
    return FailingCases(failed).errors()


def export_text(version: CriteriaVersionPublic, file_format: FileFormat) -> str:
    """A stored version as its file: the slug, then the content; in YAML, a comment first
    naming the version and its content hash."""
    data = file_of(version.slug, version)
    if file_format is FileFormat.JSON:
        return to_json(data)
    header = (
        f"Reflexe criteria set '{version.slug}', version {version.version}\n"
        f"content hash {version.content_hash}\n"
        "Edit it, then `reflexe check`, `reflexe test` and `reflexe push` it."
    )
    return to_yaml(data, header)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return str(problem)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"


def describe_coverage(results: CaseResults) -> list[str]:
    """What the cases reach, one line a criterion: met, not met, unknown."""
    width = max((len(c.key) for c in results.coverage), default=0)
    width = max(width, len("criterion"))
    lines = [f"{'criterion':<{width}}  {'met':<3}  {'not met':<7}  unknown"]
    for c in results.coverage:
        met, not_met, unknown = (_reached(value) for value in (c.met, c.not_met, c.unknown))
        lines.append(f"{c.key:<{width}}  {met:<3}  {not_met:<7}  {unknown}")
    return lines


def _reached(value: bool) -> str:
    return "yes" if value else "no"
