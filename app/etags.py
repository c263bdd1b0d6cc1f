"""Entity tags and If-Match (RFC 9110 §13.1.1): what a conditional write compares."""

from typing import Any

# "*" or a comma-separated list of entity tags, weak or strong.
IF_MATCH_PATTERN = r'^(?:\*|(?:W/)?"[!#-~]*"(?:[ \t]*,[ \t]*(?:W/)?"[!#-~]*")*)$'


def etag(version: int) -> str:
    """The strong entity tag of a numbered version of a resource."""
    return f'"v{version}"'


def if_match(header: str, current: int | None) -> bool:
    """Whether an If-Match header matches the resource at version `current` (None: the
    resource does not exist, which no tag matches, `*` included)."""
    if current is None:
        return False
    if header.strip() == "*":
        return True
    # `*` stands alone or not at all: in a list it is no tag, and matches nothing.
    return etag(current) in {tag.strip() for tag in header.split(",")}


def if_match_docs(description: str, *, required: bool = True) -> dict[str, Any]:
    """The OpenAPI parameter of an If-Match header. The route reads it as optional either
    way, so that its absence is answered 428 rather than the framework's 422."""
    return {
        "parameters": [
            {
                "name": "If-Match",
                "in": "header",
                "required": required,
                "description": description,
                "schema": {"type": "string", "maxLength": 512, "pattern": IF_MATCH_PATTERN},
            }
        ]
    }
