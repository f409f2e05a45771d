# svtools: one interface for set-up, data, reports and tests. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
JOBS ?= $(shell nproc)
LAB_ARGS ?=
# pip without its wall of text: errors still show (and fail the target)
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check --progress-bar off --no-input

.PHONY: help env test-env demo data reports real-data real-reports london-data report publish test test-fast lab bench browser-audit attack clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/svtools: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found (svtools needs Python 3.11)"; exit 1; }
	@echo "make: installing svtools and its pinned packages into $(VENV) (a few minutes the first time)"
	@$(PYTHON) -m venv $(VENV)
	@$(PIP_INSTALL) --upgrade pip
	@$(PIP_INSTALL) -e .
	@log=$$(mktemp); $(BIN)/python -m ipykernel install --sys-prefix --name svtools \
	  --display-name "Python (svtools)" >$$log 2>&1 || { cat $$log; rm -f $$log; exit 1; }; rm -f $$log
	@echo "make: $(VENV) ready (Jupyter kernel \"Python (svtools)\")"
	@touch $@

env: $(BIN)/svtools ## create .venv with the pinned packages and the `svtools` Jupyter kernel

$(VENV)/.test-deps: $(BIN)/svtools
	@echo "make: installing the test tools into $(VENV)"
	@$(PIP_INSTALL) -e '.[test]'
	@# axe-core for the real-browser test (tests/test_browser.py), pinned by tests/browser/package-lock.json;
	@# without npm (or chromium) that test is skipped with the install commands, except under CI
	@if command -v npm >/dev/null 2>&1; then echo "make: installing axe-core (npm ci --prefix tests/browser)"; \
	  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error; fi
	@touch $@

test-env: $(VENV)/.test-deps ## env plus the test tools

data/raw/demo/truth.json: | env
	$(BIN)/svtools demo-data

data/processed/demo/dataset.json: data/raw/demo/truth.json
	$(BIN)/svtools ingest

data: data/processed/demo/dataset.json ## generate the synthetic demo extract and ingest it into data/processed

reports: data ## build every CSP profile from the demo data into outputs/ (prints the index path)
	$(BIN)/svtools build --jobs $(JOBS)
	@echo "make reports: outputs/latest and outputs/latest-demo hold these pages; svtools publish --zip FILE gives partners theirs"

demo: reports ## THE MAIN JOB: install, generate and validate the demo data, build all profiles

real-data: env ## ingest the real data.police.uk files shipped in ../shared/data/real
	$(BIN)/svtools ingest --police-uk

real-reports: real-data ## build the real-data profiles (crime types, hotspots, deprivation)
	$(BIN)/svtools build --dataset police_uk --jobs $(JOBS)
	@echo "make real-reports: outputs/latest and outputs/latest-police_uk hold these pages; the demo pages stay in outputs/latest-demo"

london-data: env ## ingest the real Metropolitan Police borough counts (32 London CSPs, 2010-2023; kind: counts)
	$(BIN)/svtools ingest --dataset london_mps --extract ../shared/data/real/london_mps --mapping london_mps

# the national SYNTHETIC demo (docs/national_demo.md): its own data and outputs folders (ignored by git), so the
# 9-force demo in data/raw/demo, data/processed/demo and outputs/ is left alone
NATIONAL_SCALE ?= 0.1
NATIONAL_DATA ?= data/raw/national
NATIONAL_OUT ?= outputs/national
.PHONY: national
national: env ## every territorial force of England and Wales (43 forces, 314 CSPs) at NATIONAL_SCALE=0.1: generate, ingest, build into outputs/national
	SVTOOLS_DATA=$(NATIONAL_DATA) $(BIN)/svtools demo-data --forces all --scale $(NATIONAL_SCALE)
	SVTOOLS_DATA=$(NATIONAL_DATA) $(BIN)/svtools ingest
	SVTOOLS_DATA=$(NATIONAL_DATA) SVTOOLS_OUTPUTS=$(NATIONAL_OUT) $(BIN)/svtools build --jobs $(JOBS)

report: data ## one CSP's profiles: make report CSP=E22000027 (a partial run: outputs/latest is left alone)
	@test -n "$(CSP)" || { echo "make report: give a CSP code, e.g. make report CSP=E22000027"; exit 1; }
	$(BIN)/svtools build --csp $(CSP) --jobs $(JOBS)
	@echo "make report: the pages of $(CSP) are in the run folder printed above; outputs/latest still holds the latest full run"

publish: env ## the bundle a partner may get from a run: make publish [RUN=latest] ZIP=profiles.zip (or TO=folder)
	@test -n "$(ZIP)$(TO)" || { echo "make publish: give ZIP=file.zip or TO=folder"; exit 1; }
	$(BIN)/svtools publish $(or $(RUN),latest) $(if $(ZIP),--zip $(ZIP),--to $(TO))

test: test-env ## install what the tests need and run them (what CI runs)
	$(BIN)/python -m pytest -n 2 --dist loadfile; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test-fast: test-env ## the tests without the slow notebook runs
	$(BIN)/python -m pytest -m "not slow" -n 2

lab: env ## open JupyterLab on notebooks/ with the svtools kernel
	@# Jupyter refuses to start as root unless told; containers often run as root, so the flag is passed only then
	@if [ "$$(id -u)" = 0 ]; then echo "make lab: running as root (a container?): passing --allow-root to Jupyter"; \
	  $(BIN)/jupyter lab --allow-root $(LAB_ARGS) notebooks/; else $(BIN)/jupyter lab $(LAB_ARGS) notebooks/; fi

bench: data ## speed and memory benchmarks (prints figures)
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_build.py

browser-audit: test-env ## every page of outputs/latest in headless Chromium at 390 and 1280 px (axe, requests, scroll, links)
	$(BIN)/python benchmarks/browser_audit.py $(or $(RUN),outputs/latest)

attack: env ## attack the latest run from its published files (hidden cells recovered: should be 0)
	$(BIN)/python benchmarks/attack.py outputs/latest

clean: ## remove generated data and outputs, published and analysts' (keeps .venv)
	rm -rf data/raw/demo data/processed/demo data/processed/police_uk outputs/[0-9]* outputs/latest outputs/latest-* outputs/.cache outputs/_analyst
	rm -rf data/raw/national outputs/national data/processed/.cache
