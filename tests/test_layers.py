"""Which way the imports go: the core of the service knows nothing of the web framework."""

import subprocess
import sys

import pytest

# The engine, the models, the registry, the error tree and the CLI's key commands are used
# outside HTTP (scripts, the CLI, the writer's thread): none may pull in FastAPI.
FRAMEWORK_FREE = [
    "app.engine",
    "app.errors",
    "app.db",
    "app.jsonvalues",
    "app.criteria.models",
    "app.criteria.registry",
    "app.criteria.service",
    "app.criteria.cases",
    "app.criteria.files",
    "app.profiles",
    "app.changes.models",
    "app.changes.report",
    "app.changes.impact",
    "app.changes.jobs",
    "app.changes.shadow",
    "app.changes.promote",
    "app.evaluations.models",
    "app.evaluations.deciding",
    "app.evaluations.service",
    "app.evaluations.writer",
    "app.evaluations.batch_body",
    "app.evaluations.linking",
    "app.evaluations.log",
    "app.etags",
    "app.reviews.models",
    "app.reviews.service",
    "app.reviews.queue",
    "app.reviews.stats",
    "app.forgetting",
    "app.subjects.models",
    "app.subjects.removal",
    "app.subjects.service",
    "app.subjects.retention",
    "app.auth.models",
    "app.auth.service",
    "app.idempotency.models",
    "app.idempotency.service",
    "app.webhooks.models",
    "app.webhooks.outbox",
    "app.webhooks.delivery",
    "app.webhooks.service",
    "app.webhooks.targets",
    "app.migrate",
    "app.cli",
    "app.monitoring.metrics",
    "app.monitoring.requestids",
    "app.monitoring.logs",
    "app.monitoring.pool",
    "app.monitoring.exposition",
    "app.monitoring.multiproc",
]


@pytest.mark.parametrize("module", FRAMEWORK_FREE)
def test_a_core_module_imports_no_web_framework(module: str) -> None:
    probe = f"import sys, {module}; print(sorted({{'fastapi', 'starlette'}} & set(sys.modules)))"

    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "[]", f"{module} imports {done.stdout.strip()}"
