"""The JSON Schema of a rule tree, for the OpenAPI document (the engine checks trees itself).

Each kind of node is a named component, so that client generators give each its own type:

    Condition = AllCondition | AnyCondition | NotCondition | LeafCondition
    LeafCondition.value = text | number | boolean | list of texts and numbers | ParamRef

The literal branches are also the schema of a set's params (`criteria.models.ParamValue`).
"""

from typing import Any

from app.engine.rules import MAX_DEPTH, MAX_LEAVES, MAX_LIST, MAX_PATTERN, MAX_TEXT, OPERATORS

Schema = dict[str, Any]


def component_ref(name: str) -> Schema:
    """A reference to the component schema `name`."""
    return {"$ref": f"#/components/schemas/{name}"}


CONDITION_REF = component_ref("Condition")

# A literal a rule compares with, or a param holds: the engine refuses longer texts and
# lists, and lists of anything but texts and numbers.
LITERAL_SCHEMAS: list[Schema] = [
    {"type": "string", "maxLength": MAX_TEXT},
    {"type": "number"},
    {"type": "boolean"},
    {
        "type": "array",
        "maxItems": MAX_LIST,
        "items": {"anyOf": [{"type": "string", "maxLength": MAX_TEXT}, {"type": "number"}]},
    },
]


def _group(kind: str, title: str, description: str, body: Schema) -> Schema:
    return {
        "type": "object",
        "title": title,
        "description": description,
        "properties": {kind: body},
        "required": [kind],
        "additionalProperties": False,
    }


RULE_SCHEMAS: dict[str, Schema] = {
    "Condition": {
        "title": "Condition",
        "description": (
            'A rule tree in the style of json-rules-engine: a group `{"all": [...]}`, '
            '`{"any": [...]}`, `{"not": {...}}`, or a leaf `{"attribute": ..., '
            '"operator": ..., "value": ...}`. A leaf whose attribute is missing or null is '
            "unknown, and groups follow three-valued (Kleene) logic. Text operators fold case "
            f"and accents and match whole words. At most {MAX_DEPTH} levels and {MAX_LEAVES} "
            f"leaves per set; keyword lists of at most {MAX_LIST} entries; regular expressions "
            f"(RE2 syntax) of at most {MAX_PATTERN} characters."
        ),
        "oneOf": [
            component_ref("AllCondition"),
            component_ref("AnyCondition"),
            component_ref("NotCondition"),
            component_ref("LeafCondition"),
        ],
        "examples": [
            {
                "any": [
                    {"attribute": "mutual_connections", "operator": "gte", "value": 5},
                    {"attribute": "has_message", "operator": "eq", "value": True},
                ]
            }
        ],
    },
    "AllCondition": _group(
        "all",
        "AllCondition",
        "Holds when every condition holds; false when one is false, else unknown.",
        {"type": "array", "minItems": 1, "items": CONDITION_REF},
    ),
    "AnyCondition": _group(
        "any",
        "AnyCondition",
        "Holds when one condition holds; unknown when none does and one is unknown.",
        {"type": "array", "minItems": 1, "items": CONDITION_REF},
    ),
    "NotCondition": _group(
        "not",
        "NotCondition",
        "Holds when the condition is false; unknown when it is unknown.",
        CONDITION_REF,
    ),
    "LeafCondition": {
        "type": "object",
        "title": "LeafCondition",
        "description": "Compares one attribute of the profile with a literal or a param.",
        "properties": {
            "attribute": {
                "type": "string",
                "maxLength": MAX_TEXT,
                "description": "Attribute name, or a dotted path into nested objects.",
            },
            "operator": component_ref("Operator"),
            "value": {
                "description": (
                    "A literal (number, text, boolean, or list) or a param; `exists` takes "
                    "true (the default) or false."
                ),
                "anyOf": [*LITERAL_SCHEMAS, component_ref("ParamRef")],
            },
            "reason": {
                "type": "string",
                "maxLength": 300,
                "description": "Shown when the leaf holds, instead of the generated reason.",
            },
        },
        "required": ["attribute", "operator"],
        "additionalProperties": False,
    },
    "Operator": {
        "type": "string",
        "title": "Operator",
        "description": (
            "How a leaf compares: `eq`, `ne` (a text, number or boolean); `lt`, `lte`, `gt`, "
            "`gte` (a number); `in`, `not_in` (a list); `contains_any`, `contains_all` (a "
            "list of keywords); `matches` (a regular expression); `exists` (true or false)."
        ),
        "enum": list(OPERATORS),
    },
    "ParamRef": {
        "type": "object",
        "title": "ParamRef",
        "description": "Use the set's named param instead of a literal.",
        "properties": {"param": {"type": "string", "maxLength": 64}},
        "required": ["param"],
        "additionalProperties": False,
    },
}
