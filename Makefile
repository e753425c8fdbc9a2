# zlb-health developer commands. `make test` is exactly what CI runs (.ci/run calls it).
# Needs only python3 (3.11+), make and git; every tool comes from the locks in requirements/.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# make run's own venv: the package with its `local` extra only, so the first run installs little.
RUN_VENV := .venv-run
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
# Stand-in for the Lambda python3.13 runtime (tests/integration/test_built_artifact.py runs the
# built artifact with it): python3.13 with boto3 and nothing else, as the runtime provides.
LAMBDA_VENV := .venv-lambda313
UV_VENV := .venv-uv
UV := $(UV_VENV)/bin/uv
# Trust the machine's certificate store, as pip does with its configuration here (a TLS proxy's
# CA, a company's): uv's own bundled roots know only the public CAs.
export UV_SYSTEM_CERTS := 1

# PY313: a python3.13 from PATH or pyenv, or empty (src/python313.mk). sam build's make of
# src/Makefile inherits it. Without one, the bundle is built without its bytecode and the
# checks that need 3.13 are skipped, loudly; REQUIRE_PY313=1 (the default where CI=true) makes
# that an error instead, so CI never passes on the short path by accident.
include src/python313.mk
export PY313
REQUIRE_PY313 ?= $(CI)

LINT_PATHS := src tools tests bench
# mutmut in a venv of its own (the test dependencies from pyproject.toml, not the project itself:
# the mutated copy must be the only zlb_health on sys.path).
MUTATION_VENV := .venv-mutation
MUTMUT_VERSION := 3.8.1

.PHONY: help venv run-venv lambda-venv lint typecheck audit template-check build pytest test \
	unit format run lock bench mutation print-python313 require-python313 report-skipped clean

help:
	@echo "make run     - the monitor end to end locally (emulator + local AWS), no account needed"
	@echo "make test    - lint, types, security audit, template checks, sam build, all tests (CI)"
	@echo "make unit    - the unit tests only (seconds, no servers)"
	@echo "make format  - ruff format + ruff check --fix"
	@echo "make build   - sam build (the Lambda bundle in .aws-sam/build)"
	@echo "make lock    - re-resolve the locks in requirements/ (UPGRADE=--upgrade to move versions)"
	@echo "make bench   - benchmarks; writes docs/benchmarks.md"
	@echo "make mutation [MUTATE=paths] - mutation testing with the unit tests; docs/mutation.md"
	@echo "python3.13 for the bundle's bytecode: $(if $(PY313),$(PY313),NONE FOUND (see README, Deployment))"

# -- virtual environments: each installed by uv from its lock, every file hash-checked, and
# rebuilt from scratch when the lock changes (so nothing the lock dropped lingers).

# $(call new-venv,DIR): a fresh venv from $(PYTHON), refusing a Python older than 3.11.
define new-venv
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "make: '$(PYTHON)' is not Python 3.11 or newer; run make PYTHON=python3.12 (or any 3.11+)" >&2; \
		exit 1; }
	@rm -rf $(1)
	@$(PYTHON) -m venv $(1)
endef

# $(call install-lock,DIR,LOCKFILE): installs a hash-pinned lock into DIR with uv, printing
# uv's summary (resolved, prepared, installed); the full log is DIR/install.log, shown on failure.
define install-lock
	@set -o pipefail; $(UV) pip install --python $(1)/bin/python --require-hashes -r $(2) 2>&1 \
		| tee $(1)/install.log | { grep -E '^(Resolved|Prepared|Installed|Audited) ' || true; } \
		| sed 's/^/  /' \
		|| { cat $(1)/install.log >&2; echo "make: installing $(2) into $(1) failed" >&2; exit 1; }
endef

# $(call install-editable,DIR): zlb-health itself, editable, built offline by the locked
# setuptools (in the dev and local locks).
define install-editable
	@$(UV) pip install --quiet --python $(1)/bin/python --no-deps --no-build-isolation -e . \
		>> $(1)/install.log 2>&1 || { cat $(1)/install.log >&2; \
		echo "make: installing zlb-health into $(1) failed" >&2; exit 1; }
endef

# The installer (and lock tool) itself, bootstrapped with the venv's pip, hash-checked.
$(UV_VENV)/.stamp: requirements/uv.txt
	@echo "make: creating $(UV_VENV) (uv, the installer: requirements/uv.txt)"
	$(call new-venv,$(UV_VENV))
	@$(UV_VENV)/bin/pip install -q --require-hashes -r requirements/uv.txt > $(UV_VENV)/install.log 2>&1 \
		|| { cat $(UV_VENV)/install.log >&2; echo "make: installing uv failed" >&2; exit 1; }
	@touch $@

$(BIN)/.stamp: $(UV_VENV)/.stamp requirements/dev.txt pyproject.toml
	@echo "make: creating $(VENV) (the package + its dev extra: requirements/dev.txt)"
	$(call new-venv,$(VENV))
	$(call install-lock,$(VENV),requirements/dev.txt)
	$(call install-editable,$(VENV))
	@touch $@

$(RUN_VENV)/.stamp: requirements/uv.txt requirements/local.txt pyproject.toml
	@echo "make run: first run: setting up $(RUN_VENV) with only what the demo needs"
	@echo "make run: [1/3] the installer (uv: requirements/uv.txt)"
	@$(MAKE) --no-print-directory -s $(UV_VENV)/.stamp
	@echo "make run: [2/3] the package + its local extra (requirements/local.txt)"
	$(call new-venv,$(RUN_VENV))
	$(call install-lock,$(RUN_VENV),requirements/local.txt)
	$(call install-editable,$(RUN_VENV))
	@touch $@
	@echo "make run: [3/3] $(RUN_VENV) ready"

$(SAM_VENV)/.stamp: $(UV_VENV)/.stamp requirements/sam.txt
	@echo "make: creating $(SAM_VENV) (SAM CLI, cfn-lint: requirements/sam.txt)"
	$(call new-venv,$(SAM_VENV))
	$(call install-lock,$(SAM_VENV),requirements/sam.txt)
	@touch $@

$(CHECKOV_VENV)/.stamp: $(UV_VENV)/.stamp requirements/checkov.txt
	@echo "make: creating $(CHECKOV_VENV) (checkov: requirements/checkov.txt)"
	$(call new-venv,$(CHECKOV_VENV))
	$(call install-lock,$(CHECKOV_VENV),requirements/checkov.txt)
	@touch $@

# boto3 at the version the dev env is tested with (requirements/lambda313.txt is compiled
# against requirements/dev.txt); the runtime's own boto3 is not a published, fixed version.
$(LAMBDA_VENV)/.stamp: $(UV_VENV)/.stamp requirements/lambda313.txt
	@echo "make: creating $(LAMBDA_VENV) ($(PY313) with boto3 only: requirements/lambda313.txt)"
	@rm -rf $(LAMBDA_VENV)
	@$(PY313) -m venv $(LAMBDA_VENV)
	$(call install-lock,$(LAMBDA_VENV),requirements/lambda313.txt)
	@touch $@

venv: $(BIN)/.stamp

run-venv: $(RUN_VENV)/.stamp

ifeq ($(PY313),)
lambda-venv:
	@echo "make: SKIPPED $(LAMBDA_VENV): no python3.13 (not on PATH, none in pyenv)"
else
lambda-venv: $(LAMBDA_VENV)/.stamp
endif

# -- checks

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: venv
	$(BIN)/mypy

audit: venv $(CHECKOV_VENV)/.stamp
	$(BIN)/bandit -q -c pyproject.toml -r src tools
	@# --skip-download: the checks are local; fetching Prisma Cloud's guideline mappings needs
	@# a network CI does not have, and its failure printed a traceback on every run.
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download -f template.yaml \
		--framework cloudformation

template-check: $(SAM_VENV)/.stamp
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml
	$(SAM_VENV)/bin/cfn-lint template.yaml

# --no-cached: whether the bundle has its bytecode depends on PY313, which sam's cache key
# does not see; the build takes seconds.
build: $(SAM_VENV)/.stamp
	$(SAM_VENV)/bin/sam build --no-cached --template template.yaml

# What make test could not run, said last so it is not lost in the output above (nothing when
# everything ran). `make report-skipped` prints it alone.
SKIPPED_REPORT = if [ -z "$(PY313)" ]; then \
	echo; \
	echo "=================================================================================="; \
	echo "make: NOT EVERYTHING RAN: no python3.13 on this machine (not on PATH, none in pyenv)"; \
	echo "  SKIPPED: the bundle's bytecode: sam build shipped it WITHOUT precompiled .pyc,"; \
	echo "           so every Lambda cold start compiles it (about +165 ms, docs/benchmarks.md)"; \
	echo "  SKIPPED: $(LAMBDA_VENV) and the Python 3.13 run of the built bundle"; \
	echo "           (tests/integration/test_built_artifact.py: its SKIPPED lines above)"; \
	echo "  To run them: install Python 3.13 (e.g. pyenv install 3.13), then make test again."; \
	echo "=================================================================================="; \
	fi

report-skipped:
	@$(SKIPPED_REPORT)

require-python313:
	@if [ -z "$(PY313)" ] && [ "$(REQUIRE_PY313)" = true -o "$(REQUIRE_PY313)" = 1 ]; then \
		echo "make: no python3.13 (not on PATH, none in pyenv), and REQUIRE_PY313=$(REQUIRE_PY313)" \
			"(CI=$(CI)): the full check needs it here. REQUIRE_PY313= runs the rest." >&2; \
		exit 1; \
	fi

# build + lambda-venv: the built artifact is tested under python3.13 (test_built_artifact.py).
pytest: venv build lambda-venv
	@$(BIN)/pytest; status=$$?; $(SKIPPED_REPORT); exit $$status

test: require-python313 lint typecheck audit template-check build pytest

unit: venv
	$(BIN)/pytest -q tests/unit

format: venv
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)

run: run-venv
	@echo "make run: zlb-health demo"
	@$(RUN_VENV)/bin/zlb-health demo

print-python313:
	@echo "$(PY313)"

# -- locks (README, "Dependencies"). Existing pins are kept unless UPGRADE says otherwise:
# make lock UPGRADE=--upgrade (everything) or UPGRADE="--upgrade-package boto3".
UPGRADE ?=
UV_COMPILE = $(UV) pip compile --quiet --generate-hashes --custom-compile-command "make lock" \
	$(UPGRADE)
# One lock for every platform and Python the project supports.
UNIVERSAL = --universal --python-version 3.11

lock: $(UV_VENV)/.stamp
	$(UV_COMPILE) --python-version 3.13 --python-platform aarch64-manylinux2014 \
		--only-binary :all: src/requirements.in -o src/requirements.txt
	$(UV_COMPILE) $(UNIVERSAL) pyproject.toml requirements/build.in --extra dev \
		-c src/requirements.txt -o requirements/dev.txt
	$(UV_COMPILE) $(UNIVERSAL) pyproject.toml requirements/build.in --extra local \
		-c requirements/dev.txt -o requirements/local.txt
	$(UV_COMPILE) --universal --python-version 3.13 requirements/lambda313.in \
		-c requirements/dev.txt -o requirements/lambda313.txt
	$(UV_COMPILE) $(UNIVERSAL) requirements/sam.in -o requirements/sam.txt
	$(UV_COMPILE) $(UNIVERSAL) requirements/checkov.in -o requirements/checkov.txt
	$(UV_COMPILE) $(UNIVERSAL) requirements/uv.in -o requirements/uv.txt

# Benchmarks (docs/benchmarks.md). The function process runs the sam build bundle on
# .venv-lambda313's python3.13 (as Lambda would), so `build` and `lambda-venv` first. Waits up
# to BENCH_WAIT seconds for a quiet machine (1-min load < 1.5), then runs anyway (the load
# average is recorded). Subsets: make bench BENCH_ARGS="--only a,cold,mem".
BENCH_WAIT ?= 300
BENCH_ARGS ?=
bench: venv build lambda-venv
	@if [ -z "$(PY313)" ]; then echo "make bench: needs python3.13 (the Lambda runtime's)" >&2; exit 1; fi
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
	$(MUTATION_VENV)/bin/python tools/zlb_health_tools/mutation.py --requirements > $(MUTATION_VENV)/requirements.txt
	$(MUTATION_VENV)/bin/pip install -q -r $(MUTATION_VENV)/requirements.txt mutmut==$(MUTMUT_VERSION)
	touch $@

mutation: $(MUTATION_VENV)/.stamp
	$(MUTATION_VENV)/bin/python tools/zlb_health_tools/mutation.py --max-children $(MUTATION_JOBS) \
		--min-score $(MUTATION_MIN) $(MUTATE)

clean:
	rm -rf $(VENV) $(RUN_VENV) $(SAM_VENV) $(CHECKOV_VENV) $(LAMBDA_VENV) $(UV_VENV) \
		$(MUTATION_VENV) build/mutation .aws-sam .pytest_cache .mypy_cache .ruff_cache
