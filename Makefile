# Frontline — `make run` starts the embedded app, `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
UV_VERSION := $(shell sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements.lock)

# Tests and benchmarks run against the real services on 127.0.0.1.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/frontline
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
TEST_ENV := DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	SECRET_KEY=test-only-secret-key-not-for-production-use-0123456789 \
	SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false CSRF_COOKIE_SECURE=false \
	LOG_LEVEL=WARNING

.PHONY: install run test bench conformance lint format lock browser clean

install: $(VENV)/.installed ## create .venv with the locked dependencies (no-op when current)

$(VENV)/.installed: requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --quiet --python $(BIN)/python --require-hashes requirements.lock
	@touch $@

run: install ## embedded mode: migrate, demo data, then web + worker + beat (Ctrl-C stops all)
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python manage.py migrate --noinput
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python manage.py seed_demo
	env -u DATABASE_URL -u REDIS_URL PATH="$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

test: install browser ## the whole suite on PostgreSQL and Redis
	$(BIN)/ruff check --quiet .
	$(BIN)/lint-imports --no-cache > /dev/null || $(BIN)/lint-imports --no-cache
	$(TEST_ENV) $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks get a database of their own, created and migrated on first use.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/frontline_bench
BENCH_ENV := $(TEST_ENV) DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=redis://127.0.0.1:6379/9

bench: install ## benchmarks in tests/benchmarks (not part of the test run)
	@$(BENCH_ENV) $(BIN)/python tests/benchmarks/ensure_database.py
	@$(BENCH_ENV) $(BIN)/python manage.py migrate --noinput --verbosity 0
	@set -e; for f in tests/benchmarks/bench_*.py; do \
		echo "== $$f"; $(BENCH_ENV) $(BIN)/python $$f; done

# The ADL LRS conformance suite (tests/conformance/run.py), each xAPI version on a throwaway
# database and a private Redis db: CONFORMANCE_VERSIONS="1.0.3 2.0.0", CONFORMANCE_GREP=regex,
# CONFORMANCE_TIMEOUT=seconds. Needs node and npm; not part of `make test`.
CONFORMANCE_REDIS_URL ?= redis://127.0.0.1:6379/10

conformance: install ## the ADL xAPI conformance suite against a throwaway Frontline
	$(TEST_ENV) CONFORMANCE_REDIS_URL=$(CONFORMANCE_REDIS_URL) $(BIN)/python tests/conformance/run.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: ## re-resolve requirements.lock from pyproject.toml
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install --quiet uv; }
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 --quiet -o requirements.lock

browser: ## Debian's Chromium for the browser tests (Playwright drives it; no browser download)
	@test -x /usr/bin/chromium || { \
		echo "installing chromium (apt)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

clean:
	rm -rf $(VENV) var staticfiles
