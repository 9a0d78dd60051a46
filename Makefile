# The two commands of the README: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HEADSET_JS := agents_ui/static/vendor/jssip.min.js

.PHONY: demo test lint unit quick screenshots bench-tickets bench-routing bench-threshold bench-sip bench-voice bench-kb bench-reports bench-chaos system-demo system-test services clean

$(STAMP): pyproject.toml requirements.lock $(HEADSET_JS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	@touch $@

# The console headset's SIP library (JsSIP), bundled into the static files from the npm
# registry at install, at the versions package-lock.json pins; nothing is fetched at run time.
$(HEADSET_JS): agents_ui/phone/package.json agents_ui/phone/package-lock.json
	@scripts/node.sh
	cd agents_ui/phone && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

system-demo:
	@scripts/system-packages.sh demo

system-test:
	@scripts/system-packages.sh test

services: system-test
	@scripts/services.sh

## Start the whole system with demo data on http://127.0.0.1:8000 (SQLite, local Redis).
demo: system-demo $(STAMP)
	$(BIN)/hotline demo

## Lint, then the full test suite on SQLite and PostgreSQL (with Redis).
test: services $(STAMP) lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

## Fast loop: unit tests only, no services.
unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q

## Everything but the tests marked slow (demo load, real processes).
quick: services $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

## Browser tests again, saving every page they visit to docs/screenshots.
screenshots: services $(STAMP)
	HOTLINE_TEST_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/e2e tests/telephony/test_console_calls.py

## Sustained create+dispatch rate through the HTTP API on PostgreSQL (prints JSON).
bench-tickets: services $(STAMP)
	$(BIN)/python -m bench.tickets

## Routing classifier: 5-fold macro-F1, training time and latency on ../shared/data (prints JSON).
bench-routing: $(STAMP)
	$(BIN)/python -m bench.routing

## Auto-dispatch threshold: share dispatched and precision per threshold, real data and demo (prints JSON).
bench-threshold: $(STAMP)
	$(BIN)/python -m bench.threshold

## Knowledge-base search on the shared replies with 10,000+ distractors (prints JSON).
bench-kb: $(STAMP)
	$(BIN)/python -m bench.knowledge

## Reports: 1,000,000 tickets in PostgreSQL; a month's KPIs and one weekly brief PDF (prints JSON).
bench-reports: services $(STAMP)
	$(BIN)/python -m bench.reporting

## Calls through Kamailio, the ACD and 50 auto-answering seats, driven by sipp (prints JSON).
bench-sip: services $(STAMP)
	$(BIN)/python -m bench.sip

## Voice through browser headsets: mouth-to-ear delay, idle seat cost, calls with operators (prints JSON).
bench-voice: services $(STAMP)
	$(BIN)/python -m bench.voice

## Kills and outages in turn on the real demo under calls and tickets; goal figures (prints JSON).
bench-chaos: system-test $(STAMP)
	$(BIN)/python -m bench.chaos

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
