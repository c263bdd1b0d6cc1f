"""Request examples shown in the OpenAPI document."""

from fastapi.openapi.models import Example

EVALUATE_EXAMPLES: dict[str, Example] = {
    "answers": {
        "summary": "PIPU answers for one invitation",
        "value": {
            "subject": {
                "ref": "https://www.linkedin.com/in/jeanne-martin",
                "name": "Jeanne Martin",
            },
            "answers": {"pertinence": True, "utilite": True, "interaction": None},
        },
    },
    "pinned": {
        "summary": "A named set at a pinned version, without storing the decision",
        "value": {
            "criteria_set": "pipu",
            "version": 1,
            "answers": {"pertinence": True, "interaction": False},
            "attributes": {"headline": "Head of Sales at Acme", "mutual_connections": 12},
            "dry_run": True,
        },
    },
}
