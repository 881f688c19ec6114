# assembly: the server that runs a federation's General Assembly.
#
#   make demo   seed a demo assembly on SQLite and serve it on http://$(HOST):$(PORT)
#               (HOST=127.0.0.1 and PORT=8000 unless given: make demo PORT=8080)
#   make test   ruff (lint and format), mypy, then pytest on SQLite and, side by side with
#               it, pytest on PostgreSQL when ASSEMBLY_TEST_DATABASE_URL is set (without the
#               browser and Redis tests, which the SQLite run has; its two-process scale-out
#               test makes a database of its own on that PostgreSQL server); every step runs,
#               and the summary names the steps that failed
#
# Both create .venv on first use and install the package with its dev tools into it; later
# runs reinstall only when pyproject.toml changes. pytest-sqlite also installs axe-core, pinned
# by tests/e2e/package-lock.json, into tests/e2e/node_modules with `npm ci` (the browser
# tests' accessibility checks inject it; without npm they skip, and fail in CI). JUNIT_DIR=dir
# makes pytest write JUnit reports dir/sqlite.xml and dir/postgresql.xml; PYTEST_ARGS adds
# arguments to pytest.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
JUNIT_DIR ?=
PYTEST_ARGS ?=

# Touched after a successful install: make compares its time with pyproject.toml's.
INSTALLED := $(VENV)/.installed-dev
# axe-core for the browser tests' accessibility checks; reinstalled when the lock file changes.
E2E_NODE := tests/e2e
AXE := $(E2E_NODE)/node_modules/axe-core/axe.min.js
LINT_PATHS := src tests migrations scripts
CHECK_STEPS := lint format-check typecheck
TEST_STEPS := $(CHECK_STEPS) pytest-sqlite pytest-postgresql

# $(call junit,name): the pytest option writing $(JUNIT_DIR)/name.xml, when JUNIT_DIR is set.
junit = $(if $(JUNIT_DIR),--junitxml=$(JUNIT_DIR)/$(1).xml)

.DEFAULT_GOAL := help
.PHONY: help demo test screenshots axe-core $(TEST_STEPS)

help:
	@sed -n 's/^#   \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -e '.[dev]'
	@touch $@

$(AXE): $(E2E_NODE)/package-lock.json
	npm ci --prefix $(E2E_NODE) --no-audit --no-fund
	@touch $@

# Not fatal: without axe-core the accessibility tests say why they skip (or fail, in CI).
axe-core:
	@if command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory $(AXE) || echo "axe-core: npm ci failed (see above)"; \
	else \
		echo "axe-core: npm is missing, so the accessibility tests will not run"; \
	fi

demo: $(INSTALLED)
	$(BIN)/assembly demo --host $(HOST) --port $(PORT)

screenshots: $(INSTALLED)
	$(BIN)/python scripts/screenshots.py

test: $(INSTALLED)
	@failed=""; \
	for step in $(CHECK_STEPS); do \
		echo "== make test: $$step"; \
		$(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	echo "== make test: pytest-sqlite and pytest-postgresql side by side (lines prefixed)"; \
	( $(MAKE) --no-print-directory pytest-sqlite 2>&1 | sed -u 's/^/[sqlite] /'; \
	  exit $${PIPESTATUS[0]} ) & sqlite=$$!; \
	( $(MAKE) --no-print-directory pytest-postgresql 2>&1 | sed -u 's/^/[postgresql] /'; \
	  exit $${PIPESTATUS[0]} ) & postgresql=$$!; \
	wait $$sqlite || failed="$$failed pytest-sqlite"; \
	wait $$postgresql || failed="$$failed pytest-postgresql"; \
	if [ -n "$$failed" ]; then echo "== make test: FAILED:$$failed"; exit 1; fi; \
	echo "== make test: all steps passed"

# The steps of `make test`, one per target so that each can also be run alone.
lint: $(INSTALLED)
	$(BIN)/ruff check $(LINT_PATHS)

format-check: $(INSTALLED)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(INSTALLED)
	$(BIN)/mypy

pytest-sqlite: $(INSTALLED) axe-core
	@$(if $(JUNIT_DIR),mkdir -p $(JUNIT_DIR) && rm -f $(JUNIT_DIR)/sqlite.xml)
	env -u ASSEMBLY_TEST_DATABASE_URL \
		ASSEMBLY_TEST_SCALEOUT_DATABASE_URL="$${ASSEMBLY_TEST_SCALEOUT_DATABASE_URL:-$$ASSEMBLY_TEST_DATABASE_URL}" \
		$(BIN)/pytest $(call junit,sqlite) $(PYTEST_ARGS)

pytest-postgresql: $(INSTALLED)
	@$(if $(JUNIT_DIR),mkdir -p $(JUNIT_DIR) && rm -f $(JUNIT_DIR)/postgresql.xml)
	@if [ -z "$$ASSEMBLY_TEST_DATABASE_URL" ]; then \
		echo "pytest on PostgreSQL: not run (ASSEMBLY_TEST_DATABASE_URL is not set)"; \
	else \
		echo "$(BIN)/pytest -m 'not e2e and not redis' $(call junit,postgresql) $(PYTEST_ARGS)"; \
		$(BIN)/pytest -m 'not e2e and not redis' $(call junit,postgresql) $(PYTEST_ARGS); \
	fi
