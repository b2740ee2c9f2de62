# PartnerDesk set-up and daily commands. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_PASS_SKIPPED := PostgreSQL pass skipped: set PARTNERDESK_TEST_DATABASE_URL=postgres://user@host:5432/db to run the suite on PostgreSQL too

.PHONY: run test test-sqlite test-postgres lint format setup clean

run: setup
	$(BIN)/partnerdesk serve --demo

test: setup test-sqlite test-postgres

test-sqlite: setup
	PARTNERDESK_TEST_BACKEND=sqlite $(BIN)/pytest

test-postgres: setup
	@if [ -n "$$PARTNERDESK_TEST_DATABASE_URL" ]; then \
		echo "== PostgreSQL pass ($$PARTNERDESK_TEST_DATABASE_URL)"; \
		PARTNERDESK_TEST_BACKEND=postgres PARTNERDESK_SKIP_LINT_TESTS=1 $(BIN)/pytest; \
	else \
		echo "$(PG_PASS_SKIPPED)"; \
	fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

setup: $(VENV)/.installed static/node_modules/.package-lock.json

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ echo "make: PartnerDesk needs Python 3.11 or newer as '$(PYTHON)' (try: make PYTHON=python3.11 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

static/node_modules/.package-lock.json: static/package.json static/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: npm is required to install the browser packages (GraphiQL, React)"; exit 1; }
	cd static && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clean:
	rm -rf $(VENV) static/node_modules *.egg-info .pytest_cache .mypy_cache .ruff_cache
