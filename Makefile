# Sportello: `make run` starts everything, `make test` runs the whole suite. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)

# The test suite runs its own infrastructure on other ports, so it never disturbs `make run`.
TEST_ENV := SPORTELLO_RUN_DIR=$(CURDIR)/.run/test SPORTELLO_KAFKA_PORT=19092 SPORTELLO_MONGO_PORT=27018

.PHONY: help venv install-infra infra-up infra-down infra-status run start stop status test lint unit bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@command -v python3 >/dev/null || { echo "serve Python 3.11+ (python3)"; exit 1; }
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP) ## create the virtualenv with the pinned dependencies

install-infra: ## download Kafka and build FerretDB (cached in ~/.cache/sportello)
	deploy/infra.sh install

infra-up: ## start Kafka and FerretDB (unless KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI are set)
	deploy/infra.sh start

infra-down: ## stop Kafka and FerretDB started by infra-up
	deploy/infra.sh stop

infra-status:
	deploy/infra.sh status

run: venv ## install what is missing, start everything, print the URLs; Ctrl-C stops it all
	@deploy/infra.sh start
	@trap 'deploy/infra.sh stop' EXIT; SPORTELLO_ENV=$${SPORTELLO_ENV:-dev} $(PY) -m deploy.system run

start: venv ## start everything in the background (stop with `make stop`)
	@deploy/infra.sh start
	@SPORTELLO_ENV=$${SPORTELLO_ENV:-dev} $(PY) -m deploy.system start
	@SPORTELLO_ENV=$${SPORTELLO_ENV:-dev} $(PY) -m services.intake.entrypoints.cli seed-demo

stop: ## stop every process `make run` or `make start` started
	@if [ -x $(PY) ]; then $(PY) -m deploy.system stop; fi
	@deploy/infra.sh stop

status: ## what is running
	@deploy/infra.sh status || true
	@$(PY) -m deploy.system status

lint: venv ## ruff check, ruff format --check, import contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

unit: venv ## the fast tests, no infrastructure
	$(PY) -m pytest tests/unit -q

test: venv lint ## lint + the whole suite against real Kafka and FerretDB (started and stopped here)
	@if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ] || [ -z "$$MONGODB_URI" ]; then deploy/infra.sh install; fi
	@deploy/browser.sh
	@$(TEST_ENV) deploy/test.sh $(PY) -m pytest $(PYTEST_ARGS)

bench: venv ## benchmarks against the machine's own ceilings (prints a markdown table)
	@$(TEST_ENV) deploy/test.sh $(PY) -m bench.run $(BENCH_ARGS)

clean: ## remove the virtualenv and runtime data (caches in ~/.cache/sportello stay)
	rm -rf $(VENV) .run
