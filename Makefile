# Peygir: `make run` starts everything on this machine, `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; a changed pyproject.toml installs again.
INSTALLED := $(VENV)/.installed

.PHONY: venv secrets migrate seed run test lint bench

venv: $(INSTALLED)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

secrets: venv
	$(BIN)/python scripts/secrets.py var/secrets.env

migrate: venv
	$(BIN)/python -m db.migrate

seed: venv
	$(BIN)/python -m db.seed

run: venv secrets
	$(BIN)/python scripts/dev.py

# The whole suite on SQLite; with PEYGIR_TEST_POSTGRES_URL set (CI sets it), the database,
# workflow, API and end-to-end tests run again on PostgreSQL.
test: venv
	$(BIN)/python -m pytest -q
	@if [ -n "$$PEYGIR_TEST_POSTGRES_URL" ]; then \
		echo "== again on PostgreSQL =="; \
		PEYGIR_TEST_DATABASE_URL="$$PEYGIR_TEST_POSTGRES_URL" $(BIN)/python -m pytest -q \
			tests/db tests/api tests/workflows tests/e2e; \
	fi

# mypy checks the files listed in pyproject.toml's [tool.mypy].
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# On SQLite; with BENCH_POSTGRES_URL set (a scratch database: its public schema is dropped), again
# on PostgreSQL. Each full run writes its database's section of docs/performance.md.
bench: venv
	@status=0; $(BIN)/python -m bench || status=1; \
	if [ -n "$$BENCH_POSTGRES_URL" ]; then \
		echo "== again on PostgreSQL =="; \
		BENCH_DATABASE_URL="$$BENCH_POSTGRES_URL" $(BIN)/python -m bench || status=1; \
	fi; \
	exit $$status
