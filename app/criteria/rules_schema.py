"""The JSON Schema of a rule tree, for the OpenAPI document (the engine checks trees itself)."""

from typing import Any

from app.engine.rules import MAX_DEPTH, MAX_LEAVES, MAX_LIST, MAX_PATTERN, OPERATORS

CONDITION_REF = {"$ref": "#/components/schemas/Condition"}

_PARAM_REF = {
    "type": "object",
    "title": "ParamRef",
    "description": "Use the set's named param instead of a literal.",
    "properties": {"param": {"type": "string", "maxLength": 64}},
    "required": ["param"],
    "additionalProperties": False,
}

CONDITION_SCHEMA: dict[str, Any] = {
    "title": "Condition",
    "description": (
        'A rule tree in the style of json-rules-engine: a group `{"all": [...]}`, '
        '`{"any": [...]}`, `{"not": {...}}`, or a leaf `{"attribute": ..., '
        '"operator": ..., "value": ...}`. A leaf whose attribute is missing or null is '
        "unknown, and groups follow three-valued (Kleene) logic. Text operators fold case and "
        f"accents and match whole words. At most {MAX_DEPTH} levels and {MAX_LEAVES} leaves "
        f"per set; keyword lists of at most {MAX_LIST} entries; regular expressions (RE2 "
        f"syntax) of at most {MAX_PATTERN} characters."
    ),
    "oneOf": [
        {
            "type": "object",
            "title": "AllOf",
            "properties": {"all": {"type": "array", "minItems": 1, "items": CONDITION_REF}},
            "required": ["all"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "title": "AnyOf",
            "properties": {"any": {"type": "array", "minItems": 1, "items": CONDITION_REF}},
            "required": ["any"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "title": "Not",
            "properties": {"not": CONDITION_REF},
            "required": ["not"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "title": "Leaf",
            "properties": {
                "attribute": {
                    "type": "string",
                    "maxLength": 200,
                    "description": "Attribute name, or a dotted path into nested objects.",
                },
                "operator": {"type": "string", "enum": list(OPERATORS)},
                "value": {
                    "description": "A literal (number, text, boolean, or list) or a param.",
                    "anyOf": [
                        {"type": "string"},
                        {"type": "number"},
                        {"type": "boolean"},
                        {"type": "array", "items": {"type": ["string", "number"]}},
                        _PARAM_REF,
                    ],
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
    ],
    "examples": [
        {
            "any": [
                {"attribute": "mutual_connections", "operator": "gte", "value": 5},
                {"attribute": "has_message", "operator": "eq", "value": True},
            ]
        }
    ],
}
