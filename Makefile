# zlb-health developer commands. `make test` is exactly what CI runs (.ci/run calls it).
SHELL := /bin/bash
.DEFAULT_GOAL := help
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
# sam build needs a python3.13 on PATH for the python3.13 runtime; pyenv provides it here.
PY313_PYENV ?= 3.11.7:3.13.0

.PHONY: help venv lint typecheck audit template-check build pytest test run bench check-fresh clean

help:
	@echo "make run    - run the monitor end to end locally (emulator + local AWS), no account needed"
	@echo "make test   - lint, type checks, security audit, template checks, sam build, all tests"
	@echo "make bench  - benchmarks; writes docs/benchmarks.md"

$(BIN)/.stamp: pyproject.toml src/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

$(SAM_VENV)/.stamp:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli==1.170.0 cfn-lint==1.58.0
	touch $@

$(CHECKOV_VENV)/.stamp:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q checkov==3.3.30
	touch $@

venv: $(BIN)/.stamp

lint: venv
	$(BIN)/ruff check src tools tests bench
	$(BIN)/ruff format --check src tools tests bench

typecheck: venv
	$(BIN)/mypy

audit: venv $(CHECKOV_VENV)/.stamp
	$(BIN)/bandit -q -c pyproject.toml -r src tools
	$(CHECKOV_VENV)/bin/checkov --quiet --compact -f template.yaml --framework cloudformation

template-check: $(SAM_VENV)/.stamp
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml
	$(SAM_VENV)/bin/cfn-lint template.yaml

build: $(SAM_VENV)/.stamp
	PYENV_VERSION=$(PY313_PYENV) $(SAM_VENV)/bin/sam build --template template.yaml

pytest: venv
	$(BIN)/pytest

test: lint typecheck audit template-check build pytest

run: venv
	$(BIN)/zlb-health demo

bench: venv build
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
