# b24sms: make run | make test | make demo | make bench
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

# `sam build` needs python3.13 (the Lambda runtime) on PATH. With pyenv, put 3.13 next to the default.
PY313 := $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.13' | tail -n1)
SAM_BUILD_ENV := $(if $(PY313),PYENV_VERSION=$(shell pyenv version-name 2>/dev/null):$(PY313),)

.PHONY: help venv run-venv sam-venv iam-policies lint typecheck pytest unit integration browser browser-setup container validate build test run demo bench bench-fleet bench-fleet-local invoke sync-senders portal-carrier clean sam-local-setup sam-check sam-invoke

help: ## this list: the `## text` after each target of this Makefile (`##  text` lines continue it)
	@awk '/^[A-Za-z][A-Za-z0-9_-]*:[^=#]*## / { name = $$1; sub(/:.*/, "", name); text = $$0; sub(/^[^#]*## /, "", text); \
		printf "make %-17s %s\n", name, text } /^##  / { print "                      " substr($$0, 5) }' $(firstword $(MAKEFILE_LIST))

# Two stamps in one .venv: running needs a small set (first `make run`: ~45 s, ~160 MB); development
# installs a superset (linters, type checker, carrier SDKs, moto's every extra).
$(VENV)/.run-installed: requirements-run.txt layers/common/requirements.txt
	@start=$$SECONDS; \
	if [ ! -x $(PY) ]; then echo "first start: creating $(VENV) with what running needs (requirements-run.txt; about 45 s and 160 MB on a fresh machine)"; fi; \
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || exit 1; \
	$(PY) -m pip install --disable-pip-version-check -r requirements-run.txt || exit 1; \
	echo "set-up took $$((SECONDS - start)) s; later starts skip it"
	@touch $@

$(VENV)/.installed: requirements-dev.txt requirements-run.txt layers/common/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.run-installed

$(SAM_VENV)/.installed: requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q -r requirements-sam.txt
	touch $@

venv: $(VENV)/.installed ## `.venv` with everything for development (requirements-dev.txt); test does it
run-venv: $(VENV)/.run-installed ## `.venv` with what running needs (requirements-run.txt); run/demo/invoke/bench do it
sam-venv: $(SAM_VENV)/.installed ## `.venv-sam` with the SAM CLI and cfn-lint

lint: venv ## ruff check, ruff format --check, and the layer's import contracts (lint-imports)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PYTHONPATH=layers/common $(VENV)/bin/lint-imports --no-logo

typecheck: venv ## mypy (strict)
	$(VENV)/bin/mypy .

pytest: venv sam-venv browser-setup ## every tier under tests/: unit, integration, browser (needs chromium), container (needs Docker); a tier that cannot run skips and is named at the end
	$(VENV)/bin/pytest

unit: venv ## tests/unit: the use cases on in-memory stand-ins (local/memory/), no server (about 20 s of CPU)
	$(VENV)/bin/pytest tests/unit

integration: venv ## tests/integration (the local stack: moto's server, every function, the portal emulator)
	$(VENV)/bin/pytest tests/integration

browser: venv browser-setup ## tests/browser (Playwright on Debian's chromium, or CHROMIUM_PATH)
	$(VENV)/bin/pytest tests/browser

container: venv sam-venv ## tests/container (sam local: run `make sam-local-setup` first, as root)
	$(VENV)/bin/pytest tests/container

browser-setup: ## Debian's chromium for tests/browser, when missing (as root or with sudo; idempotent; pytest does it)
	@tools/browser_setup.sh

# checkov (the IaC security scan) pins many packages: its own virtualenv. Skipped checks: .checkov.yaml.
CHECKOV_VENV := .venv-checkov

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q -r requirements-checkov.txt
	touch $@

# Each function's deployed permissions, which the local stack enforces: regenerate after changing a
# function's Policies or events (tests/unit/test_iam_policies.py fails while the file is stale).
iam-policies: sam-venv ## local/iam/policies.json from template.yaml (SAM's translator): what the local stack enforces
	$(SAM_VENV)/bin/python -m local.iam.gen

validate: sam-venv $(CHECKOV_VENV)/.installed ## sam validate --lint, cfn-lint and checkov on template.yaml
	$(SAM) validate --lint
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

build: sam-venv ## sam build (needs python3.13, the Lambda runtime)
	@if [ -n "$(PY313)" ] || command -v python3.13 >/dev/null 2>&1; then \
		$(SAM_BUILD_ENV) $(SAM) build; \
	else \
		echo "sam build skipped: no python3.13 on this machine (the Lambda runtime)"; \
	fi

test: lint typecheck pytest validate build ## set up, then lint, typecheck, pytest (every tier), validate, build; names the tiers that did not run
	@if [ -s .pytest_cache/tiers-not-run.txt ]; then echo; echo "make test: green, but not every tier ran:"; cat .pytest_cache/tiers-not-run.txt; fi

# LAMBDA_MODE=sam: every function call goes to `sam local start-lambda` (a Lambda container each).
LAMBDA_MODE ?=
export LAMBDA_MODE

run: run-venv ## serve every route of template.yaml on 127.0.0.1:$PORT (default 3000); LAMBDA_MODE=sam: each call in its Lambda container
	$(PY) -m local.run

demo: run-venv ## local stack + portal emulator: install, send four SMS (one through the fallback carrier), print their timelines; a lost callback reconciled; an SMS held by quiet hours; a low delivery rate notified
##  KEEP=1: keep it running and print the URL of the application's page
##  LAMBDA_MODE=sam: every function call in its Lambda container
	$(PY) -m local.demo $(if $(KEEP),--keep,)

bench: run-venv ## figures for sizing a deployment (under 10 min); docs/benchmarks.md
	$(PY) -m bench.run

bench-fleet: run-venv ## 10,000 portals by simulation, a few minutes (PORTALS=500 for fewer); docs/benchmarks.md
	$(PY) -m bench.fleet_sim $(if $(PORTALS),--portals $(PORTALS),)

bench-fleet-local: run-venv ## make bench with its fleet section at 100 portals on the local stack (about 12 minutes)
	BENCH_FLEET=$${BENCH_FLEET:-100} BENCH_BUDGET=$${BENCH_BUDGET:-1500} $(PY) -m bench.run

invoke: run-venv ## EVENT=events/<file>.json [FUNCTION=<LogicalId>]: run one function on an event
	@test -n "$(EVENT)" || { echo "make invoke needs EVENT=events/<file>.json (and FUNCTION=<LogicalId> for a file of your own)" >&2; exit 2; }
	$(PY) -m local.invoke $(FUNCTION) $(EVENT)

sync-senders: run-venv ## run SyncSendersFunction once, then SyncPortalFunction on what it queued (events/sync_senders.json)
	$(PY) -m local.invoke SyncSendersFunction events/sync_senders.json

# sam local (Docker): one command sets it all up, as root on a fresh Debian machine; safe to rerun.
sam-local-setup: ## Docker, its daemon, the Lambda base image, the SAM CLI (idempotent; as root)
	tools/sam_local_setup.sh

sam-check: run-venv ## say whether sam local can run here (one line)
	@$(PY) -m local.sam check

sam-invoke: run-venv sam-venv ## EVENT=events/<file>.json [FUNCTION=...]: make invoke, in the function's container
	@test -n "$(EVENT)" || { echo "make sam-invoke needs EVENT=events/<file>.json (and FUNCTION=<LogicalId> for a file of your own)" >&2; exit 2; }
	$(PY) -m local.sam invoke $(FUNCTION) $(EVENT)

# ARGS="--stack b24sms-prod --member-id <id> --carrier twilio --sender +1... --credentials b24sms/prod/acme-twilio"
portal-carrier: run-venv ## ARGS=...: give a portal its own carrier (python -m tools.portal_carrier -h)
	$(PY) -m tools.portal_carrier $(ARGS)

clean: ## remove build and tool caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .sam-local/env-*.json
