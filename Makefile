# PartnerDesk set-up and daily commands. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_PASS_SKIPPED := PostgreSQL pass skipped: set PARTNERDESK_TEST_DATABASE_URL=postgres://user@host:5432/db to run the suite on PostgreSQL too

.PHONY: run test test-sqlite test-postgres fuzz lint lint-schema format setup browser clean bench soak

# Webhooks may go to receivers on this machine while developing (never in production).
run: setup
	PARTNERDESK_WEBHOOK_ALLOW_PRIVATE=true $(BIN)/partnerdesk serve --demo

test: setup browser test-sqlite test-postgres

# Each pass runs on pytest-xdist workers, as many as the machine has cores (PYTEST_WORKERS=0:
# one process); a worker is a session of its own, with its own database. A test module runs
# whole on one worker (--dist loadfile): its module and session fixtures (a server, Chromium)
# start once and the fuzz totals see the fuzz tests. Tests on the shared Redis take a
# PARTNERDESK_REDIS_PREFIX of their own, so workers never hear each other's events.
PYTEST_WORKERS ?= auto
# --no-loadscope-reorder: modules go out in the order tests/passes.py gives them, longest first.
PYTEST := $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The first pass lints and fuzzes 2,000 operations; the later passes fuzz 300 operations each.
REPEAT_PASS := PARTNERDESK_FUZZ_EXAMPLES=300

# Each database pass runs the suite twice: with the compiled read path (the default) and with
# every query going through the resolvers, which must answer identically. A test marked
# no_graphql (it sends no GraphQL operation to PartnerDesk) is left out of the passes with
# compiled reads off; one marked no_test_database (it touches no database of the backend under
# test) is left out of the PostgreSQL passes. tests/passes.py checks the marks at collection.
test-sqlite: setup
	@echo "== SQLite, compiled read path on"
	PARTNERDESK_TEST_BACKEND=sqlite $(PYTEST)
	@echo "== SQLite, compiled read path off"
	PARTNERDESK_TEST_BACKEND=sqlite PARTNERDESK_COMPILED_READS=false $(REPEAT_PASS) \
		$(PYTEST) -m "not no_graphql"

test-postgres: setup
	@if [ -n "$$PARTNERDESK_TEST_DATABASE_URL" ]; then \
		echo "== PostgreSQL pass ($$PARTNERDESK_TEST_DATABASE_URL)"; \
		PARTNERDESK_TEST_BACKEND=postgres $(REPEAT_PASS) $(PYTEST) -m "not no_test_database" && \
		echo "== PostgreSQL, compiled read path off" && \
		PARTNERDESK_TEST_BACKEND=postgres PARTNERDESK_COMPILED_READS=false $(REPEAT_PASS) \
			$(PYTEST) -m "not no_graphql and not no_test_database"; \
	else \
		echo "$(PG_PASS_SKIPPED)"; \
	fi

# A long fuzzing session: CI runs tests/test_fuzz.py with 2,000 generated operations, this
# with FUZZ_EXAMPLES (about 12 minutes on SQLite for 20,000). PARTNERDESK_TEST_BACKEND=postgres
# and PARTNERDESK_TEST_DATABASE_URL fuzz against PostgreSQL instead.
FUZZ_EXAMPLES ?= 20000
fuzz: setup
	PARTNERDESK_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -s tests/test_fuzz.py

# ruff (lint and format) and mypy on the code, then lint-schema on the exported schema.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	@$(MAKE) --no-print-directory lint-schema

# The exported schema against graphql-schema-linter's *-have-descriptions and Relay rules
# (configured in tools/package.json); part of `make lint`. Inside the test suite (no npm
# needed), tests/test_schema_descriptions.py requires every description too.
lint-schema: setup tools/node_modules/.package-lock.json
	$(BIN)/partnerdesk export-schema > tools/schema.graphql
	cd tools && node_modules/.bin/graphql-schema-linter schema.graphql

tools/node_modules/.package-lock.json: tools/package.json tools/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: npm is required to install graphql-schema-linter (tools/)"; exit 1; }
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

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

# PartnerDesk vs an asyncpg reference (four fair variants) vs PostGraphile v5 on a seeded
# PostgreSQL database (partnerdesk_bench), every workload with fixed and with rotating
# variables and tokens, then Q2 with 1 and 2 server processes (with redis-server); about 45
# minutes on a quiet machine, results in bench/RESULTS.md.
# BENCH_ARGS=--quick: smoke run (bench/RESULTS-quick.md).
bench: setup bench/peer/node_modules/.package-lock.json
	@command -v wrk >/dev/null 2>&1 || { echo "make: wrk is required (apt-get install -y wrk)"; exit 1; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Only the last step of `make bench`: Q2 rotating on `partnerdesk serve --workers 1` and
# `--workers 2` (its section of bench/RESULTS.md). WORKERS_ARGS=--quick: one round of 3 s.
.PHONY: bench-workers
bench-workers: setup
	@command -v wrk >/dev/null 2>&1 || { echo "make: wrk is required (apt-get install -y wrk)"; exit 1; }
	@command -v redis-server >/dev/null 2>&1 || { echo "make: redis-server is required (apt-get install -y redis-server)"; exit 1; }
	$(BIN)/python -m bench.workers $(WORKERS_ARGS)

# Ten minutes of mixed load on two `partnerdesk serve` processes with PostgreSQL, a private
# Redis, 500 subscriptions and the mail worker; checks and curves in bench/SOAK.md.
# Not part of CI. SOAK_ARGS=--quick: a 60 s smoke run (bench/SOAK-quick.md).
soak: setup $(VENV)/.soak-installed
	@command -v redis-server >/dev/null 2>&1 || { echo "make: redis-server is required (apt-get install -y redis-server)"; exit 1; }
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

# matplotlib draws the soak's curves; a bench-only requirement, not a dependency of the app.
$(VENV)/.soak-installed: bench/requirements-soak.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r bench/requirements-soak.txt
	@touch $@

bench/peer/node_modules/.package-lock.json: bench/peer/package.json bench/peer/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: npm is required to install PostGraphile (bench/peer)"; exit 1; }
	cd bench/peer && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clean:
	rm -rf $(VENV) static/node_modules tools/node_modules tools/schema.graphql *.egg-info .pytest_cache .mypy_cache .ruff_cache
