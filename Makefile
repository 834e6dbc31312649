# brainscan — the README's two commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ../shared/datasets/brain-tumor-mri
HOST ?= 127.0.0.1:8000
# Everything except the tests that need MySQL + Redis + a worker (those run in .ci/run).
PYTEST_MARKERS ?= not integration

.PHONY: run install install-dev system-deps migrate dev test test-services lint typecheck check \
        audit train evaluate evaluate-transfer bench bench-ml bench-history bench-stack bench-study bench-pacs test-browser worker clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when a requirements file changed.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

system-deps:
	@scripts/system-deps.sh

install: system-deps $(VENV)/.installed

install-dev: system-deps $(VENV)/.installed-dev
	@scripts/system-deps.sh browser
	@scripts/system-deps.sh dicom

migrate: install
	$(BIN)/python manage.py migrate --noinput

## Command 1: install everything and start the app on the embedded default (SQLite, in-process tasks).
run: migrate
	@echo "brainscan runs at http://$(HOST)/ — create an approved account with:"
	@echo "  $(BIN)/python manage.py createclinician --email you@example.org --password '<a long password>'"
	$(BIN)/python manage.py runserver $(HOST)

dev: run

## Command 2: install everything and run the whole test suite (lint, types, checks, unit, ML, browser tests).
test: install-dev lint typecheck check
	$(BIN)/pytest -m "$(PYTEST_MARKERS)" $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests"; fi; exit $$status

# The same suite plus the integration tests, against MySQL/MariaDB + Redis (see .ci/run).
test-services:
	$(MAKE) test PYTEST_MARKERS="" PYTEST_ARGS="$(PYTEST_ARGS)"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Types: the apps with django-stubs, ml/ at --strict's level (pyproject.toml [tool.mypy]).
typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

check: $(VENV)/.installed-dev
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

worker: install
	$(BIN)/celery -A brainscan worker --loglevel=INFO --concurrency=1 --prefetch-multiplier=1

audit: install
	$(BIN)/python -m ml.cli.audit $(DATA)

# Training replaces the model, so the input gate's statistics are fitted again for it
# (Engine.load refuses a gate.npz fitted for another model).
train: install
	$(BIN)/python -m ml.cli.train --data $(DATA) --out ml/artifacts
	$(BIN)/python -m ml.cli.gate fit --model ml/artifacts/brainscan.keras --data $(DATA)
	$(BIN)/python -m ml.cli.gate evaluate --model ml/artifacts/brainscan.keras --data $(DATA)

# The official test split with figures and the card's test metrics, then every source apart
# (Kaggle test, leak-free, IXI test people, BraTS/TCGA), robustness and Grad-CAM scores, the
# input gate (ml/reports/GATE.md) and the study rule (ml/reports/STUDY-RULE.md).
evaluate: install
	$(BIN)/python -m ml.cli.evaluate --model ml/artifacts/brainscan.keras --data $(DATA)
	$(BIN)/python -m ml.cli.evaluate_sources --model ml/artifacts/brainscan.keras --data $(DATA) --update-card
	$(BIN)/python -m ml.cli.gate evaluate --model ml/artifacts/brainscan.keras --data $(DATA)
	$(BIN)/python -m ml.cli.study_rule --model ml/artifacts/brainscan.keras --data $(DATA) --update-card

# Leave one source out (the honest estimate for a new hospital): the shipped recipe trained
# without IXI (var/transfer/ixi, never shipped), its own gate, evaluated on every IXI person;
# the result goes into the shipped card's transfer_estimate. About 60 minutes on 2 cores.
TRANSFER := var/transfer/ixi
evaluate-transfer: install
	$(BIN)/python -m ml.cli.train --data $(DATA) --out $(TRANSFER) --exclude-source ixi
	$(BIN)/python -m ml.cli.gate fit --model $(TRANSFER)/brainscan.keras --data $(DATA)
	$(BIN)/python -m ml.cli.evaluate_sources --model $(TRANSFER)/brainscan.keras --data $(DATA) \
	  --ixi-people all --robustness-per-source 0 --out $(TRANSFER)
	$(BIN)/python -m ml.cli.transfer --left-out ixi --report $(TRANSFER)/sources.json

bench-ml: install
	$(BIN)/python -m ml.cli.bench --data $(DATA)

test-browser: install-dev
	$(BIN)/pytest -m browser tests/browser

bench-stack: install-dev
	bench/run.sh

bench-history: install-dev
	$(BIN)/python -m bench.history --rows 100000

# A 176-slice sagittal 3-D series: end of upload -> study summary, batched vs single-slice
# analysis, web-process RSS during a 100 MB upload (embedded profile, throwaway SQLite).
bench-study: install-dev
	$(BIN)/python -m bench.study --data $(DATA)

# Orthanc (Debian package `orthanc`) pushes the same 176-slice series to the DICOM listener:
# last instance received -> SR stored back in Orthanc (embedded profile, throwaway SQLite).
bench-pacs: install-dev
	@command -v Orthanc >/dev/null || { echo "bench-pacs needs Orthanc: apt-get install orthanc" >&2; exit 1; }
	$(BIN)/python -m bench.pacs --data $(DATA)

clean:
	rm -rf $(VENV) var staticfiles test-artifacts .pytest_cache .ruff_cache

# Every benchmark; numbers are quoted in the README with date and machine.
bench: bench-ml bench-stack
