"""A criteria set as a file: its canonical content, its hash, YAML and JSON, its schema.

The same models validate a file and a request body, so a file that `reflexe check`
accepts is one the API accepts, with the same messages and field paths.
"""

import hashlib
import json
from typing import Any

import rfc8785
import yaml
from pydantic.json_schema import models_json_schema

from app.criteria.models import CriteriaContent, CriteriaSetReplace
from app.criteria.rules_schema import RULE_SCHEMAS

CONTENT_FIELDS = ("name", "description", "locale", "criteria", "policy", "params", "cases")
YAML_MEDIA_TYPE = "application/yaml"


def content_of(content: CriteriaContent) -> dict[str, Any]:
    """A set's content as JSON values, as it is stored and exported: every field of the
    criteria and the policy, the cases with only the attributes they give."""
    dumped = content.model_dump(mode="json", exclude={"cases"})
    dumped["cases"] = [
        {**case.model_dump(mode="json"), "attributes": case.profile()} for case in content.cases
    ]
    stored = {name: dumped[name] for name in CONTENT_FIELDS}
    # Named only when they differ from the defaults, so that a set's file and hash are the
    # same as before these fields existed.
    if dumped["privacy"] not in (None, "full"):
        stored["privacy"] = dumped["privacy"]
    if dumped["retention_days"] is not None:
        stored["retention_days"] = dumped["retention_days"]
    return stored


def file_of(slug: str, content: CriteriaContent) -> dict[str, Any]:
    """What a file of the set holds: its slug, then its content."""
    return {"slug": slug, **content_of(content)}


def content_hash(slug: str, content: CriteriaContent) -> str:
    """`sha256:` and the digest of the file's RFC 8785 canonical JSON."""
    digest = hashlib.sha256(rfc8785.dumps(file_of(slug, content))).hexdigest()
    return f"sha256:{digest}"


def to_yaml(data: dict[str, Any], header: str | None = None) -> str:
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    if header is None:
        return body
    comments = "".join(f"# {line}\n" for line in header.splitlines())
    return comments + body


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def file_schema() -> dict[str, Any]:
    """The JSON Schema of a set's file: the body PUT /criteria/{slug} accepts (fields the
    server manages are allowed and ignored), with the rule trees' components in `$defs`."""
    # Generated as FastAPI does for the OpenAPI document, where the rule trees' components
    # live, then pointed at `$defs` instead.
    _, generated = models_json_schema(
        [(CriteriaSetReplace, "validation")], ref_template="#/components/schemas/{model}"
    )
    definitions = {**generated["$defs"], **RULE_SCHEMAS}
    text = json.dumps(definitions).replace('"#/components/schemas/', '"#/$defs/')
    definitions = json.loads(text)
    schema = definitions.pop("CriteriaSetReplace")
    schema["$defs"] = definitions
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "/schemas/criteria-set.json",
        **schema,
        "title": "Reflexe criteria set",
        "required": sorted({*schema.get("required", []), "slug"}),
    }
