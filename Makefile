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

.PHONY: help venv run-venv sam-venv iam-policies lint typecheck pytest unit integration validate build test run demo bench invoke sync-senders portal-carrier clean sam-local-setup sam-check sam-invoke

help:
	@echo "make run            serve every route of template.yaml on 127.0.0.1:\$$PORT (default 3000)"
	@echo "make demo           local stack + portal emulator: install, send three SMS, print their timelines"
	@echo "                    KEEP=1: keep it running and print the URL of the application's page"
	@echo "make invoke         EVENT=events/<file>.json [FUNCTION=<LogicalId>]: run one function on an event"
	@echo "make sync-senders   run SyncSendersFunction once (make invoke on events/sync_senders.json)"
	@echo "make sam-local-setup Docker, its daemon, the Lambda base image, the SAM CLI (idempotent; as root)"
	@echo "make sam-invoke     EVENT=events/<file>.json [FUNCTION=...]: make invoke, in the function's container"
	@echo "make sam-check      say whether sam local can run here (one line)"
	@echo "make run LAMBDA_MODE=sam, make demo LAMBDA_MODE=sam: every function call in its Lambda container"
	@echo "make portal-carrier ARGS=...: give a portal its own carrier (python -m tools.portal_carrier -h)"
	@echo "make bench          figures for sizing a deployment (under 10 min); docs/benchmarks.md"
	@echo "make test           set up, then ruff, mypy, import contracts, pytest, sam validate --lint, cfn-lint, checkov, sam build"
	@echo "make lint           ruff check, ruff format --check, and the layer's import contracts (lint-imports)"
	@echo "make typecheck      mypy (strict)"
	@echo "make pytest         every test (tests/unit and tests/integration)"
	@echo "make unit           tests/unit"
	@echo "make integration    tests/integration"
	@echo "make iam-policies   local/iam/policies.json from template.yaml (SAM's translator): what the local stack enforces"
	@echo "make validate       sam validate --lint, cfn-lint and checkov on template.yaml"
	@echo "make build          sam build (needs python3.13, the Lambda runtime)"
	@echo "make run-venv       .venv with what running needs (requirements-run.txt); run/demo/invoke/bench do it"
	@echo "make venv           .venv with everything for development (requirements-dev.txt); test does it"
	@echo "make sam-venv       .venv-sam with the SAM CLI and cfn-lint"
	@echo "make clean          remove build and tool caches"
	@echo "make help           this list"

# Two stamps in one .venv: running needs a small set (first `make run`: ~15 s, ~155 MB); development
# installs a superset (linters, type checker, carrier SDKs, moto's every extra).
$(VENV)/.run-installed: requirements-run.txt layers/common/requirements.txt
	@start=$$SECONDS; \
	if [ ! -x $(PY) ]; then echo "first start: creating $(VENV) with what running needs (requirements-run.txt; about 15 s and 155 MB on a fresh machine)"; fi; \
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

venv: $(VENV)/.installed
run-venv: $(VENV)/.run-installed
sam-venv: $(SAM_VENV)/.installed

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PYTHONPATH=layers/common $(VENV)/bin/lint-imports --no-logo

typecheck: venv
	$(VENV)/bin/mypy .

pytest: venv
	$(VENV)/bin/pytest

unit: venv
	$(VENV)/bin/pytest tests/unit

integration: venv
	$(VENV)/bin/pytest tests/integration

# checkov (the IaC security scan) pins many packages: its own virtualenv. Skipped checks: .checkov.yaml.
CHECKOV_VENV := .venv-checkov

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q -r requirements-checkov.txt
	touch $@

# Each function's deployed permissions, which the local stack enforces: regenerate after changing a
# function's Policies or events (tests/unit/test_iam_policies.py fails while the file is stale).
iam-policies: sam-venv
	$(SAM_VENV)/bin/python -m local.iam.gen

validate: sam-venv $(CHECKOV_VENV)/.installed
	$(SAM) validate --lint
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

build: sam-venv
	@if [ -n "$(PY313)" ] || command -v python3.13 >/dev/null 2>&1; then \
		$(SAM_BUILD_ENV) $(SAM) build; \
	else \
		echo "sam build skipped: no python3.13 on this machine (the Lambda runtime)"; \
	fi

test: lint typecheck pytest validate build

# LAMBDA_MODE=sam: every function call goes to `sam local start-lambda` (a Lambda container each).
LAMBDA_MODE ?=
export LAMBDA_MODE

run: run-venv
	$(PY) -m local.run

demo: run-venv
	$(PY) -m local.demo $(if $(KEEP),--keep,)

bench: run-venv
	$(PY) -m bench.run

invoke: run-venv
	@test -n "$(EVENT)" || { echo "make invoke needs EVENT=events/<file>.json (and FUNCTION=<LogicalId> for a file of your own)" >&2; exit 2; }
	$(PY) -m local.invoke $(FUNCTION) $(EVENT)

sync-senders: run-venv
	$(PY) -m local.invoke SyncSendersFunction events/sync_senders.json

# sam local (Docker): one command sets it all up, as root on a fresh Debian machine; safe to rerun.
sam-local-setup:
	tools/sam_local_setup.sh

sam-check: run-venv
	@$(PY) -m local.sam check

sam-invoke: run-venv sam-venv
	@test -n "$(EVENT)" || { echo "make sam-invoke needs EVENT=events/<file>.json (and FUNCTION=<LogicalId> for a file of your own)" >&2; exit 2; }
	$(PY) -m local.sam invoke $(FUNCTION) $(EVENT)

# ARGS="--stack b24sms-prod --member-id <id> --carrier twilio --sender +1... --credentials b24sms/prod/acme-twilio"
portal-carrier: run-venv
	$(PY) -m tools.portal_carrier $(ARGS)

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .sam-local/env-*.json
