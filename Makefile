# Two commands on a fresh clone: `make run` starts the mock, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SPEC := openapi/identify-face.yaml
ADMIN_SPEC := openapi/admin.yaml
HOST ?= 127.0.0.1
PORT ?= 8000
# More `kling-mock serve` flags: make run ARGS="--admin --tick-ms 0"
ARGS ?=
# make contract BASE_URL=https://... MAX_EXAMPLES=50 JUNIT=reports/contract.xml [ANY_TOKEN=1]
BASE_URL ?=
MAX_EXAMPLES ?=
JUNIT ?=
ANY_TOKEN ?=

.PHONY: run test lint spec-lint pytest contract bench clean

# The virtual environment, rebuilt when the project's dependencies change.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(VENV)/.installed
	$(BIN)/kling-mock serve --host $(HOST) --port $(PORT) $(ARGS)

test: lint spec-lint pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

spec-lint: $(VENV)/.installed node_modules/.installed
	$(BIN)/openapi-spec-validator $(SPEC) $(ADMIN_SPEC)
	npx --no-install spectral lint --fail-severity=error $(SPEC) $(ADMIN_SPEC)

pytest: $(VENV)/.installed
	$(BIN)/pytest

contract: $(VENV)/.installed
	$(BIN)/kling-mock contract $(if $(BASE_URL),--base-url $(BASE_URL)) $(if $(MAX_EXAMPLES),--max-examples $(MAX_EXAMPLES)) \
		$(if $(JUNIT),--junit $(JUNIT)) $(if $(ANY_TOKEN),--any-token)

bench: $(VENV)/.installed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
