# Esper: `make help` lists the targets (from their `## ` comments).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.esper-installed
# torch's pin lives in requirements/constraints.in, which every lock file obeys.
TORCH_VERSION ?= $(shell sed -n 's/^torch==//p' requirements/constraints.in)
UV := $(VENV)/bin/uv
# Lock files (requirements/*.txt): resolved by uv for CPython 3.11 on Linux x86_64.
LOCK_FLAGS := --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  -c requirements/constraints.in --custom-compile-command "make lock" -q
# Debian packages the suite needs (installed with apt-get when missing):
# chromium for the dashboard's browser tests, prometheus for promtool and a real
# Prometheus in the alert-rule tests (both skip, saying so, without them).
SYSTEM_PACKAGES ?= chromium prometheus
PYTEST_ARGS ?=
UP_ARGS ?=
# The SDK generators, pinned so `make clients` is reproducible (the TypeScript
# ones are pinned in clients/typescript/package-lock.json).
OPENAPI_PYTHON_CLIENT_VERSION ?= 0.29.1
GEN_VENV ?= .venv-clients
# Every Python tree that ruff lints and formats.
PY_SOURCES := app workers api_schemas esper tests load experiments tools

.DEFAULT_GOAL := help
.PHONY: help install system-deps run test lint format bench-quick clean clients config-doc lock

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstalls only when pyproject.toml or the lock changes (or the venv is new).
# The lock is a constraint, so a dependency added to pyproject.toml but not yet
# locked still installs (and tests/unit/test_lock_files.py flags the stale lock).
$(STAMP): pyproject.toml requirements/dev.txt clients/python/pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the range in pyproject would otherwise pull CUDA wheels
	$(PY) -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(PY) -m pip install --quiet -c requirements/dev.txt -e '.[local,test]'
	$(PY) -m pip install --quiet -e ./clients/python
	touch $(STAMP)

install: $(STAMP) ## Create .venv if needed; install Esper for esper up and the tests (.[local,test], locked)

# The development lock takes torch's CPU wheel where pip finds it (PIP_FIND_LINKS,
# as on this project's machines), so it holds no CUDA packages; torch itself is
# left out of it and installed first, pinned. The image locks (with s3 for an
# object store) come from PyPI alone.
lock: install ## Re-resolve the lock files under requirements/ (uv pip compile)
	$(UV) pip compile pyproject.toml --extra gateway --extra s3 $(LOCK_FLAGS) \
	  --generate-hashes -o requirements/gateway.txt
	$(UV) pip compile pyproject.toml --extra worker --extra s3 $(LOCK_FLAGS) \
	  --generate-hashes -o requirements/worker.txt
	echo "$(if $(PIP_FIND_LINKS),torch==$(TORCH_VERSION)+cpu)" | \
	  $(UV) pip compile pyproject.toml --extra local --extra test $(LOCK_FLAGS) -c - \
	  $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS) --no-emit-find-links) \
	  --no-emit-package torch -o requirements/dev.txt

system-deps: ## Install the Debian packages the test suite needs (if any are missing)
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq $$missing; } || \
	  echo "warning: could not install$$missing; tests needing them will skip"; fi

run: install ## Start the all-in-one local stack (esper up): Redis, gateway, a worker, a demo run
	$(VENV)/bin/esper up $(UP_ARGS)

test: install system-deps ## Run the whole test suite (unit, integration, end-to-end)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install ## Ruff (lint, and the format check) and mypy (strict, files in pyproject [tool.mypy]) over the code and the tests
	$(VENV)/bin/ruff check $(PY_SOURCES)
	$(VENV)/bin/ruff format --check $(PY_SOURCES)
	$(VENV)/bin/mypy

format: install ## Rewrite the code and the tests in the house format (ruff format)
	$(VENV)/bin/ruff format $(PY_SOURCES)

config-doc: install ## Regenerate docs/configuration.md from the settings classes
	$(PY) -m tools.config_reference > docs/configuration.md

$(GEN_VENV)/.v$(OPENAPI_PYTHON_CLIENT_VERSION):
	$(PYTHON) -m venv $(GEN_VENV)
	$(GEN_VENV)/bin/pip install --quiet "openapi-python-client==$(OPENAPI_PYTHON_CLIENT_VERSION)"
	touch $@

clients: install $(GEN_VENV)/.v$(OPENAPI_PYTHON_CLIENT_VERSION) ## Regenerate clients/ (openapi.json, asyncapi.json, the Python and TypeScript SDKs) from the app
	$(PY) -m app.contract clients
	$(GEN_VENV)/bin/openapi-python-client generate --path clients/openapi.json \
	  --meta none --output-path clients/python/esper_client --overwrite \
	  --config clients/python-client.yaml
	touch clients/python/esper_client/py.typed
	cd clients/typescript && npm ci --no-audit --no-fund --silent && \
	  npm run --silent generate && npm run --silent build

bench-quick: install ## Short runs of the load/ benchmarks that print their figures
	@for s in $$($(PY) -c 'from load.__main__ import SCENARIOS; print(*SCENARIOS)'); do \
	  echo "== $$s"; $(PY) -m load $$s --quick || exit 1; done

clean: ## Remove local state (./var), caches and the install stamp (keeps .venv)
	rm -rf var .pytest_cache .ruff_cache .mypy_cache test-artifacts *.egg-info $(STAMP)
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
