# The two commands of the quick start: `make demo` and `make test`. Everything else is a helper.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: all venv synth demo up test test-unit test-e2e lint openapi clean bench bench-cold-start bench-retention bench-burst bench-lake browser

all: venv

$(VENV)/.installed: requirements.txt pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .  # installs .venv/bin/dsr
	@touch $@

venv: $(VENV)/.installed

synth: venv  ## synthesize the CDK app into cdk.out (no AWS credentials needed)
	$(PY) app.py

demo: venv  ## deploy into the in-process local cloud, seed subjects, erase one, print the report (V=1: and the logs)
	$(PY) -m local demo $(if $(V),-v)

up: venv synth  ## run the local cloud in the foreground (AWS_PORT, API_PORT, SEED, DATAMAP)
	$(PY) -m local up

test: venv lint browser  ## the whole suite; e2e runs in its own process (its session-wide cloud patches moto)
	$(PY) -m pytest -q tests/unit tests/infra tests/integration
	$(PY) -m pytest -q tests/e2e

test-unit: venv
	$(PY) -m pytest -q tests/unit

test-e2e: venv
	$(PY) -m pytest -q tests/e2e

bench: bench-cold-start bench-retention bench-burst bench-lake  ## every benchmark; each writes its own keys of bench/results.json

bench-cold-start: venv  ## each handler's import time (RUNS=7 fresh interpreters, median) against the 300 ms goal
	$(PY) -m bench.cold_start --runs $(or $(RUNS),7)

bench-retention: venv  ## retention benchmark on the local cloud (SIZE=100000 items and objects)
	$(PY) -m bench.retention_bench --size $(or $(SIZE),100000)

bench-burst: venv  ## the local API's filings per second under a burst (BURST=100 filings from 20 threads)
	$(PY) -m bench.burst_bench --filings $(or $(BURST),100)

bench-lake: venv  ## erase 10 subjects from a moto Parquet lake (FILES=100 of ROWS=100000 rows, ~10 MB each; FPP=0.001)
	$(PY) -m bench.lake_bench --files $(or $(FILES),100) --rows $(or $(ROWS),100000) --fpp $(or $(FPP),0.001)

openapi: venv  ## regenerate docs/openapi.json from the intake API's routes (a test fails when it drifts)
	$(PY) -m functions.handlers.intake > docs/openapi.json

lint: venv  ## ruff (lint and format), the import contracts in pyproject.toml (layers, no cycles)
	$(VENV)/bin/ruff check app.py infra functions local tests cli bench
	$(VENV)/bin/ruff format --check --quiet app.py infra functions local tests cli bench
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy functions infra cli

# The request-form test drives Debian's Chromium (no browser downloads here). As root with apt-get we install
# it; anywhere else we say what to install rather than fail halfway through the suite.
browser:
	@command -v chromium >/dev/null && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's chromium for the request-form test (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "make test needs Chromium for the request-form test: run 'sudo apt-get install chromium' first"; exit 1; \
	fi

clean:
	rm -rf cdk.out .build .local
