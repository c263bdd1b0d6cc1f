"""A Python client generated from openapi/openapi.json is complete and drives a real server.

openapi-python-client drops, with a warning, every schema it cannot parse and every
operation that uses one; the generation must report nothing. The generated package then
creates a criteria set with rules, replaces it, evaluates a profile with it and reads the
decision back from a uvicorn process, through the generated functions only.
"""

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from openapi_python_client import generate
from openapi_python_client.config import Config, ConfigFile, MetaType

from tests.conftest import SECRET_KEY
from tests.db.servers import running_server

DOCUMENT = Path(__file__).parents[1] / "openapi" / "openapi.json"
PACKAGE = "reflexe_client"


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client generated from the committed document, imported; the generator is silent."""
    root = tmp_path_factory.mktemp("client")
    config = Config.from_sources(
        # No post hooks: they only format the code, with whatever ruff is on the PATH.
        ConfigFile(post_hooks=[]),
        MetaType.NONE,
        DOCUMENT,  # a path, not a URL: the generator reads the file and needs no network
        "utf-8",
        overwrite=False,
        output_path=root / PACKAGE,
    )

    problems = generate(config=config)

    assert not problems, "\n\n".join(f"{p.level}: {p.header}\n{p.detail}" for p in problems)
    sys.path.insert(0, str(root))
    try:
        package = importlib.import_module(PACKAGE)
        importlib.import_module(f"{PACKAGE}.models")  # every model, as `package.models`
        yield package
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def operation(tag: str, name: str) -> ModuleType:
    """The generated module of operation `name`: `sync`, `sync_detailed` and their async twins."""
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


def test_every_operation_and_schema_is_generated(client_package: ModuleType) -> None:
    document = json.loads(DOCUMENT.read_text())
    models = client_package.models

    for operations in document["paths"].values():
        for details in operations.values():
            [tag] = details["tags"]
            assert hasattr(operation(tag, details["operationId"]), "sync_detailed")
    # Unions (Condition) become type aliases, every other schema a class.
    schemas = document["components"]["schemas"]
    classes = {name for name, schema in schemas.items() if "oneOf" not in schema}
    assert classes <= set(models.__all__), classes - set(models.__all__)


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    """A Reflexe server on a fresh SQLite database, in development mode, with a secret key."""
    url = f"sqlite:///{tmp_path}/client.db"
    with running_server(url, env={"REFLEXE_SECRET_KEY": SECRET_KEY}) as base:
        yield base


@pytest.fixture
def api_key(client_package: ModuleType, base_url: str) -> Any:
    """An admin key, made by the generated client as development mode's loopback admin."""
    m = client_package.models
    with client_package.Client(base_url=base_url, raise_on_unexpected_status=True) as local:
        created = operation("keys", "create_api_key").sync(
            client=local, body=m.ApiKeyCreate(name="generated-client", role=m.Role.ADMIN)
        )
    assert isinstance(created, m.ApiKeyCreated), created
    return created


@pytest.fixture
def generated_client(client_package: ModuleType, base_url: str, api_key: Any) -> Iterator[Any]:
    """The generated client, sending the admin key."""
    with client_package.AuthenticatedClient(
        base_url=base_url, token=api_key.key, raise_on_unexpected_status=True
    ) as authenticated:
        yield authenticated


def outreach_criteria(m: ModuleType) -> list[Any]:
    """Four criteria: leaves with params, an `any` group, a `not`, and one without rules."""
    return [
        m.CriterionSpec(
            key="pertinent",
            label="Pertinent",
            question="Does the person work in one of our industries?",
            rules=m.LeafCondition(
                attribute="industry", operator=m.Operator.IN, value=m.ParamRef(param="industries")
            ),
        ),
        m.CriterionSpec(
            key="interaction",
            label="Interaction",
            question="Have we interacted?",
            rules=m.AnyCondition(
                any_=[
                    m.LeafCondition(
                        attribute="mutual_connections",
                        operator=m.Operator.GTE,
                        value=m.ParamRef(param="min_mutual"),
                    ),
                    m.LeafCondition(attribute="has_message", operator=m.Operator.EQ, value=True),
                ]
            ),
        ),
        m.CriterionSpec(
            key="not_recruiter",
            label="Not a recruiter",
            question="Is the person something other than a recruiter?",
            rules=m.NotCondition(
                not_=m.LeafCondition(
                    attribute="headline",
                    operator=m.Operator.CONTAINS_ANY,
                    value=["recruiter", "talent acquisition"],
                )
            ),
        ),
        m.CriterionSpec(key="useful", label="Useful", question="Would the contact be useful?"),
    ]


def profile_request(m: ModuleType, **fields: Any) -> Any:
    """A profile to judge with the `outreach` set: an answer, and attributes for the rules."""
    return m.EvaluationRequest(
        criteria_set="outreach",
        subject=m.Subject(name="Jeanne Martin", ref="https://example.com/in/jeanne"),
        answers=m.EvaluationRequestAnswers.from_dict({"useful": False}),
        attributes=m.ProfileAttributes.from_dict(
            {
                "industry": "Software",
                "mutual_connections": 7,
                "has_message": False,
                "headline": "Engineering manager at Acme",
            }
        ),
        **fields,
    )


def test_the_generated_client_creates_replaces_and_evaluates(
    client_package: ModuleType, generated_client: Any, api_key: Any
) -> None:
    m, client = client_package.models, generated_client
    industries = ["software", "fintech"]
    first = {"industries": industries, "min_mutual": 10}
    second = {"industries": industries, "min_mutual": 5}

    created = operation("criteria", "create_criteria_set").sync(
        client=client,
        body=m.CriteriaSetCreate(
            slug="outreach",
            name="Outreach",
            criteria=outreach_criteria(m),
            policy=m.PolicySpec(accept_at=3),
            params=m.CriteriaSetCreateParams.from_dict(first),
        ),
    )
    current = operation("criteria", "get_criteria_set").sync_detailed("outreach", client=client)
    replaced = operation("criteria", "replace_criteria_set").sync(
        "outreach",
        client=client,
        body=m.CriteriaContent(
            name="Outreach",
            criteria=outreach_criteria(m),
            policy=m.PolicySpec(accept_at=3),
            params=m.CriteriaContentParams.from_dict(second),
        ),
        if_match=current.headers["ETag"],
    )
    evaluate = operation("evaluations", "evaluate")
    evaluated = evaluate.sync(client=client, body=profile_request(m))
    pinned = evaluate.sync(client=client, body=profile_request(m, version=1, dry_run=True))
    stored = operation("evaluations", "get_evaluation").sync(evaluated.id, client=client)

    assert isinstance(created, m.CriteriaSetPublic), created
    assert (created.version, created.params.additional_properties) == (1, first)
    assert created.criteria[1].rules.any_[0].value == m.ParamRef(param="min_mutual")
    assert isinstance(created.criteria[2].rules, m.NotCondition)
    assert isinstance(current.parsed, m.CriteriaSetPublic), current.parsed
    assert isinstance(replaced, m.CriteriaSetPublic), replaced
    assert (replaced.version, replaced.params.additional_properties) == (2, second)
    # Version 2 asks for 5 mutual connections, version 1 for 10: the profile's 7 meet
    # `interaction` only in version 2, and three criteria met are needed to accept.
    assert isinstance(evaluated, m.EvaluationPublic), evaluated
    assert (evaluated.decision, evaluated.met) == (m.Decision.ACCEPT, 3)
    assert (evaluated.criteria_set.slug, evaluated.criteria_set.version) == ("outreach", 2)
    assert {c.key: (c.met, c.source) for c in evaluated.criteria} == {
        "pertinent": (True, m.Source.RULES),
        "interaction": (True, m.Source.RULES),
        "not_recruiter": (True, m.Source.RULES),
        "useful": (False, m.Source.ANSWER),
    }
    assert isinstance(pinned, m.EvaluationPublic), pinned
    assert (pinned.decision, pinned.met, pinned.id) == (m.Decision.DECLINE, 2, None)
    assert pinned.criteria_set.version == 1
    assert [c.met for c in pinned.criteria] == [True, False, True, False]
    assert isinstance(stored, m.EvaluationPublic), stored
    assert stored.to_dict() == evaluated.to_dict()
    assert stored.api_key_id == api_key.id
