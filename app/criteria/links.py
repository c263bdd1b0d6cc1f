"""OpenAPI links of the criteria routes: how a response feeds the next request.

A response that carries a set gives its slug, version and ETag to the requests that read,
replace, archive or evaluate with it, so clients and stateful test tools can follow them.
"""

from typing import Any

_SLUG = "$response.body#/slug"
_ETAG = "$response.header.ETag"

_LINKS: dict[str, dict[str, Any]] = {
    "GetCriteriaSet": {
        "operationId": "get_criteria_set",
        "parameters": {"path.slug": _SLUG},
        "description": "Read the set's current version.",
    },
    "ReplaceCriteriaSet": {
        "operationId": "replace_criteria_set",
        "parameters": {"path.slug": _SLUG, "header.If-Match": _ETAG},
        "description": "Replace the set, from the version this response returned.",
    },
    "ArchiveCriteriaSet": {
        "operationId": "archive_criteria_set",
        "parameters": {"path.slug": _SLUG, "header.If-Match": _ETAG},
        "description": "Archive the set, from the version this response returned.",
    },
    "ListCriteriaVersions": {
        "operationId": "list_criteria_versions",
        "parameters": {"path.slug": _SLUG},
        "description": "List the set's versions.",
    },
    "GetCriteriaVersion": {
        "operationId": "get_criteria_version",
        "parameters": {"path.slug": _SLUG, "path.version": "$response.body#/version"},
        "description": "Read the exact version this response returned.",
    },
    "EvaluateWithCriteriaSet": {
        "operationId": "evaluate",
        "requestBody": {"criteria_set": _SLUG, "version": "$response.body#/version"},
        "description": "Judge a profile with the version of the set this response returned.",
    },
}


def _select(*names: str) -> dict[str, dict[str, Any]]:
    return {name: _LINKS[name] for name in names}


CREATED = _select(
    "GetCriteriaSet", "ReplaceCriteriaSet", "ArchiveCriteriaSet", "EvaluateWithCriteriaSet"
)
REPLACED = _select(
    "GetCriteriaSet",
    "ReplaceCriteriaSet",
    "ArchiveCriteriaSet",
    "ListCriteriaVersions",
    "GetCriteriaVersion",
    "EvaluateWithCriteriaSet",
)
READ = _select("ReplaceCriteriaSet", "ArchiveCriteriaSet", "ListCriteriaVersions")
