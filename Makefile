# PartnerDesk set-up and daily commands. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_PASS_SKIPPED := PostgreSQL pass skipped: set PARTNERDESK_TEST_DATABASE_URL=postgres://user@host:5432/db to run the suite on PostgreSQL too

.PHONY: run test test-sqlite test-postgres fuzz lint format setup browser clean bench

# Webhooks may go to receivers on this machine while developing (never in production).
run: setup
	PARTNERDESK_WEBHOOK_ALLOW_PRIVATE=true $(BIN)/partnerdesk serve --demo

test: setup browser test-sqlite test-postgres

# The first pass lints and fuzzes 2,000 operations; the later passes skip the lint and fuzz
# 300 operations each, which keeps the whole of `make test` near ten minutes.
REPEAT_PASS := PARTNERDESK_SKIP_LINT_TESTS=1 PARTNERDESK_FUZZ_EXAMPLES=300

# Each database pass runs the suite twice: with the compiled read path (the default) and with
# every query going through the resolvers, which must answer identically.
test-sqlite: setup
	PARTNERDESK_TEST_BACKEND=sqlite $(BIN)/pytest
	@echo "== SQLite, compiled read path off"
	PARTNERDESK_TEST_BACKEND=sqlite PARTNERDESK_COMPILED_READS=false $(REPEAT_PASS) $(BIN)/pytest

test-postgres: setup
	@if [ -n "$$PARTNERDESK_TEST_DATABASE_URL" ]; then \
		echo "== PostgreSQL pass ($$PARTNERDESK_TEST_DATABASE_URL)"; \
		PARTNERDESK_TEST_BACKEND=postgres $(REPEAT_PASS) $(BIN)/pytest && \
		echo "== PostgreSQL, compiled read path off" && \
		PARTNERDESK_TEST_BACKEND=postgres PARTNERDESK_COMPILED_READS=false $(REPEAT_PASS) $(BIN)/pytest; \
	else \
		echo "$(PG_PASS_SKIPPED)"; \
	fi

# A long fuzzing session: CI runs tests/test_fuzz.py with 2,000 generated operations, this
# with FUZZ_EXAMPLES (about 12 minutes on SQLite for 20,000). PARTNERDESK_TEST_BACKEND=postgres
# and PARTNERDESK_TEST_DATABASE_URL fuzz against PostgreSQL instead.
FUZZ_EXAMPLES ?= 20000
fuzz: setup
	PARTNERDESK_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -s tests/test_fuzz.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

setup: $(VENV)/.installed static/node_modules/.package-lock.json

# Debian's Chromium for the browser tests (tests/test_browser.py); a no-op once installed.
browser:
	@if dpkg -s chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "== installing chromium for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || \
		{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; } || \
		echo "make: could not install chromium; the browser tests will be skipped"; \
	else \
		echo "make: chromium is not installed and installing it needs root; the browser tests will be skipped"; \
	fi

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

# PartnerDesk vs an asyncpg reference vs PostGraphile v5 on a seeded PostgreSQL database
# (partnerdesk_bench); about 10 minutes, results in bench/RESULTS.md. BENCH_ARGS=--quick: smoke run.
bench: setup bench/peer/node_modules/.package-lock.json
	@command -v wrk >/dev/null 2>&1 || { echo "make: wrk is required (apt-get install -y wrk)"; exit 1; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench/peer/node_modules/.package-lock.json: bench/peer/package.json bench/peer/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: npm is required to install PostGraphile (bench/peer)"; exit 1; }
	cd bench/peer && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clean:
	rm -rf $(VENV) static/node_modules *.egg-info .pytest_cache .mypy_cache .ruff_cache
