# assembly: the server that runs a federation's General Assembly.
#
#   make demo   seed a demo assembly on SQLite and serve it on http://$(HOST):$(PORT)
#               (HOST=127.0.0.1 and PORT=8000 unless given: make demo PORT=8080)
#   make test   ruff (lint and format), mypy, pytest on SQLite, then pytest again on
#               PostgreSQL when ASSEMBLY_TEST_DATABASE_URL is set (without the browser
#               tests); every step runs, and the summary names the steps that failed
#
# Both create .venv on first use and install the package with its dev tools into it; later
# runs reinstall only when pyproject.toml changes. JUNIT_DIR=dir makes pytest write JUnit
# reports dir/sqlite.xml and dir/postgresql.xml; PYTEST_ARGS adds arguments to pytest.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
JUNIT_DIR ?=
PYTEST_ARGS ?=

# Touched after a successful install: make compares its time with pyproject.toml's.
INSTALLED := $(VENV)/.installed-dev
LINT_PATHS := src tests migrations
TEST_STEPS := lint format-check typecheck pytest-sqlite pytest-postgresql

# $(call junit,name): the pytest option writing $(JUNIT_DIR)/name.xml, when JUNIT_DIR is set.
junit = $(if $(JUNIT_DIR),--junitxml=$(JUNIT_DIR)/$(1).xml)

.DEFAULT_GOAL := help
.PHONY: help demo test $(TEST_STEPS)

help:
	@sed -n 's/^#   \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -e '.[dev]'
	@touch $@

demo: $(INSTALLED)
	$(BIN)/assembly demo --host $(HOST) --port $(PORT)

test: $(INSTALLED)
	@failed=""; \
	for step in $(TEST_STEPS); do \
		echo "== make test: $$step"; \
		$(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	if [ -n "$$failed" ]; then echo "== make test: FAILED:$$failed"; exit 1; fi; \
	echo "== make test: all steps passed"

# The steps of `make test`, one per target so that each can also be run alone.
lint: $(INSTALLED)
	$(BIN)/ruff check $(LINT_PATHS)

format-check: $(INSTALLED)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(INSTALLED)
	$(BIN)/mypy

pytest-sqlite: $(INSTALLED)
	@$(if $(JUNIT_DIR),mkdir -p $(JUNIT_DIR) && rm -f $(JUNIT_DIR)/sqlite.xml)
	env -u ASSEMBLY_TEST_DATABASE_URL $(BIN)/pytest $(call junit,sqlite) $(PYTEST_ARGS)

pytest-postgresql: $(INSTALLED)
	@$(if $(JUNIT_DIR),mkdir -p $(JUNIT_DIR) && rm -f $(JUNIT_DIR)/postgresql.xml)
	@if [ -z "$$ASSEMBLY_TEST_DATABASE_URL" ]; then \
		echo "pytest on PostgreSQL: not run (ASSEMBLY_TEST_DATABASE_URL is not set)"; \
	else \
		echo "$(BIN)/pytest -m 'not e2e' $(call junit,postgresql) $(PYTEST_ARGS)"; \
		$(BIN)/pytest -m 'not e2e' $(call junit,postgresql) $(PYTEST_ARGS); \
	fi
