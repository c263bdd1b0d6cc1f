"""Small builders for request bodies, and API keys to call with."""

from typing import Any

from fastapi.testclient import TestClient


def make_criterion(key: str, **overrides: Any) -> dict[str, Any]:
    return {
        "key": key,
        "label": key.replace("_", " ").capitalize(),
        "question": f"Is it {key.replace('_', ' ')}?",
        **overrides,
    }


def make_criteria_set(
    slug: str = "triage",
    keys: tuple[str, ...] = ("relevant", "active", "useful"),
    *,
    criteria: list[dict[str, Any]] | None = None,
    **policy: Any,
) -> dict[str, Any]:
    return {
        "slug": slug,
        "name": f"{slug.capitalize()} set",
        "description": "A set built by the tests.",
        "locale": "en",
        "criteria": criteria if criteria is not None else [make_criterion(k) for k in keys],
        "policy": {"accept_at": 2, **policy},
    }


def content_of(body: dict[str, Any]) -> dict[str, Any]:
    """The body of a PUT: a create body without its slug."""
    return {key: value for key, value in body.items() if key != "slug"}


def new_key(client: TestClient, role: str, name: str = "test") -> str:
    response = client.post("/keys", json={"name": name, "role": role})
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def as_key(key: str | None) -> dict[str, str]:
    """Headers that replace the client's admin key by `key` (or by none at all)."""
    return {"Authorization": "" if key is None else f"Bearer {key}"}
