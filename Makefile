# Every target installs what it needs into the project itself (.venv, node_modules).
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
# Node 22 from the npm registry (package "node") comes first: the system Node may be older.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
# No test or synth ever talks to real AWS.
export AWS_ACCESS_KEY_ID ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
export AWS_DEFAULT_REGION ?= us-east-1
export AWS_EC2_METADATA_DISABLED := true
export CDK_DISABLE_VERSION_CHECK := true

.PHONY: install synth local test lint bench scan package-check clean

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## synth: synthesize the example app into cdk.out/ and summarize it
synth: install
	rm -rf cdk.out
	cdk synth --quiet
	$(PYTHON) -m constructs_lib.summary cdk.out

## local: cdk bootstrap/deploy/destroy of the example app against moto on loopback (no AWS account)
local: install
	env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL $(PYTHON) -m tools.local_aws demo

## lint: ruff and mypy
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy constructs_lib lambda/training_job app.py tools tests benchmarks

## test: lint, then the whole test suite (xdist on both cores)
test: lint
	$(VENV)/bin/pytest -n 2 --dist loadfile

## scan: checkov and cfripper over every tested stack's template; only findings the README lists may remain
# The scanners get a virtualenv of their own: their pins would downgrade the project's botocore.
.venv-scan/.installed:
	test -x .venv-scan/bin/python || python3 -m venv .venv-scan
	.venv-scan/bin/python -m pip install --quiet --disable-pip-version-check 'checkov==3.3.30' 'cfripper==1.22.1'
	touch $@

scan: install .venv-scan/.installed
	$(PYTHON) -m tools.scan

## package-check: build the wheel and sdist, install the wheel outside the repo (oldest aws-cdk-lib allowed), synth an app, mypy --strict it
package-check: install
	$(PYTHON) -m tools.package_check

## bench: resources, template bytes and synth time per job vs. the alternatives (benchmarks/RESULTS.md)
bench: install
	$(PYTHON) -m benchmarks.run

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache .venv-scan
