"""Request examples shown in the OpenAPI document."""

from typing import Any

from fastapi.openapi.models import Example

_RECRUITER: dict[str, Any] = {
    "name": "Recruiter triage",
    "description": "Accept invitations that could lead to a hire.",
    "locale": "en",
    "criteria": [
        {
            "key": "in_target_industry",
            "label": "Industry",
            "question": "Does the person work in one of my target industries?",
            "weight": 2,
        },
        {
            "key": "hiring_manager",
            "label": "Hiring manager",
            "question": "Does the person hire for their team?",
            "weight": 3,
            "required": True,
        },
        {
            "key": "warm_intro",
            "label": "Warm introduction",
            "question": "Did the invitation come with a personal note?",
        },
    ],
    "policy": {"mode": "score", "accept_at": 4, "review_at": 3, "unknown": "review"},
}

CREATE_EXAMPLES: dict[str, Example] = {
    "weighted": {
        "summary": "A weighted set with a review band",
        "value": {"slug": "recruiter", **_RECRUITER},
    }
}

REPLACE_EXAMPLES: dict[str, Example] = {
    "weighted": {"summary": "The next version of a weighted set", "value": _RECRUITER}
}
