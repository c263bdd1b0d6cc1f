"""Schemathesis against the app's own OpenAPI document, in process, on each backend.

Every operation, every check, positive and negative data; then a stateful run that follows
the document's links (create a set -> evaluate with it -> read the decision back, and read,
replace or archive the set with its ETag). What each check may accept beyond its defaults
is in `schemathesis.toml`, with the reason for each widening.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck
from schemathesis import AuthContext, Case, HookContext, Response
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.openapi.checks import UseAfterFree
from schemathesis.python import asgi

from app.db import create_db_engine
from app.main import create_app
from app.migrate import prepare_database
from app.settings import Settings
from tests.conftest import empty_database

CONFIG = Path(__file__).parents[1] / "schemathesis.toml"

# Bounded and reproducible: the same examples on every run, a few seconds per backend.
SETTINGS = hypothesis.settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    # Generated bodies are large and often filtered; that is the point, not a problem.
    suppress_health_check=list(HealthCheck),
)
STATEFUL_SETTINGS = hypothesis.settings(SETTINGS, max_examples=30, stateful_step_count=6)

# The document as the app serves it. The pytest plugin collects one test per operation from
# it; each test then calls the app of its backend (`schemathesis.pytest.from_fixture` would
# load it per test, but fails on pytest 9.2).
schema = schemathesis.openapi.from_dict(
    create_app().openapi(), config=SchemathesisConfig.from_path(CONFIG)
)


@schema.hook
def filter_failure(context: HookContext, failure: Failure, case: Case, response: Response) -> bool:
    """Keep every failure but reads of an archived set.

    DELETE /criteria/{slug} archives: the set and its versions stay readable so that every
    stored decision resolves the version that produced it (README, "Criteria sets"). A read
    of the set itself must still show it archived.
    """
    return not (
        isinstance(failure, UseAfterFree)
        and failure.free.startswith("DELETE /criteria/")
        and case.method == "GET"
        and (case.operation.path != "/criteria/{slug}" or response.json()["archived_at"])
    )


class AdminKeyAuth:
    """Schemathesis' credentials: the backend's admin key, so every operation can be reached.

    Given as an auth provider rather than as headers of each call, so that Schemathesis knows
    the header for credentials: it then neither counts a request whose generated header it
    replaced as invalid data, nor fails to take the key away for `ignored_auth`'s probes.
    """

    key = ""

    def get(self, case: Case, ctx: AuthContext) -> str:
        return self.key

    def set(self, case: Case, data: str, ctx: AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


schema.auth()(AdminKeyAuth)


@pytest.fixture
def app(settings: Settings, admin_key: str) -> Iterator[FastAPI]:
    """The app on the test's backend, migrated; Schemathesis starts it on first use."""
    prepare_database(settings)
    AdminKeyAuth.key = admin_key
    # `ignored_auth` probes every operation without the key, thousands of times from one
    # address; the limit on failed authentications (tests/api/test_perimeter.py) would
    # answer those 429.
    application = create_app(settings.model_copy(update={"auth_failure_limit": ""}))
    # Checks that re-send a request (ignored_auth sends it without the key) reach the app
    # through the schema and the operation, not through the call's arguments.
    schema.app = application
    yield application
    schema.app = None
    stop_and_empty(settings, admin_key)


def stop_and_empty(settings: Settings, admin_key: str) -> None:
    """Stop the app and empty its database: the next request starts it afresh, seeded."""
    asgi.shutdown_lifespans()
    engine = create_db_engine(settings)
    try:
        empty_database(engine, admin_key)
    finally:
        engine.dispose()


@SETTINGS
@schema.parametrize()
def test_api(case: Case, app: FastAPI) -> None:
    case.operation.app = case.operation.schema.app = app
    case.call_and_validate(app=app)


def test_stateful(app: FastAPI, settings: Settings, admin_key: str) -> None:
    is_dirty = False

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Each scenario starts from the seeded database alone, so its responses, and the
            # choices Hypothesis makes from them, never depend on the scenario before.
            nonlocal is_dirty
            if is_dirty:
                stop_and_empty(settings, admin_key)
                is_dirty = False

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"app": app}

        def after_call(self, response: Response, case: Case) -> None:
            nonlocal is_dirty
            is_dirty = True
            super().after_call(response, case)

    Workflow.run(settings=STATEFUL_SETTINGS)
