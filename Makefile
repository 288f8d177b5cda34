# The two commands: `make run` (embedded stack + demo) and `make test` (every test).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT_BASE ?= 8080

.PHONY: run test unit integration lint format bench install clean schemas browser promtool

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "escalation needs Python 3.11+; set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/escalation up --demo --policy config/policy.example.yaml --port-base $(PORT_BASE)

test: $(STAMP)
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration tests/acceptance

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

format: $(STAMP)
	$(BIN)/ruff format src tests bench tools
	$(BIN)/ruff check --fix src tests bench tools

bench: $(STAMP)
	$(BIN)/python -m bench

# The browser test drives Debian's chromium (Playwright's own browser download is not used).
browser:
	@if command -v chromium >/dev/null 2>&1; then \
	  echo "browser: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y --no-install-recommends chromium \
	    || { apt-get update && apt-get install -y --no-install-recommends chromium; }; \
	else \
	  echo "browser: chromium is missing; as root run: apt-get install chromium" >&2; exit 1; \
	fi

# The alert-rule tests and the scrape test run Debian's prometheus (promtool and the server).
promtool:
	@if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then \
	  echo "promtool: $$(command -v promtool)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y --no-install-recommends prometheus \
	    || { apt-get update && apt-get install -y --no-install-recommends prometheus; }; \
	else \
	  echo "promtool: prometheus is missing; as root run: apt-get install prometheus" >&2; exit 1; \
	fi

schemas: $(STAMP)
	$(BIN)/escalation schemas export

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
