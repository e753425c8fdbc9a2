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
# Stand-in for the Lambda python3.13 runtime (tests/integration/test_built_artifact.py runs the
# built artifact with it): python3.13 with boto3 and nothing else, as the runtime provides.
LAMBDA_VENV := .venv-lambda313
# mutmut in a venv of its own (the test dependencies from pyproject.toml, not the project itself:
# the mutated copy must be the only zlb_health on sys.path).
MUTATION_VENV := .venv-mutation
MUTMUT_VERSION := 3.8.1
# sam build needs a python3.13 on PATH for the python3.13 runtime; pyenv provides it here.
PY313_PYENV ?= 3.11.7:3.13.0

.PHONY: help venv lambda-venv lint typecheck audit template-check build pytest test run bench mutation check-fresh clean

help:
	@echo "make run    - run the monitor end to end locally (emulator + local AWS), no account needed"
	@echo "make test   - lint, type checks, security audit, template checks, sam build, all tests"
	@echo "make bench  - benchmarks; writes docs/benchmarks.md"
	@echo "make mutation [MUTATE=paths] - mutation testing with the unit tests; docs/mutation.md"

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

# boto3 is pinned to the version the dev env resolved (pyproject: boto3>=1.34), so the code is
# tested against one boto3 everywhere; the runtime's bundled boto3 is not a published, fixed
# version (AWS updates it), so there is no version to mirror exactly. Rebuilt with the dev env.
$(LAMBDA_VENV)/.stamp: $(BIN)/.stamp
	rm -rf $(LAMBDA_VENV)
	PYENV_VERSION=$(PY313_PYENV) python3.13 -m venv $(LAMBDA_VENV)
	boto3_version=$$($(BIN)/python -c 'from importlib.metadata import version; print(version("boto3"))') \
		&& $(LAMBDA_VENV)/bin/pip install -q "boto3==$$boto3_version"
	touch $@

venv: $(BIN)/.stamp

lambda-venv: $(LAMBDA_VENV)/.stamp

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

# build + lambda-venv: the built artifact is tested under python3.13 (test_built_artifact.py).
pytest: venv build lambda-venv
	$(BIN)/pytest

test: lint typecheck audit template-check build pytest

run: venv
	$(BIN)/zlb-health demo

# Benchmarks (docs/benchmarks.md). The function process runs the sam build bundle on
# .venv-lambda313's python3.13 (as Lambda would), so `build` and `lambda-venv` first. Waits up
# to BENCH_WAIT seconds for a quiet machine (1-min load < 1.5), then runs anyway (the load
# average is recorded). Subsets: make bench BENCH_ARGS="--only a,cold,mem".
BENCH_WAIT ?= 300
BENCH_ARGS ?=
bench: venv build lambda-venv
	$(BIN)/python bench/run.py --wait-quiet $(BENCH_WAIT) $(BENCH_ARGS)

# Mutation testing (docs/mutation.md), not part of `make test`: mutmut on the paths in MUTATE,
# killed by tests/unit alone, in a staged copy under build/mutation. Fails below MUTATION_MIN %
# (detected / non-equivalent mutants) in any module. One module at a time while iterating:
# make mutation MUTATE=src/zlb_health/config.py
MUTATE ?= src/zlb_health/engine src/zlb_health/zenlayer src/zlb_health/config.py
MUTATION_JOBS ?= 2
MUTATION_MIN ?= 95

$(MUTATION_VENV)/.stamp: pyproject.toml
	rm -rf $(MUTATION_VENV)
	$(PYTHON) -m venv $(MUTATION_VENV)
	$(MUTATION_VENV)/bin/pip install -q --upgrade pip
	$(MUTATION_VENV)/bin/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > $(MUTATION_VENV)/requirements.txt
	$(MUTATION_VENV)/bin/pip install -q -r $(MUTATION_VENV)/requirements.txt mutmut==$(MUTMUT_VERSION)
	touch $@

mutation: $(MUTATION_VENV)/.stamp
	$(MUTATION_VENV)/bin/python tools/zlb_health_tools/mutation.py --max-children $(MUTATION_JOBS) \
		--min-score $(MUTATION_MIN) $(MUTATE)

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(LAMBDA_VENV) $(MUTATION_VENV) build/mutation .aws-sam .pytest_cache .mypy_cache .ruff_cache
