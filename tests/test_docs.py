"""The README documents what the service actually offers."""

import json
from pathlib import Path

from app.cli import render_openapi
from app.settings import Settings

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_readme_documents_every_setting() -> None:
    for name in Settings.model_fields:
        assert f"`REFLEXE_{name.upper()}`" in README, f"REFLEXE_{name.upper()} is undocumented"


def test_readme_has_a_curl_example_for_every_endpoint() -> None:
    paths = json.loads(render_openapi())["paths"]

    for path in paths:
        prefix = path.split("{")[0].rstrip("/")
        assert f"localhost:8000{prefix}" in README, f"no curl example for {path}"


def test_readme_opens_with_the_run_and_test_commands() -> None:
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()

    assert [line.split("#")[0].strip() for line in first_block] == ["make run", "make test"]
