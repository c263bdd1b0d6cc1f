# `make run` sets everything up from a fresh clone and serves the API on 127.0.0.1:8000.
# `make test` runs every check: lint, types, tests on SQLite and PostgreSQL, coverage, OpenAPI drift.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint openapi bench clean

$(BIN)/reflexe: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable ".[dev]"
	touch $@

run: $(BIN)/reflexe
	$(BIN)/reflexe serve --dev

lint: $(BIN)/reflexe
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

test: lint
	$(BIN)/pytest --cov --cov-report=term

# The load benchmark (bench/README.md); pass options with ARGS="--db postgresql --workers 2".
bench: $(BIN)/reflexe
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.load $(ARGS)

openapi: $(BIN)/reflexe
	$(BIN)/reflexe openapi

clean:
	rm -rf $(VENV) data .coverage .pytest_cache .mypy_cache .ruff_cache
